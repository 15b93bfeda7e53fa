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
    /// Stage-II with `stage2_mix_window` only: the mix's logits [N, w*w, 256, 256] (on the graph).
    public var mixLogits: Tensor? = nil
    /// Stage-II with `stage2_mix_window` only: the 64 px image [N, 3, 64, 64] whose colours the mix
    /// takes: `stageOneImage`, smoothed with `stage2_mix_smoothing` (no graph).
    public var mixPalette: Tensor? = nil
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
    /// The same inputs -> the contrastive term's scores of every image against every caption (nil:
    /// the head cannot rank captions).
    func pairScores(features: Tensor, condition: Tensor, temperature: Float, training: Bool) throws -> PairScores?
}

extension TextImageDiscriminator {
    /// Both halves: image [N, 3, S, S], condition [N, c or E] -> logits [N].
    public func callAsFunction(image: Tensor, condition: Tensor, training: Bool) throws -> DiscriminatorLogits {
        try logits(features: features(image: image, training: training), condition: condition, training: training)
    }
}

/// The logits of the three kinds of pair one discriminator step scores, [N] each.
public struct PairLogits {
    /// (image i, condition i).
    public let real: DiscriminatorLogits
    /// (wrong image i, condition i): a real image with another example's caption.
    public let wrong: DiscriminatorLogits
    /// (generated image i, condition i).
    public let fake: DiscriminatorLogits
    /// The real images' features [N, 8 ndf, 4, 4] (the contrastive term reads them).
    public let realFeatures: Tensor
}

extension TextImageDiscriminator {
    /// The discriminator pass training runs (and the parity test checks). Images [N, 3, S, S],
    /// condition [N, c or E]; pass `fakeImages` detached for the D step. `wrongImages` are real
    /// images of other captions (`wrong_pairs: differentClass`), or nil for `shift`: wrong image i
    /// is real image i + 1 (mod N), whose features are the real ones rolled by one: the same
    /// numbers as encoding the shifted batch, since train-mode batch statistics do not depend on
    /// order, for a third less discriminator work. Each BN layer sees real, (wrong,) fake batches
    /// in that order. Needs N >= 2.
    public func scorePairs(realImages: Tensor, wrongImages: Tensor? = nil, fakeImages: Tensor, condition: Tensor,
                           training: Bool) throws -> PairLogits {
        guard realImages.shape.first ?? 0 >= 2 else {
            throw ShapeError("scorePairs", "wrong pairs need a batch of at least 2, got \(realImages.shape)")
        }
        let realFeatures = try features(image: realImages, training: training)
        let wrongFeatures = try wrongImages.map { try features(image: $0, training: training) } ?? realFeatures.rolledBatch(by: 1)
        let real = try logits(features: realFeatures, condition: condition, training: training)
        let wrong = try logits(features: wrongFeatures, condition: condition, training: training)
        let fake = try self(image: fakeImages, condition: condition, training: training)
        return PairLogits(real: real, wrong: wrong, fake: fake, realFeatures: realFeatures)
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
