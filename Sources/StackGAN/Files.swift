import Foundation

/// Creates the folder `path` (`what`: "output folder", "run folder") and its missing parents, naming
/// the component in the way: a file, one that cannot be created, or a folder that cannot be written
/// (Foundation's messages for these are a bare "NSCocoaErrorDomain error 512/513").
public func makeFolder(_ path: String, what: String) throws {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/") {
        prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: prefix, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw StackGANError(.output, path, "cannot create the \(what): \(prefix) is a file") }
        } else if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
            throw StackGANError(.output, path, "cannot create the \(what) \(prefix): \(String(cString: strerror(errno)))")
        }
    }
    guard access(path, W_OK) == 0 else { throw StackGANError(.output, path, "the \(what) is not writable") }
}

/// Checks before any work that `path` can be written: its folder exists or can be made, and is
/// writable, and an existing file there is writable (an evaluation report, for instance).
public func requireWritable(_ path: String, what: String) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    try makeFolder(folder, what: "folder of the \(what)")
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
        guard !isFolder.boolValue else { throw StackGANError(.output, path, "the \(what) is a folder, expected a file name") }
    }
}

