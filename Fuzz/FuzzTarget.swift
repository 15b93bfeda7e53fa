// libFuzzer entry point over every reader of untrusted files (built only by scripts/fuzz.sh,
// with STACKGAN_FUZZ=1, -sanitize=fuzzer and -enable-testing). The first byte picks the reader,
// the rest is the file: 0 safetensors, 1 .npy, 2 PNG/JPEG, 3 HDF5 dataset, 4 YAML config,
// 5 classifier, 6 image-text matcher, 7 caption text file (lines, then the tokenizer),
// 8 make-dataset's captions TSV, 9 a run's metrics.jsonl and 10 its evaluation.json (the report).
// A thrown error is the expected outcome for a bad input; a trap, a signal, a hang or an input that
// raises the peak resident memory by over 1 GB is a finding.
// With STACKGAN_FUZZ_SEEDS=FOLDER the binary writes seed files for the readers whose files no
// fixture holds (5, 6, 10) there and exits.
import Autograd
import Datasets
import Foundation
import NN
@testable import StackGAN
@testable import StackGANCLI
import TextEncoder

private let scratch: String = {
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return (folder as NSString).appendingPathComponent("stackgan-fuzz-\(getpid())")
}()

/// A run folder for the report readers, with a valid metrics file for the evaluation reader.
private let runFolder: URL = {
    let url = URL(fileURLWithPath: scratch + "-run")
    try? FileManager.default.createDirectory(at: url.appendingPathComponent("samples"), withIntermediateDirectories: true)
    return url
}()

/// The sentence encoder's vocabulary when fetched (run from the repository root), else a small one.
private let tokenizer: WordPieceTokenizer? = {
    let text = (try? String(contentsOfFile: "models/all-MiniLM-L6-v2/vocab.txt", encoding: .utf8))
        ?? ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "star", "##s", "!"].joined(separator: "\n")
    return try? WordPieceTokenizer(vocabularyText: text, file: "vocab.txt")
}()

private let makeDataset = try? MakeDataset.parse([scratch + "-images", "--out", scratch + "-out.h5"])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count >= 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: start + 1, count: count - 1))
    func file(_ path: String = scratch) -> String {
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }
    let peakBefore = peakResidentKB()
    defer {
        // Peak RSS only grows, and libFuzzer checks it once a second: without this check a huge
        // allocation is blamed on whichever later input runs when it looks.
        let grown = peakResidentKB() - peakBefore
        if grown > 1 << 20 { fatalError("this input raised the peak resident memory by \(grown >> 10) MB") }
    }
    switch start[0] % 11 {
    case 0: _ = try? SafeTensors.read(URL(fileURLWithPath: file()))
    case 1: _ = try? Npy.parse(bytes, file: "fuzz.npy")
    case 2:
        _ = try? ImageCodec.size(of: bytes)
        _ = try? ImageCodec.decode(bytes)
    case 3:
        let path = file()
        if let splits = try? TextImageDataset.describe(path: path).splits {
            for split in splits.prefix(3) {
                if let data = try? TextImageDataset.open(path: path, split: split) {
                    for i in 0..<min(data.count, 4) { _ = try? data.image(at: i) }
                }
            }
        }
    case 4:
        _ = try? ConfigLoader.load(ExperimentConfig.self, defaults: ExperimentConfig(), text: String(decoding: bytes, as: UTF8.self),
                                   source: "fuzz.yml").validated()
    case 5: _ = try? ConditionClassifier.load(from: URL(fileURLWithPath: file()))
    case 6: _ = try? ImageTextMatcher.load(from: URL(fileURLWithPath: file()))
    case 7:
        if let lines = try? readCaptionLines(file(), flag: "--captions"), let tokenizer {
            for line in lines.prefix(64) { _ = tokenizer.encode(line) }
        }
    case 8: _ = try? makeDataset?.readTSV(file(), images: ["a.png", "b/c.jpg"])
    case 9:
        _ = file(runFolder.appendingPathComponent(RunFile.metrics.path).path)
        try? FileManager.default.removeItem(at: runFolder.appendingPathComponent(RunFile.evaluation.path))
        _ = try? RunReport.html(runFolder: runFolder)
    default:
        try? Data("{\"step\": 1, \"d_loss\": 1.5}\n".utf8).write(to: runFolder.appendingPathComponent(RunFile.metrics.path))
        _ = file(runFolder.appendingPathComponent(RunFile.evaluation.path).path)
        _ = try? RunReport.html(runFolder: runFolder)
    }
    return 0
}

