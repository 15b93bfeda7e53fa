import Autograd
import NN

/// The projection head (Miyato & Koyama 2018), with the caption code in place of a class
/// embedding: phi = the features [N, C, 4, 4] summed over the grid -> [N, C]; logit = psi(phi) +
/// <phi, embed(code)>, `psi` Linear(C, 1), `embed` Linear(c, C) without bias, code the
/// discriminator's condition code [N, c]. One logit for "real and matching" whose match part is an
/// inner product. Its (phi, embed(code)) are also the contrastive term's image and text vectors.
/// Names `get_projection_logits.psi.*`, `get_projection_logits.embed.*`.
public final class ProjectionHead: DiscriminatorHeadLayer {
    public let psi: Linear
    public let embed: Linear

    public init(featureChannels: Int, conditionWidth: Int, spectralNorm: Bool = false, using generator: inout RandomGenerator) {
        psi = Linear(inputs: featureChannels, outputs: 1, spectralNorm: spectralNorm, using: &generator)
        embed = Linear(inputs: conditionWidth, outputs: featureChannels, bias: false, spectralNorm: spectralNorm, using: &generator)
    }

    public func callAsFunction(features: Tensor, condition: Tensor, training: Bool) throws -> DiscriminatorLogits {
        let m = try vectors(features: features, condition: condition, training: training)
        let n = features.shape[0]
        let realness = try psi(m.image, training: training).reshaped([n])
        return DiscriminatorLogits(match: try realness.adding(m.image.multiplying(m.text).rowSums()), real: nil)
    }

    /// The cosine similarities of phi and embed(code) over `temperature` (XMC-GAN's contrastive
    /// scores; the inner product the logit adds, normalised).
    public func pairScores(features: Tensor, condition: Tensor, temperature: Float, training: Bool) throws -> PairScores? {
        let v = try vectors(features: features, condition: condition, training: training)
        return try .cosine(image: v.image, text: v.text, temperature: temperature)
    }

    /// phi [N, C] and embed(code) [N, C].
    private func vectors(features: Tensor, condition: Tensor, training: Bool) throws -> (image: Tensor, text: Tensor) {
        let (n, c) = (features.shape[0], features.shape[1])
        let phi = try features.reshaped([n * c, features.count / (n * c)]).rowSums().reshaped([n, c])
        return (phi, try embed(condition, training: training))
    }

    public var namedTensors: [NamedTensor] {
        psi.namedTensors(prefix: "get_projection_logits.psi") + embed.namedTensors(prefix: "get_projection_logits.embed")
    }
}
