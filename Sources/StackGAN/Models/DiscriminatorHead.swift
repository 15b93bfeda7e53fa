import Autograd
import NN

extension DiscriminatorHead {
    /// The head's layers, freshly initialised: `featureChannels` = 8 ndf, `conditionWidth` = c;
    /// `spectralNorm` (`model.spectral_norm`): spectrally normalised, without batch norm.
    func makeLayer(family: ModelFamily, featureChannels: Int, conditionWidth: Int, spectralNorm: Bool,
                   using generator: inout RandomGenerator) -> any DiscriminatorHeadLayer {
        let (f, c, sn) = (featureChannels, conditionWidth, spectralNorm)
        switch self {
        case .single where family == .ganCLS: return GANCLSMatchHead(featureChannels: f, conditionWidth: c, spectralNorm: sn, using: &generator)
        case .single: return MatchHead(featureChannels: f, conditionWidth: c, spectralNorm: sn, using: &generator)
        case .split: return SplitHead(featureChannels: f, conditionWidth: c, spectralNorm: sn, using: &generator)
        case .projection: return ProjectionHead(featureChannels: f, conditionWidth: c, spectralNorm: sn, using: &generator)
        }
    }
}

/// A head's layers: features [N, 8 ndf, 4, 4] and the condition code [N, c] (the CA mu, or the
/// discriminator's projection of the caption) -> logits [N]. `namedTensors` are the full
/// checkpoint names inside the discriminator (StackGAN-Pytorch's keys where it has the head).
public protocol DiscriminatorHeadLayer: Layer {
    func callAsFunction(features: Tensor, condition: Tensor, training: Bool) throws -> DiscriminatorLogits
    /// The contrastive term's scores of every image of the batch against every caption
    /// (`loss.contrastive_weight`); nil when the head cannot rank captions for an image.
    func pairScores(features: Tensor, condition: Tensor, temperature: Float, training: Bool) throws -> PairScores?
}

/// What the contrastive term (symmetric InfoNCE) reads: for N images and their N captions, two
/// [N, N] score matrices whose diagonals hold the true pairs. Row i of `imageToText` scores image
/// i against every caption; row j of `textToImage` scores caption j against every image.
public struct PairScores {
    public let imageToText: Tensor
    public let textToImage: Tensor

    /// Cosine similarities over `temperature` of image vectors [N, d] and caption vectors [N, d]
    /// (CLIP, XMC-GAN).
    public static func cosine(image: Tensor, text: Tensor, temperature: Float) throws -> PairScores {
        let i = try image.l2NormalizedRows(), t = try text.l2NormalizedRows()
        return PairScores(imageToText: try i.linear(weight: t, bias: nil).scaled(by: 1 / temperature),
                          textToImage: try t.linear(weight: i, bias: nil).scaled(by: 1 / temperature))
    }
}

extension DiscriminatorHeadLayer {
    public func pairScores(features: Tensor, condition: Tensor, temperature: Float, training: Bool) throws -> PairScores? { nil }
}
