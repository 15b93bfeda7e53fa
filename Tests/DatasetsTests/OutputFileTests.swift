import Datasets
import Foundation
import XCTest

/// `OutputFile`, the one rule for the files commands write (issue 28): `embed --out /dev/null` as
/// root replaced the real /dev/null with a regular file (temporary file + rename).
final class OutputFileTests: XCTestCase {
    func folder() throws -> String {
        let path = NSTemporaryDirectory() + "output-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func kind(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : 0
    }

    func testRegularFilesAreReplacedAndDevicesWrittenInPlace() throws {
        let dir = try folder()
        let file = dir + "/a.npy"
        try OutputFile(file, named: true).write(Data("one".utf8))
        try OutputFile(file, named: true).write(Data("two".utf8))
        XCTAssertEqual(FileManager.default.contents(atPath: file), Data("two".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.npy"], "no temporary file left")

        try OutputFile("/dev/null", named: true).write(Data("discarded".utf8))
        XCTAssertEqual(kind("/dev/null"), S_IFCHR, "/dev/null is still the device")
        // A name a command picks itself must be a regular file or nothing: a device there is refused.
        assertDatasetError(.writeFailed, file: "/dev/null", innerPath: "/", contains: "a character device, not a regular file") {
            try OutputFile("/dev/null")
        }
    }

    func testAFIFOIsWrittenWhenReadAndRefusedWhenNobodyReads() throws {
        let fifo = try folder() + "/pipe"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        assertDatasetError(.writeFailed, file: fifo, innerPath: "/", contains: "a FIFO that no process is reading") {
            try OutputFile(fifo, named: true).write(Data("lost".utf8))
        }
        let received = Received()
        let reader = Thread {
            if let handle = FileHandle(forReadingAtPath: fifo) { received.data = handle.readDataToEndOfFile() }
        }
        reader.start()
        let output = try OutputFile(fifo, named: true)
        var written = false
        for _ in 0..<500 where !written {  // until the reader has opened its end
            written = (try? output.write(Data("through the pipe".utf8))) != nil
            if !written { usleep(10_000) }
        }
        XCTAssertTrue(written)
        while !reader.isFinished { usleep(10_000) }
        XCTAssertEqual(String(decoding: received.data, as: UTF8.self), "through the pipe")
        XCTAssertEqual(kind(fifo), S_IFIFO)
    }

    func testLinksAreFollowedOnlyWhereTheUserNamedThem() throws {
        let dir = try folder()
        let target = dir + "/target.json", link = dir + "/link.json"
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        XCTAssertEqual(symlink(target, link), 0)
        try OutputFile(link, named: true).write(Data("new".utf8))
        XCTAssertEqual(kind(link), S_IFLNK, "the link stays")
        XCTAssertEqual(FileManager.default.contents(atPath: target), Data("new".utf8))
        assertDatasetError(.writeFailed, file: link, innerPath: "/", contains: "is a symbolic link") { try OutputFile(link) }
        let dangling = dir + "/dangling"
        XCTAssertEqual(symlink(dir + "/nothing", dangling), 0)
        assertDatasetError(.writeFailed, file: dangling, innerPath: "/", contains: "a symbolic link to nothing") {
            try OutputFile(dangling, named: true)
        }
        assertDatasetError(.writeFailed, file: dir, innerPath: "/", contains: "is a folder") { try OutputFile(dir, named: true) }
    }

    func testAnOutputThatIsAnInputIsRefused() throws {
        let dir = try folder()
        let captions = dir + "/captions.txt", hardLink = dir + "/same.txt", softLink = dir + "/link.txt"
        try Data("a red star\n".utf8).write(to: URL(fileURLWithPath: captions))
        XCTAssertEqual(link(captions, hardLink), 0)
        XCTAssertEqual(symlink(captions, softLink), 0)
        for out in [captions, hardLink, softLink] {
            assertDatasetError(.writeFailed, file: out, innerPath: "/", contains: "is also an input (\(captions))") {
                try OutputFile(out, named: true, inputs: [captions])
            }
        }
        XCTAssertEqual(FileManager.default.contents(atPath: captions), Data("a red star\n".utf8))
        XCTAssertNoThrow(try OutputFile(dir + "/other.npy", named: true, inputs: [captions]))
    }

    /// Readers take regular files only, and at most their limit: a FIFO or /dev/zero named as an
    /// input no longer blocks or fills memory.
    func testInputsAreRegularFilesReadToALimit() throws {
        let dir = try folder()
        XCTAssertNil(InputFile.read("/dev/zero", limit: 16))
        let fifo = dir + "/pipe"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertNil(InputFile.read(fifo, limit: 16))
        let file = dir + "/f"
        try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: file))
        let read = try XCTUnwrap(InputFile.read(file, limit: 10))
        XCTAssertEqual(read.data, Data(repeating: 7, count: 10))
        XCTAssertTrue(read.truncated)
        assertDatasetError(.fileNotFound, file: "/dev/zero", innerPath: "/", contains: "not a regular file") { try Npy.read(path: "/dev/zero") }
    }
}

/// What the FIFO's reader thread read; the test reads it after the thread has finished.
private final class Received: @unchecked Sendable { var data = Data() }
