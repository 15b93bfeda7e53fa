import Foundation

/// Reading a file a command was pointed at, for the readers that take whole files (captions,
/// TSVs, .npy, images, report inputs): regular files only, followed through links, and at most
/// `limit` bytes, so a FIFO or a device (/dev/zero) named as an input, or a link to a huge file,
/// costs a bounded amount instead of blocking or filling memory.
public enum InputFile {
    /// At most `limit` bytes and whether the file holds more; nil when it is not a regular file
    /// (after links) or cannot be opened.
    public static func read(_ path: String, limit: Int) -> (data: Data, truncated: Bool)? {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        var info = stat()
        // The opened file is the one examined: no window for a swap between check and read.
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        guard let data = try? handle.read(upToCount: limit + 1) else { return (Data(), false) }
        return data.count > limit ? (data.prefix(limit), true) : (data, false)
    }
}
