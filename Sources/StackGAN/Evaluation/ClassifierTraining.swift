import Autograd
import Datasets
import Foundation
import NN

// Shape letters: B batch, K classes of a head.

/// Settings for training a `ConditionClassifier`; part of its cache key, so changing one retrains.
public struct ClassifierTrainingOptions: Codable, Equatable {
    /// The split the classifier learns from (evaluation reports its accuracy on the eval split).
    public var split = "train"
    /// 20 epochs reach about 96% on the real shapes test images (92% at 15) in ~12 s on 2 cores.
    public var epochs = 20
    public var batchSize = 32
    public var learningRate: Float = 2e-3
    /// Channels of the first conv (then 2x, 4x, 4x).
    public var width = 16
    /// F, the penultimate width the FID is computed in. Kept below the eval split's size (200 on
    /// shapes) so the real covariance is estimated from more rows than it has dimensions.
    public var featureWidth = 64
    /// Attribute labels (`/attributes/<split>/<name>`) that get a head when the dataset has them.
    /// Not `position`: the global max pooling deliberately discards where the object is.
    public var attributes = ["shape", "color", "size", "background"]
    public var seed: UInt64 = 0
    /// Random 64 px crops of the 76 px image and flips, as the generator's training data had:
    /// generated objects sit anywhere a random crop can put them, a centre-crop-only classifier
    /// would be judging the generator partly on framing. Evaluation always uses the centre crop.
    public var augment = true
    /// Use only the first `limit` examples (tests); nil = all.
    public var limit: Int?

    public init() {}
}

/// What one training of an evaluation model (the classifier or the matcher) did.
public struct TrainingSummary: Codable, Equatable {
    public var examples: Int
    public var steps: Int
    public var seconds: Double
    /// Mean loss of the last epoch: the classifier's cross-entropy summed over its heads, the
    /// matcher's contrastive loss (log B at chance).
    public var finalLoss: Float
}

extension ConditionClassifier {
    /// Trains a fresh classifier on the real images, class labels and attribute labels of
    /// `dataset` (one split): Adam on the sum of the heads' softmax cross-entropies. Images are
    /// decoded once and kept at load size 76.
    public static func train(on dataset: TextImageDataset, options: ClassifierTrainingOptions = ClassifierTrainingOptions(),
                             log: (String) -> Void = { _ in }) throws -> (ConditionClassifier, TrainingSummary) {
        let start = Date()
        guard !dataset.classNames.isEmpty else {
            throw EvaluationError("\(dataset.file): split '\(dataset.split)' has no class labels; condition accuracy and the classifier need them")
        }
        guard options.epochs >= 1, options.batchSize >= 2, options.width >= 1, options.featureWidth >= 2 else {
            throw EvaluationError("classifier: epochs >= 1, batch size >= 2, width >= 1 and feature width >= 2 are needed")
        }
        let count = min(dataset.count, options.limit ?? dataset.count)
        let examples = (0..<count).filter { dataset.classIndices[$0] >= 0 }
        guard examples.count >= options.batchSize else {
            throw EvaluationError("classifier: \(examples.count) labelled examples in '\(dataset.split)' for batch size \(options.batchSize)")
        }
        let size = imageSize, load = Preprocess.defaultLoadSize(forCrop: size)
        let bank = try RealImages.decode(dataset, indices: examples, loadSize: load, cropSize: options.augment ? load : size)
        log(String(format: "classifier: %d real images decoded in %.1fs", examples.count, Date().timeIntervalSince(start)))
        var attributes: [String: [String]] = [:]
        for name in options.attributes { if let values = dataset.attributes[name] { attributes[name] = Array(Set(values)).sorted() } }
        var rng = RandomGenerator(seed: options.seed)
        let model = ConditionClassifier(classNames: dataset.classNames, attributes: attributes, width: options.width,
                                        featureWidth: options.featureWidth, using: &rng)
        // targets[h][slot]: head h's label of examples[slot] (-1: none, left out of that head's loss).
        let targets = model.headLabels(of: dataset).map { labels in examples.map { labels[$0] ?? -1 } }
        let optimizer = Adam(parameters: model.parameters, learningRate: options.learningRate, betas: (0.9, 0.999))
        let b = options.batchSize
        var steps = 0, lastLoss: Float = 0
        for epoch in 0..<options.epochs {
            var total: Double = 0, batches = 0
            for slots in shuffledBatches(count: examples.count, batchSize: b, using: &rng) {
                let images = try bank.batch(slots, cropSize: size, flips: options.augment, using: &rng)
                let (_, logits) = try model(images, training: true)
                var loss: Tensor?
                for (h, l) in logits.enumerated() {
                    let term = try l.softmaxCrossEntropy(targets: slots.map { targets[h][$0] })
                    loss = try loss.map { try $0.adding(term) } ?? term
                    total += Double(term.item)
                }
                model.zeroGrad()
                try loss?.backward()
                try optimizer.update()
                batches += 1; steps += 1
            }
            lastLoss = Float(total / Double(max(batches, 1)))
            log(String(format: "classifier epoch %d/%d  loss %.4f  %.1fs", epoch + 1, options.epochs, lastLoss, Date().timeIntervalSince(start)))
        }
        return (model, TrainingSummary(examples: examples.count, steps: steps, seconds: Date().timeIntervalSince(start),
                                                 finalLoss: lastLoss))
    }

    /// Accuracy on the centre crops of `dataset`'s real images (the ceiling of condition accuracy).
    /// Examples whose class the classifier does not know are left out and counted.
    public func realAccuracy(on dataset: TextImageDataset) throws -> (accuracy: Double, counted: Int, unknown: Int) {
        let labels = labels(of: dataset)
        let known = labels.indices.filter { labels[$0] != nil }
        guard !known.isEmpty else { return (0, 0, labels.count) }
        let bank = try RealImages.decode(dataset, indices: known, loadSize: Preprocess.defaultLoadSize(forCrop: Self.imageSize),
                                         cropSize: Self.imageSize)
        let predicted = try predict(bank.tensor()).labels[0]
        let (accuracy, counted) = labelAccuracy(predicted: predicted, truth: known.map { labels[$0] })
        return (accuracy, counted, labels.count - known.count)
    }
}

/// Index batches of a shuffled 0..<count, whole batches only (a last batch of one would break
/// train-mode batch norm).
func shuffledBatches(count: Int, batchSize b: Int, using rng: inout RandomGenerator) -> [[Int]] {
    var order = Array(0..<count)
    for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
    return stride(from: 0, to: count - b + 1, by: b).map { Array(order[$0..<($0 + b)]) }
}
