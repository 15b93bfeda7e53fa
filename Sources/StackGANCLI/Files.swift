import Datasets
import Foundation
import StackGAN

/// A named input that must be an existing file: missing is a usage error (exit 2), like a bad flag.
func requireFile(_ path: String, flag: String) throws {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
        throw StackGANError.usage("\(flag) \(path): no such file")
    }
    guard !isFolder.boolValue else { throw StackGANError.usage("\(flag) \(path): is a folder, expected a file") }
}

/// The output file the user named with `flag`, checked before any work by `OutputFile`'s rules
/// (a device or FIFO is written in place, a link followed, an input refused); its folder is made.
func namedOutput(_ path: String, flag: String, inputs: [String]) throws -> OutputFile {
    // An existing path (a device in /dev, a file) needs no folder made; its own kind is checked below.
    var info = stat()
    if lstat(path, &info) != 0 { try makeFolder(URL(fileURLWithPath: path).deletingLastPathComponent().path, what: "folder of \(flag)") }
    do { return try OutputFile(path, named: true, inputs: inputs) } catch let error as DatasetError {
        throw StackGANError(.output, "\(flag) \(path)", error.message)
    }
}
