import Datasets
import Foundation

/// A file of a run folder, by what it holds: the one list of them. A new file is a case here with
/// its path; what a resume after a kill does with it is `RunFolder.repair`'s, below.
public enum RunFile: Equatable {
    /// The config the run trains, which `train --resume` reads.
    case config
    /// Everything a resume needs (`Checkpoint`), written atomically.
    case checkpoint
    /// One `MetricsRecord` per logged step.
    case metrics
    /// TensorBoard scalars and grids; one file per process that trained the run.
    case events(stamp: String)
    /// The fixed-caption grid at a step.
    case samples(step: Int)
    /// The latest grid.
    case latestSamples
    /// The captions of the grids' rows.
    case sampleCaptions
    /// The report of `stackgan evaluate` on the checkpoint.
    case evaluation
    /// The run's HTML page (`stackgan report`).
    case report
    /// In an `ablate` run folder: the run's `AblationRun` (head, seed, training time, evaluation),
    /// written by the process that ran it and read by the one that writes the summaries.
    case ablationRun
    /// Held by the process that owns the folder (`RunFolderLock`).
    case lock

    /// The path inside the folder.
    public var path: String {
        switch self {
        case .config: return "config.yml"
        case .checkpoint: return "checkpoint.safetensors"
        case .metrics: return "metrics.jsonl"
        case .events(let stamp): return Self.eventsPrefix + stamp
        case .samples(let step): return String(format: "\(Self.samplesFolder)/step_%06d.png", step)
        case .latestSamples: return "\(Self.samplesFolder)/latest.png"
        case .sampleCaptions: return "\(Self.samplesFolder)/captions.txt"
        case .evaluation: return "evaluation.json"
        case .report: return "report.html"
        case .ablationRun: return "ablation_run.json"
        case .lock: return ".stackgan.lock"
        }
    }

    public static let samplesFolder = "samples"
    /// TensorBoard finds event files by this start of their name.
    static let eventsPrefix = "events.out.tfevents."

    /// A new event file's stamp: time, host and pid, so a resumed run started within the same
    /// second does not replace the earlier file.
    static func newEvents() -> RunFile {
        let process = ProcessInfo.processInfo
        return .events(stamp: "\(Int(Date().timeIntervalSince1970)).\(process.hostName).\(process.processIdentifier).stackgan")
    }
}

/// A run folder of `stackgan train`, and the one owner of what lies in it: it names every file
/// (`RunFile`), creates and locks the folder, repairs what a killed run left, and makes every write
/// into it. Each write asks `destination(_:)` for its URL: the one place that decides what a run
/// folder may hold.
public struct RunFolder {
    public let url: URL

    public init(_ url: URL) { self.url = url }
    public init(path: String) { self.init(URL(fileURLWithPath: path)) }

    /// Where `file` is, for reading.
    public func url(_ file: RunFile) -> URL { url.appendingPathComponent(file.path) }

    /// Where to write `file`: every write into the folder asks here. A link, a folder or a device
    /// found at the name is refused, never followed or replaced (`OutputFile`'s rule for names a
    /// command picks itself).
    func destination(_ file: RunFile) throws -> URL {
        _ = try output(file)
        return url(file)
    }

    /// `file` checked by `OutputFile`'s rule, its refusal as an output error naming the path.
    private func output(_ file: RunFile) throws -> OutputFile {
        do { return try OutputFile(url(file).path) } catch let error as DatasetError {
            throw StackGANError(.output, url(file).path, error.message)
        }
    }

    /// The run folder that holds `checkpoint` (named checkpoint.safetensors, beside a
    /// metrics.jsonl), else nil (a copied or renamed checkpoint): where `evaluate` keeps its report.
    public static func holding(checkpoint: String) -> RunFolder? {
        let file = URL(fileURLWithPath: checkpoint)
        let folder = RunFolder(file.deletingLastPathComponent())
        guard file.lastPathComponent == RunFile.checkpoint.path,
              FileManager.default.fileExists(atPath: folder.url(.metrics).path) else { return nil }
        return folder
    }

    /// Creates the folder and its samples/ and takes its lock for this process, which holds the
    /// folder while it keeps the lock.
    public func create() throws -> RunFolderLock {
        try makeFolder(url.path, what: "run folder")
        let lock = try RunFolderLock(file: destination(.lock))
        let samples = url.appendingPathComponent(RunFile.samplesFolder)
        if let kind = samplesKind, kind != S_IFDIR {
            // Grids are written into it by name: through a link they would land outside the folder.
            throw StackGANError(.output, samples.path, "is not a folder (a link or a file); the run folder's samples/ must be a real folder")
        }
        do {
            try FileManager.default.createDirectory(at: samples, withIntermediateDirectories: true)
        } catch {
            throw StackGANError(.output, url.path, "cannot create the run folder: \(error.localizedDescription)")
        }
        return lock
    }

    /// Writes `data` as `file` atomically: a reader sees the old file or the new one.
    public func write(_ data: Data, to file: RunFile) throws {
        let target = try output(file)
        do { try target.write(data) } catch let error as DatasetError {
            throw StackGANError(.output, target.path, error.message)
        }
    }

