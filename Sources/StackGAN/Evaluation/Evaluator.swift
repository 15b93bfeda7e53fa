import Autograd
import Datasets
import Foundation
import NN

// Shape letters: B examples in a chunk, S the generator's image size (64 or 256), E embedding
// width, c condition width, F classifier feature width.

/// How `Evaluator.evaluate` samples.
public struct EvaluationOptions {
    /// The dataset split to evaluate on; nil = the checkpoint config's `data.eval_split`.
    public var split: String?
    /// Generated images per caption (each example has K captions, so K * this per example).
    public var samplesPerCaption = 1
    /// Seed of the noise z and the CA eps.
    public var seed: UInt64 = 0
    /// Examples per generator/discriminator batch.
    public var batchSize = 25
    /// Only the first `limit` examples of the split (tests, quick looks); nil = all.
    public var limit: Int?

    public init(split: String? = nil, samplesPerCaption: Int = 1, seed: UInt64 = 0, batchSize: Int = 25, limit: Int? = nil) {
        self.split = split; self.samplesPerCaption = samplesPerCaption; self.seed = seed
        self.batchSize = batchSize; self.limit = limit
    }
}

/// Mean sigmoid of the checkpoint discriminator's logits on the three kinds of pair, in eval mode.
/// A discriminator that learned the condition puts `real` high and both `wrong` and `fake` low.
public struct DiscriminatorScores: Codable, Equatable {
    /// Match head on (real image i, caption i).
    public var real: Double
    /// Match head on (real image of another class, caption i).
    public var wrong: Double
    /// Match head on (generated image for caption i, caption i).
    public var fake: Double
    /// Split head only: the realness head on real and on generated images.
    public var realnessReal: Double?
    public var realnessFake: Double?
    /// real - max(wrong, fake): positive when D ranks the true pairs above both kinds of negative.
    public var separation: Double { real - max(wrong, fake) }
}

/// Everything `stackgan evaluate` reports (also written as JSON with snake_case keys).
public struct EvaluationReport: Codable, Equatable {
    public var checkpoint: String
    public var dataset: String
    public var split: String
    public var family: String
    public var stage: Int
    public var head: String
    /// The training step the checkpoint was written at (nil when the metadata has none).
    public var step: Int?
    public var examples: Int
    public var generatedImages: Int
    public var samplesPerCaption: Int
    public var seed: UInt64
    public var classifierPath: String
    public var classes: Int
    /// Fraction of generated images the classifier assigns their caption's class.
    public var conditionAccuracy: Double
    /// The classifier's accuracy on the split's real images: the ceiling of `conditionAccuracy`.
    public var realAccuracy: Double
    /// 1 / classes: what a generator that ignores the caption scores (with balanced classes).
    public var chance: Double
    /// Fréchet distance between Gaussians fitted to the classifier's penultimate features of the
    /// split's real images and of the generated ones (lower is better).
    public var fid: Double
    public var discriminator: DiscriminatorScores
    /// Examples left out of the accuracies because their class is unknown to the classifier.
    public var unlabelledExamples: Int
    public var seconds: Double

    /// A plain-text table for the terminal.
    public var table: String {
        func pct(_ v: Double) -> String { String(format: "%6.2f%%", 100 * v) }
        func num(_ v: Double) -> String { String(format: "%.4f", v) }
        var rows: [(String, String)] = [
            ("checkpoint", checkpoint + (step.map { " (step \($0))" } ?? "")),
            ("model", "\(family) stage \(stage), \(head) head"),
            ("data", "\(dataset) [\(split)]: \(examples) examples, \(generatedImages) generated (\(samplesPerCaption) per caption, seed \(seed))"),
            ("classifier", "\(classifierPath) (\(classes) classes)"),
            ("condition accuracy", pct(conditionAccuracy)),
            ("  real-image ceiling", pct(realAccuracy)),
            ("  chance", pct(chance)),
            ("feature FID", String(format: "%.4f", fid)),
            ("D(real pair)", num(discriminator.real)),
            ("D(wrong pair)", num(discriminator.wrong)),
            ("D(fake pair)", num(discriminator.fake)),
            ("  separation", num(discriminator.separation)),
        ]
        if let r = discriminator.realnessReal, let f = discriminator.realnessFake {
            rows += [("realness(real)", num(r)), ("realness(fake)", num(f))]
        }
        if unlabelledExamples > 0 { rows.append(("unlabelled examples", String(unlabelledExamples))) }
        rows.append(("time", String(format: "%.1f s", seconds)))
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    /// The report as pretty JSON with snake_case keys (and `separation` spelled out).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let object = try JSONSerialization.jsonObject(with: encoder.encode(self))
        guard var dictionary = object as? [String: Any], var d = dictionary["discriminator"] as? [String: Any] else {
            return try encoder.encode(self)
        }
        d["separation"] = discriminator.separation
        dictionary["discriminator"] = d
        return try JSONSerialization.data(withJSONObject: dictionary, options: [.prettyPrinted, .sortedKeys])
    }
}

