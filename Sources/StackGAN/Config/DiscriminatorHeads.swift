/// The discriminator's logit head on its [N, 8 ndf, 4, 4] features, as a config names it
/// (`model.stage1_head`, `model.stage2_head`), with the facts the config checks read. The one
/// place that lists the heads: a new head is a case here (its switches below), its line in
/// `makeLayer` (Models/DiscriminatorHead.swift) and one file with its layers in Models/Heads/.
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
}
