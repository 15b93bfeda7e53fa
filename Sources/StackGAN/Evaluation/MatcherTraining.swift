import Autograd
import Datasets
import Foundation
import NN

// Shape letters: B batch, E embedding width.

/// Settings for training an `ImageTextMatcher`; part of its cache key, so changing one retrains.
public struct MatcherTrainingOptions: Codable, Equatable {
    public var split = "train"
    public var epochs = 30
    public var batchSize = 50
    public var learningRate: Float = 1e-3
    /// Channels of the trunk's first conv.
    public var width = 16
    public var hiddenWidth = 256
    /// J, the joint image-caption space.
    public var jointWidth = 256
    /// The softmax temperature of the contrastive loss (fixed; XMC-GAN's 0.1).
    public var temperature: Float = 0.1
    /// Random 64 px crops of the 76 px image (shifts of up to 12 px, well inside a position cell
    /// of the captions' 3x3 grid). No flips: captions say left and right.
    public var augment = true
    public var seed: UInt64 = 0
    /// Use only the first `limit` examples (tests); nil = all.
    public var limit: Int?

    public init() {}
}

extension ImageTextMatcher {
    /// Trains a fresh matcher on `dataset`'s real images, each step pairing every image of the
    /// batch with one of its captions drawn at random: Adam on the symmetric InfoNCE loss.
    public static func train(on dataset: TextImageDataset, options: MatcherTrainingOptions = MatcherTrainingOptions(),
                             log: (String) -> Void = { _ in }) throws -> (ImageTextMatcher, TrainingSummary) {
        let start = Date()
        let count = min(dataset.count, options.limit ?? dataset.count)
        guard options.epochs >= 1, options.batchSize >= 2, count >= options.batchSize, options.temperature > 0 else {
            throw EvaluationError("matcher: epochs >= 1 (\(options.epochs)), 2 <= batch size (\(options.batchSize)) <= examples (\(count)) "
                                  + "and temperature > 0 (\(options.temperature)) are needed")
        }
        let size = imageSize, load = Preprocess.defaultLoadSize(forCrop: size)
        let bank = try RealImages.decode(dataset, indices: Array(0..<count), loadSize: load, cropSize: options.augment ? load : size)
        let e = dataset.embeddingWidth, k = dataset.captionsPerImage
        let captions = Array(dataset.embeddings[0..<(count * k * e)])
        var rng = RandomGenerator(seed: options.seed)
        let model = ImageTextMatcher(embeddingWidth: e, width: options.width, hiddenWidth: options.hiddenWidth,
                                     jointWidth: options.jointWidth, using: &rng)
        let optimizer = Adam(parameters: model.parameters, learningRate: options.learningRate, betas: (0.9, 0.999))
        var steps = 0, lastLoss: Float = 0
        for epoch in 0..<options.epochs {
            var total: Double = 0, batches = 0
            for slots in shuffledBatches(count: count, batchSize: options.batchSize, using: &rng) {
                let images = try bank.batch(slots, cropSize: size, flips: false, using: &rng)
                var texts: [Float] = []
                for slot in slots {
                    let row = slot * k + Int(rng.next() % UInt64(k))
                    texts += captions[(row * e)..<((row + 1) * e)]
                }
                let u = try model(images, training: true)
                let v = try model.text(Tensor(shape: [slots.count, e], scalars: texts))
                let loss = try symmetricInfoNCE(image: u, text: v, temperature: options.temperature)
                model.zeroGrad()
                try loss.backward()
                try optimizer.update()
                total += Double(loss.item); batches += 1; steps += 1
            }
            lastLoss = Float(total / Double(max(batches, 1)))
            log(String(format: "matcher epoch %d/%d  loss %.4f  %.1fs", epoch + 1, options.epochs, lastLoss, Date().timeIntervalSince(start)))
        }
        return (model, TrainingSummary(examples: count, steps: steps, seconds: Date().timeIntervalSince(start), finalLoss: lastLoss))
    }

    /// The matcher for a dataset, from the cache or trained on `options.split` and written there.
    public static func cached(datasetPath: String, options: MatcherTrainingOptions = MatcherTrainingOptions(),
                              directory: URL = URL(fileURLWithPath: "runs/.classifiers"),
                              datasetOptions: DatasetOptions = DatasetOptions(),
                              log: (String) -> Void = { _ in }) throws -> (matcher: ImageTextMatcher, url: URL, training: TrainingSummary?) {
        let url = try ModelCache.url(formatTag: formatTag, datasetPath: datasetPath, options: options, directory: directory)
        let (model, training) = try ModelCache.cached(url: url, datasetPath: datasetPath, load: { try load(from: $0, dataset: datasetPath) }, train: {
            log("training the image-text matcher on \(datasetPath) [\(options.split)] (cached at \(url.path))")
            return try train(on: TextImageDataset.open(path: datasetPath, split: options.split, options: datasetOptions), options: options, log: log)
        }, save: { model, url, metadata in
            try model.save(to: url, extraMetadata: metadata.merging(["dataset": datasetPath, "split": options.split]) { a, _ in a })
        })
        return (model, url, training)
    }
}
