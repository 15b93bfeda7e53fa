import Autograd
import Datasets
import Foundation
import NN

// Shape letters: B examples in a chunk, S the generator's image size (64 or 256), E embedding
// width, c condition width, F classifier feature width, K captions per image.

/// How `Evaluator.evaluate` samples.
public struct EvaluationOptions {
    /// The dataset split to evaluate on; nil = the checkpoint config's `data.eval_split`.
    public var split: String?
    /// Generated images per caption (each example has K captions, so K * this per example).
    public var samplesPerCaption = 1
    /// Seed of the noise z and the CA eps, and of R-precision's choice of negative captions.
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

/// Scores a checkpoint against a dataset split with a `ConditionClassifier` (condition and
/// attribute accuracy, feature-space FID), an `ImageTextMatcher` (R-precision) and the
/// checkpoint discriminator's real/wrong/fake separation. Everything runs in eval mode without
/// gradients; generated images come from the EMA generator when the checkpoint has one (as
/// `Checkpoint.load` chooses).
public struct Evaluator {
    public let classifier: ConditionClassifier
    /// Where the classifier came from, for the report.
    public let classifierPath: String
    /// The R-precision model; without one the report has no R-precision.
    public let matcher: ImageTextMatcher?
    public let matcherPath: String?

    public init(classifier: ConditionClassifier, classifierPath: String, matcher: ImageTextMatcher? = nil, matcherPath: String? = nil) {
        self.classifier = classifier
        self.classifierPath = classifierPath
        self.matcher = matcher
        self.matcherPath = matcherPath
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
        let count = min(dataset.count, options.limit ?? dataset.count)
        guard count >= 2 else { throw EvaluationError("\(path) [\(split)]: FID needs at least 2 examples, got \(count)") }
        if let matcher, matcher.embeddingWidth != dataset.embeddingWidth {
            throw EvaluationError("matcher \(matcherPath ?? ""): embedding width \(matcher.embeddingWidth), the dataset's is \(dataset.embeddingWidth)")
        }
        let loadSize = config.data.loadSize > 0 ? config.data.loadSize : Preprocess.defaultLoadSize(forCrop: architecture.imageSize)
        log("evaluating \(checkpoint) on \(path) [\(split)]: \(count) examples x \(dataset.captionsPerImage) captions x \(options.samplesPerCaption) samples")

        var pass = EvaluationPass(evaluator: self, dataset: dataset, generator: generator, discriminator: discriminator,
                                  noiseWidth: config.model.noiseDimension, imageSize: architecture.imageSize, loadSize: loadSize,
                                  samplesPerCaption: options.samplesPerCaption, seed: options.seed)
        try withoutGradients {
            for first in stride(from: 0, to: count, by: options.batchSize) {
                try pass.score(Array(first..<min(count, first + options.batchSize)))
            }
        }
        let state = models.file.state
        let head = architecture.head
        var report = try pass.report(count: count, seed: options.seed)
        (report.checkpoint, report.dataset, report.split, report.family, report.stage) = (checkpoint, path, split, config.family.rawValue, config.stage)
        (report.head, report.step, report.seconds) = (head.rawValue, state?.step, Date().timeIntervalSince(start))
        (report.detail, report.detailReal, report.detailUpscaled) = (pass.detail?.fake.scores, pass.detail?.real.scores, pass.detail?.upscaled.scores)
        return report
    }
}

/// One evaluation in progress: scores chunks of examples (their real images, and images generated
/// from each of their captions) into tallies, then turns the tallies into a report.
struct EvaluationPass {
    let evaluator: Evaluator
    let dataset: TextImageDataset
    let generator: any TextToImageGenerator
    let discriminator: any TextImageDiscriminator
    let noiseWidth: Int, imageSize: Int, loadSize: Int, samplesPerCaption: Int
    /// labels[h][i]: the classifier head h's true label of example i.
    let labels: [[Int?]]
    var rng: RandomGenerator
    var real: ImageTally, fake: ImageTally
    var pairs = DiscriminatorTally()
    /// Generated, real and real-through-64-px detail, for images larger than the classifier's.
    var detail: (fake: DetailTally, real: DetailTally, upscaled: DetailTally)?

