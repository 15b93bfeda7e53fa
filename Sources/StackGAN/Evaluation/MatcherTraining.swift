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

/// What one training of the matcher did.
public struct MatcherTrainingSummary: Codable, Equatable {
    public var examples: Int
    public var steps: Int
    public var seconds: Double
    /// Mean contrastive loss of the last epoch (log B at chance).
    public var finalLoss: Float
}

extension ImageTextMatcher {
    /// Trains a fresh matcher on `dataset`'s real images, each step pairing every image of the
    /// batch with one of its captions drawn at random: Adam on the symmetric InfoNCE loss.
    public static func train(on dataset: TextImageDataset, options: MatcherTrainingOptions = MatcherTrainingOptions(),
                             log: (String) -> Void = { _ in }) throws -> (ImageTextMatcher, MatcherTrainingSummary) {
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
                let (loss, du, dv) = symmetricInfoNCE(images: u.scalars, texts: v.scalars, width: model.jointWidth,
                                                      temperature: options.temperature)
                // sum(u * du) + sum(v * dv) with the gradients held constant has the loss's gradient.
                let surrogate = try u.multiplying(Tensor(shape: u.shape, scalars: du)).sum()
                    .adding(v.multiplying(Tensor(shape: v.shape, scalars: dv)).sum())
                model.zeroGrad()
                try surrogate.backward()
                try optimizer.update()
                total += loss; batches += 1; steps += 1
            }
            lastLoss = Float(total / Double(max(batches, 1)))
            log(String(format: "matcher epoch %d/%d  loss %.4f  %.1fs", epoch + 1, options.epochs, lastLoss, Date().timeIntervalSince(start)))
        }
        return (model, MatcherTrainingSummary(examples: count, steps: steps, seconds: Date().timeIntervalSince(start), finalLoss: lastLoss))
    }

    /// The matcher for a dataset, from the cache or trained on `options.split` and written there.
    public static func cached(datasetPath: String, options: MatcherTrainingOptions = MatcherTrainingOptions(),
                              directory: URL = URL(fileURLWithPath: "runs/.classifiers"),
                              datasetOptions: DatasetOptions = DatasetOptions(),
                              log: (String) -> Void = { _ in }) throws -> (matcher: ImageTextMatcher, url: URL, training: MatcherTrainingSummary?) {
        let url = try ModelCache.url(formatTag: formatTag, datasetPath: datasetPath, options: options, directory: directory)
        let (model, training) = try ModelCache.cached(url: url, load: load(from:), train: {
            log("training the image-text matcher on \(datasetPath) [\(options.split)] (cached at \(url.path))")
            return try train(on: TextImageDataset.open(path: datasetPath, split: options.split, options: datasetOptions), options: options, log: log)
        }, save: { model, url, metadata in
            try model.save(to: url, extraMetadata: metadata.merging(["dataset": datasetPath, "split": options.split]) { a, _ in a })
        })
        return (model, url, training)
    }
}

/// The symmetric InfoNCE loss of B image embeddings u [B, J] against their B captions' embeddings
/// v [B, J] (both unnormalised), and its gradients with respect to u and v.
/// S = û v̂^T / T with x̂ = x / |x|; L = (CE(rows of S, diagonal) + CE(columns of S, diagonal)) / 2,
/// each the mean over B. dL/dS = ((softmax_rows(S) - I) + (softmax_cols(S) - I)) / 2B,
/// dL/dû = dL/dS v̂ / T, dL/dv̂ = dL/dS^T û / T, and dL/dx = (dL/dx̂ - x̂ <x̂, dL/dx̂>) / |x|. In Double.
func symmetricInfoNCE(images u: [Float], texts v: [Float], width e: Int, temperature: Float)
    -> (loss: Double, images: [Float], texts: [Float]) {
    let b = u.count / e, tau = Double(temperature)
    let (uHat, uNorms) = unitRows(u, width: e), (vHat, vNorms) = unitRows(v, width: e)
    var s = [Double](repeating: 0, count: b * b)
    for i in 0..<b { for j in 0..<b {
        var dot = 0.0
        for c in 0..<e { dot += uHat[i * e + c] * vHat[j * e + c] }
        s[i * b + j] = dot / tau
    } }
    var loss = 0.0
    var ds = [Double](repeating: 0, count: b * b)
    for transposed in [false, true] {
        for i in 0..<b {
            let line = (0..<b).map { transposed ? $0 * b + i : i * b + $0 }
            let top = line.map { s[$0] }.max() ?? 0
            let exps = line.map { Foundation.exp(s[$0] - top) }
            let total = exps.reduce(0, +)
            loss -= Foundation.log(exps[i] / total) / Double(2 * b)
            for j in 0..<b { ds[line[j]] += (exps[j] / total - (i == j ? 1 : 0)) / Double(2 * b) }
        }
    }
    /// dL/dx for rows x̂ = x / |x| scored against `other` through dS (rows of ds when !transposed).
    func gradient(_ hat: [Double], _ norms: [Double], against other: [Double], transposed: Bool) -> [Float] {
        var out = [Float](repeating: 0, count: b * e)
        for i in 0..<b {
            var dHat = [Double](repeating: 0, count: e)
            for j in 0..<b {
                let g = (transposed ? ds[j * b + i] : ds[i * b + j]) / tau
                for c in 0..<e { dHat[c] += g * other[j * e + c] }
            }
            let along = (0..<e).reduce(0.0) { $0 + hat[i * e + $1] * dHat[$1] }
            for c in 0..<e { out[i * e + c] = Float((dHat[c] - hat[i * e + c] * along) / norms[i]) }
        }
        return out
    }
    return (loss, gradient(uHat, uNorms, against: vHat, transposed: false), gradient(vHat, vNorms, against: uHat, transposed: true))
}

/// Rows [B * width] divided by their lengths, in Double, and the lengths (at least 1e-12).
private func unitRows(_ x: [Float], width e: Int) -> (rows: [Double], norms: [Double]) {
    let b = x.count / e
    let norms = (0..<b).map { i in max((0..<e).reduce(0.0) { $0 + Double(x[i * e + $1]) * Double(x[i * e + $1]) }.squareRoot(), 1e-12) }
    return ((0..<(b * e)).map { Double(x[$0]) / norms[$0 / e] }, norms)
}
