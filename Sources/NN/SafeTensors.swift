import Autograd
import Foundation

/// A checkpoint that cannot be read or does not fit the model. The message names the file and the
/// tensor, and says what was expected.
public struct CheckpointError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public init(path: String, message: String) { self.path = path; self.message = message }
    public var description: String { "\(path): \(message)" }
}

/// The safetensors format (what Python's `safetensors` reads and writes): an 8-byte little-endian
/// header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then
/// the raw little-endian data. We write and read F32 only.
public enum SafeTensors {
    /// Writes atomically: to a temporary file in the same folder, then renamed over `url`, so an
    /// interrupted write never damages the previous checkpoint.
    public static func write(_ tensors: [NamedTensor], metadata: [String: String] = [:], to url: URL) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        var seen = Set<String>()
        for t in tensors {
            guard seen.insert(t.name).inserted else { throw CheckpointError(path: url.path, message: "duplicate tensor name \(t.name)") }
            let bytes = t.tensor.count * 4
            header[t.name] = ["dtype": "F32", "shape": t.tensor.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // The format pads the header with spaces to an 8-byte boundary so the data is aligned.
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for t in tensors { data.append(UnsafeBufferPointer(start: t.tensor.pointer, count: t.tensor.count)) }

        let folder = url.deletingLastPathComponent()
        removeAbandonedTemporaries(of: url)
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
        do {
            try data.write(to: temporary)
            // rename(2) replaces the target atomically: readers see the old file or the new one.
            guard Foundation.rename(temporary.path, url.path) == 0 else {
                throw CheckpointError(path: url.path, message: "cannot rename \(temporary.lastPathComponent): \(String(cString: strerror(errno)))")
            }
        } catch let error as CheckpointError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw CheckpointError(path: url.path, message: "cannot write checkpoint: \(error.localizedDescription)")
        }
    }

    /// Removes the `.<name>.<pid>.tmp` files beside `url` that a write killed mid-way left behind:
    /// those whose process has exited. Ours and those of live processes (writing now) are kept.
    private static func removeAbandonedTemporaries(of url: URL) {
        let folder = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent).", own = ProcessInfo.processInfo.processIdentifier
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(".tmp") {
            guard let pid = pid_t(name.dropFirst(prefix.count).dropLast(4)), pid > 0, pid != own else { continue }
            // kill with signal 0 only asks whether the process exists (EPERM: it does, another user's).
            guard kill(pid, 0) != 0 && errno == ESRCH else { continue }
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    /// A tensor as stored in a file.
    public struct Entry {
        public let shape: [Int]
        public let values: [Float]
    }

    /// Reads every tensor (or only those named in `only`, so that a file may hold other dtypes
    /// beside them) and the metadata, validating the header against the file's size.
    public static func read(_ url: URL, only: Set<String>? = nil) throws -> (tensors: [String: Entry], metadata: [String: String]) {
        let fail = { (message: String) in CheckpointError(path: url.path, message: message) }
        guard let data = FileManager.default.contents(atPath: url.path) else { throw fail("file not found or unreadable") }
        guard data.count >= 8 else { throw fail("too short to be a safetensors file (\(data.count) bytes)") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw fail("header length \(headerLength) exceeds the file size \(data.count): truncated or not safetensors")
        }
        let dataStart = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart)) as? [String: Any] else {
            throw fail("header is not a JSON object: not a safetensors file")
        }
        var metadata: [String: String] = [:]
        var tensors: [String: Entry] = [:]
        for (name, value) in header {
            if name == "__metadata__" { metadata = value as? [String: String] ?? [:]; continue }
            if let only, !only.contains(name) { continue }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw fail("tensor \(name): malformed header entry")
            }
            guard dtype == "F32" else { throw fail("tensor \(name): dtype \(dtype), expected F32") }
            // A hostile header can hold any numbers: every size and offset is checked against the
            // file with overflow-checked arithmetic before anything is allocated or copied.
            guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("tensor \(name): shape \(shape) has a negative dimension") }
            var count = 1
            for d in shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail("tensor \(name): shape \(shape) has more elements than the file can hold") }
                count = p
            }
            let (bytes, bytesOverflow) = count.multipliedReportingOverflow(by: 4)
            let (end, endOverflow) = dataStart.addingReportingOverflow(offsets[1])
            guard !bytesOverflow, !endOverflow, offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] - offsets[0] == bytes,
                  end <= data.count else {
                throw fail("tensor \(name): data offsets \(offsets) do not fit shape \(shape) in a file of \(data.count) bytes (truncated?)")
            }
            var values = [Float](repeating: 0, count: count)
            _ = values.withUnsafeMutableBytes { out in
                data.copyBytes(to: out, from: (dataStart + offsets[0])..<end)
            }
            // NaN or infinite weights would only show later as blank images: refuse them here.
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw fail("tensor \(name): element \(bad) is \(values[bad]); weights must be finite (a diverged or damaged checkpoint)")
            }
            tensors[name] = Entry(shape: shape, values: values)
        }
        return (tensors, metadata)
    }

    /// Loads a file into `targets` by name. Every mismatch is collected — missing tensors, extra
    /// tensors, wrong shapes — and reported at once before anything is overwritten.
    public static func load(_ url: URL, into targets: [NamedTensor]) throws -> [String: String] {
        let (stored, metadata) = try read(url)
        try assign(stored, into: targets, path: url.path)
        return metadata
    }

    /// Copies already-read tensors named `prefix.<name>` (or `<name>` without a prefix) into
    /// `targets`, checking every name and shape first, as `load` does. A file holding several
    /// models (a training checkpoint) is read once and assigned per prefix: tensors under other
    /// prefixes belong to the other models, but one under `prefix.` that no target takes means the
    /// file holds another model than the one built (say, layers its config does not describe),
    /// and is refused like a missing one.
    public static func assign(_ stored: [String: Entry], prefix: String? = nil, into targets: [NamedTensor], path: String) throws {
        let key = { (name: String) in prefix.map { "\($0).\(name)" } ?? name }
        var problems: [String] = []
        for t in targets {
            guard let entry = stored[key(t.name)] else { problems.append("missing \(key(t.name)) \(t.tensor.shape)"); continue }
            if entry.shape != t.tensor.shape {
                problems.append("\(key(t.name)) has shape \(entry.shape), model expects \(t.tensor.shape)")
            }
        }
        let wanted = Set(targets.map { key($0.name) })
        let mine = { (name: String) in prefix.map { name.hasPrefix("\($0).") } ?? true }
        problems += stored.keys.filter { mine($0) && !wanted.contains($0) }.sorted().map { "unexpected tensor \($0)" }
        guard problems.isEmpty else {
            let shown = problems.prefix(8).joined(separator: "; ") + (problems.count > 8 ? "; and \(problems.count - 8) more" : "")
            throw CheckpointError(path: path, message: "does not fit the model: \(shown)")
        }
        for t in targets {
            try stored[key(t.name)]?.values.withUnsafeBufferPointer { try t.tensor.assign($0) }
        }
    }
}