    init(evaluator: Evaluator, dataset: TextImageDataset, generator: any TextToImageGenerator, discriminator: any TextImageDiscriminator,
         noiseWidth: Int, imageSize: Int, loadSize: Int, samplesPerCaption: Int, seed: UInt64) {
        (self.evaluator, self.dataset, self.generator, self.discriminator) = (evaluator, dataset, generator, discriminator)
        (self.noiseWidth, self.imageSize, self.loadSize, self.samplesPerCaption) = (noiseWidth, imageSize, loadSize, samplesPerCaption)
        labels = evaluator.classifier.headLabels(of: dataset)
        rng = RandomGenerator(seed: seed)
        real = ImageTally(heads: labels.count)
        fake = ImageTally(heads: labels.count)
        if imageSize > ConditionClassifier.imageSize { detail = (DetailTally(), DetailTally(), DetailTally()) }
    }

    /// Scores the real images of `chunk` and the images generated from each of their captions.
    mutating func score(_ chunk: [Int]) throws {
        let k = dataset.captionsPerImage
        let realImages = try RealImages.decode(dataset, indices: chunk, loadSize: loadSize, cropSize: imageSize).tensor()
        try measure(realImages, examples: chunk, captions: chunk.map { i in (0..<k).map { i * k + $0 } }, into: &real)
        if detail != nil {
            let small = try downsampled(realImages, to: ConditionClassifier.imageSize)
            detail?.real.add(realImages)
            detail?.upscaled.add(try bicubicUpsampled(small, factor: imageSize / ConditionClassifier.imageSize))
        }
        let realFeatures = try discriminator.features(image: realImages, training: false)
        for caption in 0..<k {
            var values = [Float]()
            for i in chunk { values += dataset.embedding(i, caption: caption) }
            let embeddings = try Tensor(shape: [chunk.count, dataset.embeddingWidth], scalars: values)
            for sample in 0..<samplesPerCaption {
                let noise = Tensor.randomNormal([chunk.count, noiseWidth], using: &rng)
                let out = try generator(embedding: embeddings, noise: noise, training: false, using: &rng)
                try Sampler.requireFinite(out.image, embeddings: values[...], width: dataset.embeddingWidth, firstRow: chunk[0])
                try measure(out.image, examples: chunk, captions: chunk.map { [$0 * k + caption] }, into: &fake)
                fake.sources += chunk.map { $0 * k + caption }
                detail?.fake.add(out.image)
                pairs.addFake(try discriminator(image: out.image, condition: out.condition, training: false), count: chunk.count)
                if sample == 0 { try scorePairs(realFeatures, condition: out.condition, chunk: chunk) }
            }
        }
    }

    /// Classifier and matcher outputs for images of `examples`; each image is an R-precision query
    /// for every caption row in `captions`.
    private func measure(_ images: Tensor, examples: [Int], captions: [[Int]], into tally: inout ImageTally) throws {
        let small = try downsampled(images, to: ConditionClassifier.imageSize)
        tally.add(try evaluator.classifier.predict(small), examples: examples, labels: labels)
        if let matcher = evaluator.matcher {
            tally.add(embeddings: try matcher.embed(small), width: matcher.jointWidth, captions: captions)
        }
    }

    /// D on (real image, its caption) and (real image of another class, the caption).
    private mutating func scorePairs(_ realFeatures: Tensor, condition: Tensor, chunk: [Int]) throws {
        let b = chunk.count
        pairs.addReal(try discriminator.logits(features: realFeatures, condition: condition, training: false), count: b)
        // Wrong pairs: each caption with the next real image in the chunk of another class
        // (a shifted image of the same class would be a true pair, not a wrong one).
        let classes = dataset.classIndices
        let wrongSlots = (0..<b).map { i in
            (1..<max(b, 1)).lazy.map { (i + $0) % b }.first { classes[chunk[$0]] != classes[chunk[i]] || classes[chunk[i]] < 0 }
        }
        let wrongRows = (0..<b).filter { wrongSlots[$0] != nil }
        guard !wrongRows.isEmpty else { return }
        let wrong = try discriminator.logits(features: rows(realFeatures, wrongRows.compactMap { wrongSlots[$0] }),
                                             condition: rows(condition, wrongRows), training: false)
        pairs.addWrong(wrong, count: wrongRows.count)
    }

