import Autograd
import NN

/// The discriminator's logit head on its [N, 8 ndf, 4, 4] features: the one place that lists the
/// heads. A new head is a case here (its three switches below) and one file with its layers.
/// `single`: one conditional logit ("real image and matching caption"). `split`: that logit plus an
/// unconditional realness logit. `projection`: one logit psi(phi) + <phi, W code> (Miyato & Koyama
/// 2018), whose match part is an inner product.
public enum DiscriminatorHead: String, Codable, Sendable, CaseIterable {
    case single
    case split
    case projection

    /// Whether the head has a realness logit (`DiscriminatorLogits.real`), and so realness loss terms.
    public var scoresRealness: Bool {
        switch self {
        case .single, .projection: return false
        case .split: return true
        }
    }

    /// Whether a family's discriminator can carry this head (GAN-CLS has its own single logit only).
    public func fits(_ family: ModelFamily) -> Bool {
        switch self {
        case .single, .projection: return true
        case .split: return family == .stackgan
        }
    }

    /// The discriminator loss weights when the config gives no explicit `loss.weights`.
    func defaultWeights(_ loss: LossConfig) -> DiscriminatorLossWeights {
        switch self {
        case .single, .projection: return .single(wrong: loss.wrongWeight, fake: loss.fakeWeight)
        case .split: return loss.splitPreset == .stackganPytorch ? .stackganPytorch : .stackganV2
        }
    }

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
