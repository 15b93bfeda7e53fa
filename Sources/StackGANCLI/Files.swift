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
