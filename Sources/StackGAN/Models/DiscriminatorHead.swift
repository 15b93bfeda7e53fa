import Autograd
import NN

/// The discriminator's logit head on its [N, 8 ndf, 4, 4] features: the one place that lists the
/// heads. A new head is a case here (its three switches below) and one file with its layers.
/// `single`: one conditional logit ("real image and matching caption"). `split`: that logit plus an
/// unconditional realness logit.
public enum DiscriminatorHead: String, Codable, Sendable, CaseIterable {
    case single
    case split

    /// Whether the head has a realness logit (`DiscriminatorLogits.real`), and so realness loss terms.
    public var scoresRealness: Bool {
        switch self {
        case .single: return false
        case .split: return true
        }
    }

    /// Whether a family's discriminator can carry this head (GAN-CLS has its own single logit only).
    public func fits(_ family: ModelFamily) -> Bool {
        switch self {
        case .single: return true
        case .split: return family == .stackgan
        }
    }

    /// The discriminator loss weights when the config gives no explicit `loss.weights`.
    func defaultWeights(_ loss: LossConfig) -> DiscriminatorLossWeights {
        switch self {
        case .single: return .single(wrong: loss.wrongWeight, fake: loss.fakeWeight)
        case .split: return loss.splitPreset == .stackganPytorch ? .stackganPytorch : .stackganV2
        }
    }

    /// The head's layers, freshly initialised: `featureChannels` = 8 ndf, `conditionWidth` = c.
    func makeLayer(family: ModelFamily, featureChannels: Int, conditionWidth: Int,
                   using generator: inout RandomGenerator) -> any DiscriminatorHeadLayer {
        switch self {
        case .single where family == .ganCLS:
            return GANCLSMatchHead(featureChannels: featureChannels, conditionWidth: conditionWidth, using: &generator)
        case .single: return MatchHead(featureChannels: featureChannels, conditionWidth: conditionWidth, using: &generator)
        case .split: return SplitHead(featureChannels: featureChannels, conditionWidth: conditionWidth, using: &generator)
        }
    }
}

/// A head's layers: features [N, 8 ndf, 4, 4] and the condition code [N, c] (the CA mu, or the
/// discriminator's projection of the caption) -> logits [N]. `namedTensors` are the full
/// checkpoint names inside the discriminator (StackGAN-Pytorch's keys where it has the head).
public protocol DiscriminatorHeadLayer: Layer {
    func callAsFunction(features: Tensor, condition: Tensor, training: Bool) throws -> DiscriminatorLogits
}