    /// The metrics of the first `count` examples (checkpoint, model and timing fields left for the caller).
    func report(count: Int, seed: UInt64) throws -> EvaluationReport {
        let classifier = evaluator.classifier
        let width = classifier.featureWidth
        let classLabels = Array(labels[0].prefix(count))
        let majority = majorityRate(classLabels)
        let realAccuracy = real.accuracy(head: 0)
        var attributes: [String: Double] = [:], attributesReal: [String: Double] = [:], attributesMajority: [String: Double] = [:]
        var attributesNamed: [String: Double] = [:], attributesNamedShare: [String: Double] = [:]
        let k = dataset.captionsPerImage
        for (h, head) in classifier.heads.enumerated().dropFirst() where labels[h].contains(where: { $0 != nil }) {
            attributes[head.name] = fake.accuracy(head: h)
            let words = Set(head.classNames.map { $0.lowercased() })
            let named = fake.accuracy(head: h) { row in
                let captions = dataset.captions[row / k]
                return row % k < captions.count && !words.isDisjoint(with: captionWords(captions[row % k]))
            }
            (attributesNamed[head.name], attributesNamedShare[head.name]) = (named.accuracy, named.share)
            attributesReal[head.name] = real.accuracy(head: h)
            attributesMajority[head.name] = majorityRate(Array(labels[h].prefix(count)))
        }
        var alignment: (fake: RPrecision, real: RPrecision)?
        if let matcher = evaluator.matcher {
            let k = dataset.captionsPerImage
            let captions = try matcher.embed(captions: Array(dataset.embeddings[0..<(count * k * dataset.embeddingWidth)]))
            // Captions of one image share its name (per-example files with one caption per group).
            var ids: [String: Int] = [:]
            for name in dataset.names.prefix(count) where ids[name] == nil { ids[name] = ids.count }
            let groups = (0..<(count * k)).map { ids[dataset.names[$0 / k]] ?? 0 }
            func score(_ tally: ImageTally) -> RPrecision {
                RPrecision.compute(images: tally.embeddings, truths: tally.captionRows, captions: captions, groups: groups,
                                   width: matcher.jointWidth, seed: seed)
            }
            alignment = (score(fake), score(real))
        }
        return EvaluationReport(
            checkpoint: "", dataset: "", split: "", family: "", stage: 0, head: "", step: nil, examples: count,
            generatedImages: fake.features.count / width, samplesPerCaption: samplesPerCaption, seed: seed,
            classifierPath: evaluator.classifierPath, classes: classifier.classCount,
            conditionAccuracy: fake.accuracy(head: 0), realAccuracy: realAccuracy, chance: max(majority, 1 / Double(max(classifier.classCount, 1))),
            majorityRate: majority, classifierWarning: EvaluationReport.classifierWarning(realAccuracy: realAccuracy, majorityRate: majority),
            attributes: attributes, attributesReal: attributesReal, attributesMajority: attributesMajority,
            attributesNamed: attributesNamed, attributesNamedShare: attributesNamedShare,
            rPrecision: alignment?.fake.rate, rPrecisionReal: alignment?.real.rate, rPrecisionChance: alignment?.fake.chance,
            rPrecisionCandidates: alignment?.fake.candidates, matcherPath: evaluator.matcherPath,
            matcherWarning: alignment.flatMap { EvaluationReport.matcherWarning(realRate: $0.real.rate, chance: $0.real.chance) },
            fid: try FrechetDistance.between(features: real.features, fake.features, width: width),
            discriminator: pairs.scores(splitHead: discriminator.head == .split),
            unlabelledExamples: classLabels.filter { $0 == nil }.count, seconds: 0)
    }
}

/// A caption's words, lower-cased: runs of letters and digits.
func captionWords(_ caption: String) -> Set<String> {
    Set(caption.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init))
}
