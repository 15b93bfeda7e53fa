import Foundation

/// Exclusive ownership of a run folder (train, resume, ablate) for one process: an advisory
/// `flock` on `<folder>/.stackgan.lock`, which holds the owner's pid. A second process asking for
/// the folder gets an error naming that pid instead of interleaving metrics and checkpoints. The
/// kernel drops the lock when the process ends, however it ends (kill -9 included), so a stale
/// lock file never blocks a later run; the file itself is left in place (removing it would race
/// with a process that has just opened it).
public final class RunFolderLock {
    public static let fileName = ".stackgan.lock"
    public let folder: URL
    private let descriptor: Int32

    /// Takes the lock or throws `.training` naming the folder and the holder's pid.
    public init(folder: URL) throws {
        self.folder = folder
        let path = folder.appendingPathComponent(Self.fileName).path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StackGANError(.output, folder.path, "cannot create the lock file \(Self.fileName): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            guard reason == EWOULDBLOCK else {
                throw StackGANError(.output, folder.path, "cannot lock the run folder: \(String(cString: strerror(reason)))")
            }
            let holder = n > 0 ? String(decoding: buffer.prefix(n), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            throw StackGANError(.training, folder.path,
                                "is in use by another stackgan process (pid \(holder.isEmpty ? "?" : holder)); wait for it to end or choose another --out")
        }
        let pid = Array("\(ProcessInfo.processInfo.processIdentifier)\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        descriptor = fd
    }

    deinit {
        _ = flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

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

extension Trainer {
    /// Brings a run folder back to the state of its checkpoint at `step` (0: no checkpoint) after a
    /// run that was killed: metrics.jsonl keeps each logged step up to `step` once (later lines,
    /// and a half-written last line, go), TensorBoard event files drop the records past `step` (the
    /// resumed run logs them again, so TensorBoard shows one line), sample grids past `step` and
    /// the temporary files of interrupted atomic writes (`.dat.nosync*`, Foundation's, and
    /// `*.png.tmp-*`, ImageCodec.writePNG's) are removed.
    /// Only called with the folder's lock held, so no live process owns those temporaries.
    static func repairRunFolder(_ folder: URL, afterStep step: Int) throws {
        let fm = FileManager.default
        let samples = folder.appendingPathComponent("samples")
        for directory in [folder, samples] {
            for name in (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
                where name.hasPrefix(".dat.nosync") || name.contains(".png.tmp-") {
                try? fm.removeItem(at: directory.appendingPathComponent(name))
            }
        }
        for name in (try? fm.contentsOfDirectory(atPath: samples.path)) ?? [] where name.hasPrefix("step_") && name.hasSuffix(".png") {
            if let n = Int(name.dropFirst(5).dropLast(4)), n > step { try? fm.removeItem(at: samples.appendingPathComponent(name)) }
        }
        let metricsURL = folder.appendingPathComponent("metrics.jsonl")
        if let data = fm.contents(atPath: metricsURL.path), !data.isEmpty {
            var kept = Data(), seen = Set<Int>()
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let entry = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let logged = entry["step"] as? Int, logged <= step, seen.insert(logged).inserted else { continue }
                kept.append(Data(line))
                kept.append(UInt8(ascii: "\n"))
            }
            if kept != data {
                do { try kept.write(to: metricsURL, options: .atomic) } catch {
                    throw StackGANError(.output, metricsURL.path, "cannot rewrite the metrics past step \(step): \(error.localizedDescription)")
                }
            }
        }
        for name in (try? fm.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasPrefix("events.out.tfevents.") {
            try TensorBoardWriter.truncate(folder.appendingPathComponent(name), afterStep: step)
        }
    }
}
