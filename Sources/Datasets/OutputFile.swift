// The one rule for every file a command writes (embed's .npy, make-dataset's HDF5, reports, an
// evaluation's JSON, PNGs). Writers elsewhere call `write` or `temporary` + `commit`; none renames
// over a path itself.
import Foundation

/// Where an output file goes and how it is written, decided before any work.
///
/// - Nothing or a regular file at the path: written to a temporary file beside it, then renamed
///   over it, so a reader never sees half a file.
/// - A path the user named (`--out`):
///   - a character device or FIFO (`/dev/null`, a pipe) is written directly: renaming over it
///     would replace the device with a regular file;
///   - a symbolic link is followed: its target is written by the rules above and the link stays;
///   - a folder, a socket, a block device or a link to nothing is refused.
/// - A name a command picks itself inside a folder (`generate`'s images, a run folder's files)
///   must be a regular file or nothing: a link or a device found there is refused, never followed.
/// - An output that is one of the command's inputs (the same file, however it is reached) is
///   refused: it would be destroyed before or while it is read.
public struct OutputFile {
    /// The path as the user or the command gave it (for messages).
    public let path: String
    /// The file really written: `path`, or the end of its chain of links.
    let target: String
    /// True for a character device or FIFO: written in place, without a temporary file.
    let isStream: Bool

    /// Checks `path`. `named`: the user typed it, so links are followed and devices written;
    /// otherwise only a regular file or nothing may be there. `inputs`: files the command reads.
    public init(_ path: String, named: Bool = false, inputs: [String] = []) throws {
        self.path = path
        func refuse(_ why: String) -> DatasetError { DatasetError(.writeFailed, file: path, path: "", why) }
        var link = stat()
        guard lstat(path, &link) == 0 else {
            guard errno == ENOENT else { throw refuse("cannot be examined: \(String(cString: strerror(errno)))") }
            (target, isStream) = (path, false)
            return
        }
        var info = link
        var resolved = path
        if Self.kind(link) == S_IFLNK {
            guard named else { throw refuse("is a symbolic link; a command writes only regular files it names itself, never through a link") }
            guard stat(path, &info) == 0, let real = realpath(path, nil) else {
                throw refuse("is a symbolic link to nothing (\(String(cString: strerror(errno)))); name the file itself")
            }
            resolved = String(cString: real)
            free(real)
        }
        switch Self.kind(info) {
        case S_IFREG: isStream = false
        case S_IFCHR, S_IFIFO:
            guard named else { throw refuse("is \(Self.describe(info)), not a regular file; refusing to replace it") }
            isStream = true
        case S_IFDIR: throw refuse("is a folder; expected a file name")
        default: throw refuse("is \(Self.describe(info)), not a regular file; refusing to replace it")
        }
        for input in inputs {
            var other = stat()
            if stat(input, &other) == 0, other.st_dev == info.st_dev, other.st_ino == info.st_ino, !isStream {
                throw refuse("is also an input (\(input)); writing it would destroy what is being read: choose another output")
            }
        }
        target = resolved
    }

    /// Writes `bytes` (Data, [UInt8]) by the rules above.
    public func write<Bytes: ContiguousBytes>(_ bytes: Bytes) throws {
        if isStream { return try stream { descriptor in try Self.writeAll(bytes, to: descriptor, fail: fail) } }
        let temporary = try self.temporary()
        do {
            let descriptor = open(temporary, O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw fail("cannot open the temporary file \(temporary): \(String(cString: strerror(errno)))") }
            defer { close(descriptor) }
            try Self.writeAll(bytes, to: descriptor, fail: fail)
        } catch {
            unlink(temporary)
            throw error
        }
        try commit(temporary)
    }

    /// A new empty file beside the target for a writer that needs a path (libhdf5), created here
    /// (never through a link planted under its name); `commit` puts it in place. Named
    /// `<target>.tmp-<pid>-<random>`, the pattern a run folder's repair removes after a kill.
    public func temporary() throws -> String {
        let base = isStream ? (NSTemporaryDirectory() as NSString).appendingPathComponent("stackgan-output") : target
        let name = "\(base).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let descriptor = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw fail("cannot create the temporary file \(name): \(String(cString: strerror(errno)))") }
        close(descriptor)
        return name
    }

    /// Renames `temporary` over the target, or for a device or FIFO copies it in and removes it.
    public func commit(_ temporary: String) throws {
        defer { if isStream { unlink(temporary) } }
        guard !isStream else {
            guard let data = FileManager.default.contents(atPath: temporary) else { throw fail("cannot read back \(temporary)") }
            return try stream { descriptor in try Self.writeAll(data, to: descriptor, fail: fail) }
        }
        guard rename(temporary, target) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw fail("cannot rename the temporary file into place: \(why)")
        }
    }

    /// Opens the device or FIFO for writing. A FIFO that nobody reads is an error at once instead
    /// of a process that waits for a reader forever.
    private func stream(_ body: (Int32) throws -> Void) throws {
        let descriptor = open(target, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw fail(errno == ENXIO ? "is a FIFO that no process is reading" : "cannot be opened for writing: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        try body(descriptor)
    }

    private func fail(_ why: String) -> DatasetError { DatasetError(.writeFailed, file: path, path: "", why) }

    private static func writeAll<Bytes: ContiguousBytes>(_ bytes: Bytes, to descriptor: Int32, fail: (String) -> DatasetError) throws {
        try bytes.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var done = 0
            while done < buffer.count {
                let n = Foundation.write(descriptor, buffer.baseAddress.map { $0 + done }, buffer.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw fail("cannot write: \(String(cString: strerror(errno)))") }
                done += n
            }
        }
    }

    private static func kind(_ info: stat) -> mode_t { info.st_mode & S_IFMT }

    private static func describe(_ info: stat) -> String {
        switch kind(info) {
        case S_IFCHR: return "a character device"
        case S_IFIFO: return "a FIFO"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "a special file"
        }
    }
}
