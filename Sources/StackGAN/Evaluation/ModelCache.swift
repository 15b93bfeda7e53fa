import Datasets
import Foundation
import NN

/// Where the evaluation models trained on a dataset (`ConditionClassifier`, `ImageTextMatcher`)
/// are kept, so that every evaluation of that dataset uses the same ones. The file name is a hash
/// of the model's format tag, the dataset's content fingerprint and the training options: an
/// edited dataset or changed options trains a new model; a copied or moved dataset does not.
public enum ModelCache {
    /// The cache file for a model of `formatTag` trained with `options` on the dataset at `datasetPath`.
    public static func url<Options: Encodable>(formatTag: String, datasetPath: String, options: Options, directory: URL) throws -> URL {
        let fingerprint = try contentFingerprint(of: datasetPath)
        let optionsJSON = String(decoding: try JSONEncoder.sorted.encode(options), as: UTF8.self)
        let stem = URL(fileURLWithPath: datasetPath).deletingPathExtension().lastPathComponent
        let hash = fnv1a(Array("\(formatTag)|\(fingerprint)|\(optionsJSON)".utf8))
        return directory.appendingPathComponent("\(stem)-\(String(hash, radix: 16)).safetensors")
    }

    /// The file's size and a hash of its first and last 4 MiB (all of it when smaller than 8 MiB,
    /// as data/shapes.h5 is): cheap for multi-GB datasets, and any rewrite by h5py changes it.
    static func contentFingerprint(of path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DatasetError(.fileNotFound, file: path, path: "/", "cannot open the dataset to fingerprint it")
        }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        let window: UInt64 = 4 << 20
        try handle.seek(toOffset: 0)
        var bytes = Array(try handle.read(upToCount: Int(min(size, 2 * window))) ?? Data())
        if size > 2 * window {
            bytes.removeLast(Int(window))
            try handle.seek(toOffset: size - window)
            bytes += Array(try handle.read(upToCount: Int(window)) ?? Data())
        }
        return "\(size)-\(String(fnv1a(bytes), radix: 16))"
    }

    /// FNV-1a, 64 bit: stable across runs and platforms, unlike Hasher.
    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// The model for a dataset: read from the cache when present, else made by `train` and
    /// written there by `save`. Returns whether it was trained now and, if so, the summary.
    static func cached<Model, Summary: Encodable>(
        url: URL, datasetPath: String, load: (URL) throws -> Model, train: () throws -> (Model, Summary),
        save: (Model, URL, [String: String]) throws -> Void
    ) throws -> (model: Model, training: Summary?) {
        if FileManager.default.fileExists(atPath: url.path) { return (try load(url), nil) }
        // Before training (tens of seconds): a cache that cannot be written fails now.
        try makeFolder(url.deletingLastPathComponent().path, what: "model cache")
        let (model, summary) = try train()
        try save(model, url, ["training": String(decoding: try JSONEncoder.sorted.encode(summary), as: UTF8.self),
                              EvaluationModelFile.datasetKey: try contentFingerprint(of: datasetPath)])
        return (model, summary)
    }
}

/// A classifier or matcher file, read once and checked before any model is built from it: its
/// format tag, each width its metadata gives (within bounds, and equal to the stored tensor that
/// has that width, so that a tampered width cannot make a model far larger than the file), and
/// the dataset it was trained on.
struct EvaluationModelFile {
    /// The metadata key of the training dataset's `ModelCache.contentFingerprint`.
    static let datasetKey = "dataset_fingerprint"

    let url: URL
    let tensors: [String: SafeTensors.Entry]
    let metadata: [String: String]

    /// Reads `url` and checks its format tag (`what`: "a condition classifier", for messages).
    init(url: URL, formatTag: String, what: String) throws {
        (self.url, (tensors, metadata)) = (url, try SafeTensors.read(url))
        guard metadata["format"] == formatTag else {
            throw CheckpointError(path: url.path, message: "not \(what) (no `\(formatTag)` metadata)")
        }
    }

    /// Metadata `key` as an integer in 1...`maximum` that equals dimension `axis` of the stored
    /// `tensor` divided by `divisor`.
    func width(_ key: String, maximum: Int, tensor: String, axis: Int, divisor: Int = 1) throws -> Int {
        guard let text = metadata[key], let value = Int(text), (1...maximum).contains(value) else {
            throw CheckpointError(path: url.path, message: "metadata `\(key)` is \(metadata[key].map { "\"\($0.prefix(40))\"" } ?? "missing"); expected a width in 1...\(maximum)")
        }
        guard let shape = tensors[tensor]?.shape, shape.count > axis, shape[axis] == value * divisor else {
            throw CheckpointError(path: url.path, message: "metadata `\(key)` is \(value), but tensor \(tensor) has shape \(tensors[tensor]?.shape.description ?? "missing")")
        }
        return value
    }

    /// Refuses a model trained on another dataset than `datasetPath`, when the file says which
    /// (files written before the fingerprint was stored say nothing).
    func requireTrained(on datasetPath: String?) throws {
        guard let datasetPath, let stored = metadata[Self.datasetKey] else { return }
        let fingerprint = try ModelCache.contentFingerprint(of: datasetPath)
        guard stored == fingerprint else {
            throw CheckpointError(path: url.path, message: "was trained on another dataset (\(metadata["dataset"] ?? "unnamed"), fingerprint \(stored.prefix(40))), not on \(datasetPath) (fingerprint \(fingerprint)): its scores would mean nothing here")
        }
    }

    /// Copies the stored tensors into `model`, every name and shape checked.
    func assign(into targets: [NamedTensor]) throws {
        try SafeTensors.assign(tensors, into: targets, path: url.path)
    }
}

extension ConditionClassifier {
    /// The classifier for a dataset: read from the cache when present, else trained on
    /// `options.split` and written there. Returns whether it was trained now and, if so, the summary.
    public static func cached(datasetPath: String, options: ClassifierTrainingOptions = ClassifierTrainingOptions(),
                              directory: URL = URL(fileURLWithPath: "runs/.classifiers"),
                              datasetOptions: DatasetOptions = DatasetOptions(),
                              log: (String) -> Void = { _ in }) throws -> (classifier: ConditionClassifier, url: URL, training: TrainingSummary?) {
        let url = try ModelCache.url(formatTag: formatTag, datasetPath: datasetPath, options: options, directory: directory)
        let (model, training) = try ModelCache.cached(url: url, datasetPath: datasetPath, load: { try load(from: $0, dataset: datasetPath) }, train: {
            log("training the condition classifier on \(datasetPath) [\(options.split)] (cached at \(url.path))")
            return try train(on: TextImageDataset.open(path: datasetPath, split: options.split, options: datasetOptions), options: options, log: log)
        }, save: { model, url, metadata in
            try model.save(to: url, extraMetadata: metadata.merging(["dataset": datasetPath, "split": options.split]) { a, _ in a })
        })
        return (model, url, training)
    }
}