/// The process's peak resident memory so far, in KB (Linux's ru_maxrss).
private func peakResidentKB() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss
}

private extension ExperimentConfig {
    func validated() throws -> Architecture { try Architecture(self) }
}

/// Seed files for readers 5, 6 and 10, each named by its reader byte like fuzz.sh's seeds.
private func writeSeeds(to folder: String) throws {
    var rng = RandomGenerator(seed: 0)
    let classifier = ConditionClassifier(classNames: ["a", "b"], attributes: ["color": ["red", "blue"]], width: 2, featureWidth: 4, using: &rng)
    let matcher = ImageTextMatcher(embeddingWidth: 8, width: 2, hiddenWidth: 4, jointWidth: 4, using: &rng)
    let files: [(UInt8, String, (URL) throws -> Void)] = [
        (5, "classifier.safetensors", { try classifier.save(to: $0, extraMetadata: ["dataset_fingerprint": "10-abc"]) }),
        (6, "matcher.safetensors", { try matcher.save(to: $0) }),
    ]
    for (pick, name, save) in files {
        let url = URL(fileURLWithPath: folder).appendingPathComponent("raw-\(name)")
        try save(url)
        try Data([pick] + [UInt8](try Data(contentsOf: url))).write(to: URL(fileURLWithPath: folder).appendingPathComponent("seed-\(pick)-\(name)"))
        try FileManager.default.removeItem(at: url)
    }
    let report = EvaluationReport(
        checkpoint: "c.safetensors", dataset: "shapes.h5", split: "test", family: "stackgan", stage: 1, head: "projection", step: 4,
        examples: 2, generatedImages: 2, samplesPerCaption: 1, seed: 0, classifierPath: "k", classes: 2, conditionAccuracy: 0.5,
        realAccuracy: 0.9, chance: 0.5, majorityRate: 0.5, classifierWarning: nil, attributes: ["color": 0.5], attributesReal: ["color": 1],
        attributesMajority: ["color": 0.5], rPrecision: 0.25, rPrecisionReal: 0.6, rPrecisionChance: 0.5, rPrecisionCandidates: 2,
        matcherPath: "m", matcherWarning: nil, fid: 3.5, discriminator: DiscriminatorScores(real: 0.8, wrong: 0.3, fake: 0.2),
        unlabelledExamples: 0, seconds: 1)
    try Data([10] + [UInt8](try report.json())).write(to: URL(fileURLWithPath: folder).appendingPathComponent("seed-10-evaluation.json"))
}

// SwiftPM links an executable's entry point as `<module>_main`; it hands over to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                             _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("stackgan_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    if let folder = ProcessInfo.processInfo.environment["STACKGAN_FUZZ_SEEDS"] {
        do { try writeSeeds(to: folder) } catch {
            FileHandle.standardError.write(Data("stackgan-fuzz: cannot write the seeds: \(error)\n".utf8))
            return 1
        }
        return 0
    }
    // libFuzzer's -fork starts a process per job, each with its own scratch files: remove them
    // when the job ends (its normal exit), or /dev/shm fills over a long run.
    atexit {
        for suffix in ["", "-run", "-images", "-out.h5"] { try? FileManager.default.removeItem(atPath: scratch + suffix) }
    }
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, fuzzOneInput)
}
