import Autograd
import Foundation
import NN

/// A trained generator ready to make images from caption embeddings, for `stackgan generate`.
///
/// Sampling always runs in eval mode without gradients, in batches of at most `maxBatchSize`.
/// Every random number an image depends on (z and the CA eps) is an explicit per-image row, so an
/// image does not change with the batch it lands in, and an interpolation can hold the CA eps fixed
/// while it walks between captions.
public final class Sampler {
    /// Eval-mode BN uses running statistics, so batching is only a memory bound, not a numerical one.
    public static let maxBatchSize = 64

    public let generator: any TextToImageGenerator
    public let config: ExperimentConfig
    public let architecture: Architecture
    /// Where the Stage-II generator's frozen Stage-I weights came from (nil for other generators).
    public let stageOneSource: String?

    /// Loads `checkpoint` with `Checkpoint.load` (its EMA weights when it has them; a Stage-II
    /// checkpoint without its `STAGE1_G.*` tensors takes them from `stageOneCheckpoint`).
    public init(checkpoint path: String, stageOneCheckpoint: String? = nil) throws {
        let models = try Checkpoint.load(path, stageOne: stageOneCheckpoint)
        generator = models.generator
        config = models.config
        architecture = models.architecture
        stageOneSource = models.stageOneSource
    }

    public var embeddingWidth: Int { config.model.embeddingDimension }
    public var noiseWidth: Int { config.model.noiseDimension }
    public var imageSize: Int { architecture.imageSize }

    /// `count` rows of noise z [z_dim] drawn from `seed`.
    public func noiseRows(count: Int, seed: UInt64) -> [[Float]] {
        var rng = RandomGenerator(seed: seed)
        return (0..<count).map { _ in rng.normals(noiseWidth) }
    }

    /// `count` rows of CA eps [conditioningNoiseWidth] drawn from `seed`.
    public func conditioningNoiseRows(count: Int, seed: UInt64) -> [[Float]] {
        var rng = RandomGenerator(seed: seed)
        return (0..<count).map { _ in rng.normals(conditioningNoiseWidth) }
    }

    /// The noise of `count` sample columns for `seed`: z row k from `seed`, CA eps row k from
    /// `seed + 1`. Column k uses the same rows for every caption, and the first rows do not depend
    /// on `count`, so `generate` and `serve` draw the same image for the same caption, seed and column.
    public func columnNoise(count: Int, seed: UInt64) -> (noise: [[Float]], conditioningNoise: [[Float]]) {
        (noiseRows(count: count, seed: seed), conditioningNoiseRows(count: count, seed: seed &+ 1))
    }

    /// Floats of CA eps one image uses: 0 for GAN-CLS, c for Stage-I, 2c for Stage-II.
    public var conditioningNoiseWidth: Int { architecture.conditioningNoiseWidth }

    /// Images [N, 3, S, S] in [-1, 1], row-major, for N rows of `embeddings` [N, E], `noise`
    /// [N, z] and `conditioningNoise` [N, conditioningNoiseWidth].
    public func images(embeddings: [Float], noise: [Float], conditioningNoise: [Float]) throws -> [Float] {
        let (e, z, c) = (embeddingWidth, noiseWidth, conditioningNoiseWidth)
        let n = embeddings.count / e
        guard embeddings.count == n * e, noise.count == n * z, conditioningNoise.count == n * c else {
            throw ShapeError("Sampler.images", "\(embeddings.count) embedding, \(noise.count) noise and \(conditioningNoise.count) CA-noise floats do not make whole rows of \(e), \(z) and \(c) for the same N")
        }
        var out: [Float] = []
        out.reserveCapacity(n * 3 * imageSize * imageSize)
        for start in stride(from: 0, to: n, by: Self.maxBatchSize) {
            let rows = start..<min(n, start + Self.maxBatchSize)
            let m = rows.count
            let batch = try withoutGradients {
                try generate(embedding: Tensor(shape: [m, e], scalars: Array(embeddings[(rows.lowerBound * e)..<(rows.upperBound * e)])),
                             noise: Tensor(shape: [m, z], scalars: Array(noise[(rows.lowerBound * z)..<(rows.upperBound * z)])),
                             eps: Array(conditioningNoise[(rows.lowerBound * c)..<(rows.upperBound * c)]), count: m)
            }
            try Self.requireFinite(batch, embeddings: embeddings[(rows.lowerBound * e)..<(rows.upperBound * e)], width: e, firstRow: rows.lowerBound)
            out += batch.scalars
        }
        return out
    }

    /// Refuses images [m, 3, S, S] with a NaN or infinite pixel (drawn white or black, they would
    /// pass for a result): finite but huge caption embeddings overflow the generator. `embeddings`
    /// [m, width] are the rows the images came from; `firstRow` numbers the first image in messages.
    public static func requireFinite(_ images: Tensor, embeddings: ArraySlice<Float>, width: Int, firstRow: Int) throws {
        let plane = images.count / max(images.shape.first ?? 1, 1)
        guard let bad = images.scalars.firstIndex(where: { !$0.isFinite }) else { return }
        let row = bad / max(plane, 1), start = embeddings.startIndex + row * width
        let largest = embeddings[start..<min(embeddings.endIndex, start + width)].map(abs).max() ?? 0
        throw StackGANError(.unusableInput, "image \(firstRow + row)", "the generator produced \(images.scalars[bad]) from a caption embedding whose largest value is \(largest); expected embeddings like the training data's (unit length)")
    }

    private func generate(embedding: Tensor, noise: Tensor, eps: [Float], count m: Int) throws -> Tensor {
        let c = config.model.conditionDimension
        switch generator {
        case let g as Stage2Generator:
            // Each row is [Stage-I eps | Stage-II eps], split into two [m, c] tensors.
            var first: [Float] = [], second: [Float] = []
            for i in 0..<m {
                first += eps[(2 * i * c)..<((2 * i + 1) * c)]
                second += eps[((2 * i + 1) * c)..<((2 * i + 2) * c)]
            }
            return try g(embedding: embedding, noise: noise, conditioningNoise: Tensor(shape: [m, c], scalars: second),
                         stageOneConditioningNoise: Tensor(shape: [m, c], scalars: first), training: false).image
        case let g as Stage1Generator:
            return try g(embedding: embedding, noise: noise, conditioningNoise: Tensor(shape: [m, c], scalars: eps),
                         training: false).image
        default:
            var unused = RandomGenerator(seed: 0)  // GAN-CLS has no CA and draws nothing
            return try generator(embedding: embedding, noise: noise, training: false, using: &unused).image
        }
    }

    /// `steps` points on the line from `a` to `b`, both ends included (steps >= 2). The ends are
    /// exactly `a` and `b` ((1 - t) a + t b, not a + t (b - a)), so they reproduce plain samples.
    public static func interpolate(from a: [Float], to b: [Float], steps: Int) -> [[Float]] {
        (0..<steps).map { k in
            let t = Float(k) / Float(max(steps - 1, 1))
            return zip(a, b).map { (1 - t) * $0 + t * $1 }
        }
    }
}