    public func write(_ text: String, to file: RunFile) throws { try write(Data(text.utf8), to: file) }

    /// Opens `file` for appending, created when missing (metrics.jsonl).
    func appending(_ file: RunFile) throws -> FileHandle {
        let target = try destination(file)
        if !FileManager.default.fileExists(atPath: target.path) { _ = FileManager.default.createFile(atPath: target.path, contents: nil) }
        do {
            let handle = try FileHandle(forWritingTo: target)
            handle.seekToEndOfFile()
            return handle
        } catch {
            throw StackGANError(.output, target.path, "cannot open for appending: \(error.localizedDescription)")
        }
    }

    /// True when samples/ is a real folder of this run (not a link to somewhere else): what the
    /// report reads from it belongs to the run only then.
    public var hasOwnSamplesFolder: Bool { samplesKind == S_IFDIR }

    /// The file type of samples/ itself (links not followed), nil when nothing is there.
    private var samplesKind: mode_t? {
        var info = stat()
        return lstat(url.appendingPathComponent(RunFile.samplesFolder).path, &info) == 0 ? info.st_mode & S_IFMT : nil
    }

    /// The sample grids `samples/step_NNNNNN.png` by step (none when samples/ is not a real folder).
    public func sampleGrids() -> [(step: Int, url: URL)] {
        guard hasOwnSamplesFolder else { return [] }
        let samples = url.appendingPathComponent(RunFile.samplesFolder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: samples.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("step_"), name.hasSuffix(".png"), let step = Int(name.dropFirst(5).dropLast(4)) else { return nil }
            return (step, samples.appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// Brings the folder back to the state of its checkpoint at `step` (0: no checkpoint) after a
    /// run that was killed: metrics.jsonl keeps each logged step up to `step` once (later lines,
    /// and a half-written last line, go), TensorBoard event files drop the records past `step` (the
    /// resumed run logs them again, so TensorBoard shows one line), sample grids past `step` and
    /// the temporary files of interrupted atomic writes (`.dat.nosync*`, Foundation's, and
    /// `*.png.tmp-*`, ImageCodec.writePNG's in folders of earlier versions) are removed; the
    /// checkpoint's own temporaries are `SafeTensors.write`'s to remove.
    /// Only called with the folder's lock held, so no live process owns those temporaries.
    func repair(afterStep step: Int) throws {
        let fm = FileManager.default
        for directory in [url, url.appendingPathComponent(RunFile.samplesFolder)] {
            for name in (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
                where name.hasPrefix(".dat.nosync") || name.contains(".png.tmp-") {
                try? fm.removeItem(at: directory.appendingPathComponent(name))
            }
        }
        for grid in sampleGrids() where grid.step > step { try? fm.removeItem(at: grid.url) }
        let metrics = url(.metrics)
        if let data = fm.contents(atPath: metrics.path), !data.isEmpty {
            var kept = Data(), seen = Set<Int>()
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let record = MetricsRecord(line: line), record.step <= step, seen.insert(record.step).inserted else { continue }
                kept.append(Data(line))
                kept.append(UInt8(ascii: "\n"))
            }
            if kept != data {
                do { try write(kept, to: .metrics) } catch let error as StackGANError {
                    throw StackGANError(.output, metrics.path, "cannot rewrite the metrics past step \(step): \(error.message)")
                }
            }
        }
        for name in (try? fm.contentsOfDirectory(atPath: url.path)) ?? [] where name.hasPrefix(RunFile.eventsPrefix) {
            let events = RunFile.events(stamp: String(name.dropFirst(RunFile.eventsPrefix.count)))
            guard let kept = TensorBoardWriter.records(in: url(events), upToStep: step) else { continue }
            do { try write(kept, to: events) } catch let error as StackGANError {
                throw StackGANError(.output, url(events).path, "cannot rewrite the TensorBoard events past step \(step): \(error.message)")
            }
        }
    }
}

/// Exclusive ownership of a run folder (train, resume) or an ablation folder for one process: an
/// advisory `flock` on `<folder>/.stackgan.lock`, which holds the owner's pid. A second process
/// asking for the folder gets an error naming that pid instead of interleaving metrics and
/// checkpoints. The kernel drops the lock when the process ends, however it ends (kill -9
/// included), so a stale lock file never blocks a later run; the file itself is left in place
/// (removing it would race with a process that has just opened it).
public final class RunFolderLock {
    public let folder: URL
    private let descriptor: Int32

    /// Takes the lock of `folder` (`.stackgan.lock` in it).
    public convenience init(folder: URL) throws {
        try self.init(file: folder.appendingPathComponent(RunFile.lock.path))
    }

    /// Takes the lock `file` or throws `.training` naming its folder and the holder's pid.
    init(file: URL) throws {
        folder = file.deletingLastPathComponent()
        let fd = open(file.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StackGANError(.output, folder.path, "cannot create the lock file \(file.lastPathComponent): \(String(cString: strerror(errno)))")
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