/// Scores a checkpoint against a dataset split with a `ConditionClassifier`: condition accuracy,
/// feature-space FID and the checkpoint discriminator's real/wrong/fake separation. Everything runs
/// in eval mode without gradients; generated images come from the EMA generator when the checkpoint
/// has one (as `Checkpoint.load` chooses).
public struct Evaluator {
    public let classifier: ConditionClassifier
    /// Where the classifier came from, for the report.
    public let classifierPath: String

    public init(classifier: ConditionClassifier, classifierPath: String) {
        self.classifier = classifier
        self.classifierPath = classifierPath
    }

    /// Evaluates `checkpoint` on `datasetPath` (nil = the checkpoint config's `data.path`).
    /// Throws `DatasetError` for an unreadable dataset or one whose embedding width is not the model's.
    public func evaluate(checkpoint: String, datasetPath: String? = nil, options: EvaluationOptions = EvaluationOptions(),
                         log: (String) -> Void = { _ in }) throws -> EvaluationReport {
        let start = Date()
        guard options.samplesPerCaption >= 1, options.batchSize >= 1 else {
            throw EvaluationError("samples per caption and batch size must be at least 1")
        }
        let models = try Checkpoint.load(checkpoint)
        let (config, architecture, generator) = (models.config, models.architecture, models.generator)
        let discriminator = try models.requireDiscriminator()
        let path = datasetPath ?? config.data.path
        let split = options.split ?? config.data.evalSplit
        let dataset = try TextImageDataset.open(path: path, split: split,
                                                options: config.data.datasetOptions(embeddingWidth: config.model.embeddingDimension))
        let labels = classifier.labels(of: dataset)
        let count = min(dataset.count, options.limit ?? dataset.count)
        guard count >= 2 else { throw EvaluationError("\(path) [\(split)]: FID needs at least 2 examples, got \(count)") }
        let size = architecture.imageSize
        let loadSize = config.data.loadSize > 0 ? config.data.loadSize : Preprocess.defaultLoadSize(forCrop: size)
        let k = dataset.captionsPerImage, e = dataset.embeddingWidth
        log("evaluating \(checkpoint) on \(path) [\(split)]: \(count) examples x \(k) captions x \(options.samplesPerCaption) samples")

        var rng = RandomGenerator(seed: options.seed)
        var realFeatures: [Float] = [], fakeFeatures: [Float] = []
        var realCorrect = 0, realCounted = 0, fakeCorrect = 0, fakeCounted = 0
        var sums = (real: 0.0, wrong: 0.0, fake: 0.0, realnessReal: 0.0, realnessFake: 0.0)
        var pairs = (real: 0, wrong: 0, fake: 0)
        try withoutGradients {
            for first in stride(from: 0, to: count, by: options.batchSize) {
                let chunk = Array(first..<min(count, first + options.batchSize))
                let b = chunk.count
                let real = try RealImages.decode(dataset, indices: chunk, loadSize: loadSize, cropSize: size).tensor()
                let (realPredicted, realF) = try classifier.predict(downsampled(real, to: ConditionClassifier.imageSize))
                realFeatures += realF
                for (i, p) in zip(chunk, realPredicted) where labels[i] != nil {
                    realCounted += 1
                    if labels[i] == p { realCorrect += 1 }
                }
                let realD = try discriminator.features(image: real, training: false)
                // Wrong pairs: each caption with the next real image in the chunk of another class
                // (a shifted image of the same class would be a true pair, not a wrong one).
                let wrongSlots = (0..<b).map { i in
                    (1..<max(b, 1)).lazy.map { (i + $0) % b }.first { dataset.classIndices[chunk[$0]] != dataset.classIndices[chunk[i]] || dataset.classIndices[chunk[i]] < 0 }
                }
                let wrongRows = (0..<b).filter { wrongSlots[$0] != nil }
                for caption in 0..<k {
                    var values = [Float](); values.reserveCapacity(b * e)
                    for i in chunk { values += dataset.embedding(i, caption: caption) }
                    let embeddings = try Tensor(shape: [b, e], scalars: values)
                    for sample in 0..<options.samplesPerCaption {
                        let noise = Tensor.randomNormal([b, config.model.noiseDimension], using: &rng)
                        let out = try generator(embedding: embeddings, noise: noise, training: false, using: &rng)
                        let (predicted, features) = try classifier.predict(downsampled(out.image, to: ConditionClassifier.imageSize))
                        fakeFeatures += features
                        for (i, p) in zip(chunk, predicted) where labels[i] != nil {
                            fakeCounted += 1
                            if labels[i] == p { fakeCorrect += 1 }
                        }
                        let fake = try discriminator(image: out.image, condition: out.condition, training: false)
                        sums.fake += meanSigmoid(fake.match) * Double(b); pairs.fake += b
                        if let r = fake.real { sums.realnessFake += meanSigmoid(r) * Double(b) }
                        guard sample == 0 else { continue }
                        let matched = try discriminator.logits(features: realD, condition: out.condition, training: false)
                        sums.real += meanSigmoid(matched.match) * Double(b); pairs.real += b
                        if let r = matched.real { sums.realnessReal += meanSigmoid(r) * Double(b) }
                        if !wrongRows.isEmpty {
                            let wrong = try discriminator.logits(features: rows(realD, wrongRows.compactMap { wrongSlots[$0] }),
                                                                 condition: rows(out.condition, wrongRows), training: false)
                            sums.wrong += meanSigmoid(wrong.match) * Double(wrongRows.count); pairs.wrong += wrongRows.count
                        }
                    }
                }
            }
        }
        let width = classifier.featureWidth
        let fid = try FrechetDistance.between(features: realFeatures, fakeFeatures, width: width)
        let state = models.file.state
        let head = architecture.head
        let splitHead = head.scoresRealness
        return EvaluationReport(
            checkpoint: checkpoint, dataset: path, split: split, family: config.family.rawValue, stage: config.stage,
            head: head.rawValue, step: state?.step, examples: count, generatedImages: fakeFeatures.count / width,
            samplesPerCaption: options.samplesPerCaption, seed: options.seed, classifierPath: classifierPath,
            classes: classifier.classCount,
            conditionAccuracy: Double(fakeCorrect) / Double(max(fakeCounted, 1)),
            realAccuracy: Double(realCorrect) / Double(max(realCounted, 1)),
            chance: 1 / Double(max(classifier.classCount, 1)), fid: fid,
            discriminator: DiscriminatorScores(
                real: sums.real / Double(max(pairs.real, 1)), wrong: sums.wrong / Double(max(pairs.wrong, 1)),
                fake: sums.fake / Double(max(pairs.fake, 1)),
                realnessReal: splitHead ? sums.realnessReal / Double(max(pairs.real, 1)) : nil,
                realnessFake: splitHead ? sums.realnessFake / Double(max(pairs.fake, 1)) : nil),
            unlabelledExamples: (0..<count).filter { labels[$0] == nil }.count,
            seconds: Date().timeIntervalSince(start))
    }
}

/// Mean of 1 / (1 + e^-x) over logits [N], in Double.
func meanSigmoid(_ logits: Tensor) -> Double {
    guard logits.count > 0 else { return 0 }
    var total = 0.0
    for i in 0..<logits.count { total += 1 / (1 + Foundation.exp(-Double(logits.pointer[i]))) }
    return total / Double(logits.count)
}

/// Rows `indices` of t [N, ...] -> [indices.count, ...] (no graph: evaluation only).
func rows(_ t: Tensor, _ indices: [Int]) throws -> Tensor {
    let n = t.shape.first ?? 0, row = t.count / max(n, 1)
    var values = [Float](repeating: 0, count: indices.count * row)
    for (slot, index) in indices.enumerated() {
        guard (0..<n).contains(index) else { throw EvaluationError("row \(index) of a batch of \(n)") }
        for j in 0..<row { values[slot * row + j] = t.pointer[index * row + j] }
    }
    return try Tensor(shape: [indices.count] + t.shape.dropFirst(), scalars: values)
}
