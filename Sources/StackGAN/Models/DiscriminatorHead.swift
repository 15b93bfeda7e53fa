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
    /// Image and caption vectors [N, d] in one space (for `loss.contrastive_weight`); nil when the
    /// head has no such space.
    func matchingFeatures(features: Tensor, condition: Tensor, training: Bool) throws -> MatchingFeatures?
}

/// What the contrastive term compares: image i with caption i against the batch's other pairs.
public struct MatchingFeatures {
    /// [N, d] each.
    public let image: Tensor
    public let text: Tensor
}

extension DiscriminatorHeadLayer {
    public func matchingFeatures(features: Tensor, condition: Tensor, training: Bool) throws -> MatchingFeatures? { nil }
}
