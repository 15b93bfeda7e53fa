import Autograd
import NN

/// What a generator returns for a batch of N captions.
public struct GeneratorOutput {
    /// [N, 3, S, S] in [-1, 1] (S = 64, or 256 for Stage-II).
    public let image: Tensor
    /// CA mean and log-variance [N, c] for the KL term; nil for GAN-CLS, which has no CA.
    public let mu: Tensor?
    public let logVariance: Tensor?
    /// The discriminator's condition for this batch, already cut from the graph: the CA mu [N, c]
    /// (StackGAN-Pytorch) or the caption embedding [N, E] (GAN-CLS; StackGAN with
    /// `model.discriminator_condition: embedding`, the TF original).
    public let condition: Tensor
    /// Stage-II only: the frozen Stage-I image [N, 3, 64, 64] it refined (no graph).
    public let stageOneImage: Tensor?
}

/// Logits of a discriminator for N (image, condition) pairs; heads end without Sigmoid.
public struct DiscriminatorLogits {
    /// [N]: "real image that matches the condition" (the conditional head).
    public let match: Tensor
    /// [N]: "real image", ignoring the condition; present only for a split head.
    public let real: Tensor?

    public init(match: Tensor, real: Tensor?) { self.match = match; self.real = real }
}

/// A text-conditioned image generator. `noise` is z [N, z_dim], `embedding` [N, E]. Sampling and
/// evaluation pass `training: false`. Draws from `generator` only for the CA eps.
public protocol TextToImageGenerator: Layer {
    func callAsFunction(embedding: Tensor, noise: Tensor, training: Bool,
                        using generator: inout RandomGenerator) throws -> GeneratorOutput
}

/// A text-conditioned discriminator, in two halves so a trainer can encode a batch once and score
/// it against several conditions (StackGAN-Pytorch's wrong pairs reuse the real features).
public protocol TextImageDiscriminator: Layer {
    var head: DiscriminatorHead { get }
    /// Image [N, 3, S, S] -> features [N, 8 ndf, 4, 4].
    func features(image: Tensor, training: Bool) throws -> Tensor
    /// Features [N, 8 ndf, 4, 4] and `GeneratorOutput.condition` [N, c or E] -> logits [N].
    func logits(features: Tensor, condition: Tensor, training: Bool) throws -> DiscriminatorLogits
}

extension TextImageDiscriminator {
    /// Both halves: image [N, 3, S, S], condition [N, c or E] -> logits [N].
    public func callAsFunction(image: Tensor, condition: Tensor, training: Bool) throws -> DiscriminatorLogits {
        try logits(features: features(image: image, training: training), condition: condition, training: training)
    }
}

/// The logits of the three kinds of pair one discriminator step scores.
public struct PairLogits {
    /// (image i, condition i), [N].
    public let real: DiscriminatorLogits
    /// (image i, condition i + 1), [N - 1]: a real image with another example's caption.
    public let wrong: DiscriminatorLogits
    /// (generated image i, condition i), [N].
    public let fake: DiscriminatorLogits
}

extension TextImageDiscriminator {
    /// StackGAN-Pytorch's discriminator pass: the real images are encoded once and their features
    /// serve both the real pairs and the wrong pairs (features [0, N-1) with conditions [1, N)), so
    /// train-mode BN sees the same batches as there. Images [N, 3, S, S], condition [N, c or E].
    /// For the D step pass `fakeImages` detached. Needs N >= 2.
    public func scorePairs(realImages: Tensor, fakeImages: Tensor, condition: Tensor, training: Bool) throws -> PairLogits {
        let n = realImages.shape.first ?? 0
        guard n >= 2 else { throw ShapeError("scorePairs", "wrong pairs need a batch of at least 2, got \(realImages.shape)") }
        let realFeatures = try features(image: realImages, training: training)
        let fakeFeatures = try features(image: fakeImages, training: training)
        return PairLogits(
            real: try logits(features: realFeatures, condition: condition, training: training),
            wrong: try logits(features: realFeatures.slicedBatch(0..<(n - 1)), condition: condition.slicedBatch(1..<n), training: training),
            fake: try logits(features: fakeFeatures, condition: condition, training: training))
    }
}

extension Tensor {
    /// [N, 1, 1, 1] -> [N].
    func flattenedLogits() throws -> Tensor {
        guard rank == 4, shape[1] == 1, shape[2] == 1, shape[3] == 1 else {
            throw ShapeError("logits", "expected [N, 1, 1, 1] from the last conv, got \(shape): are the features 4x4?")
        }
        return try reshaped([shape[0]])
    }
}
