import Autograd
import NN

/// Which StackGAN stage a discriminator judges: 64x64 (STAGE1_D) or 256x256 (STAGE2_D) images.
public enum StackGANStage: Int, Codable, Sendable {
    case one = 1
    case two = 2
}

/// StackGAN discriminator (STAGE1_D / STAGE2_D). `encode_img`: down(3, ndf) LReLU, then down + BN
/// LReLU to 8ndf (Stage-I, 64 -> 4) or to 32ndf then conv3x3 to 16ndf and 8ndf (Stage-II, 256 -> 4):
/// image [N, 3, S, S] -> features [N, 8ndf, 4, 4].
/// `get_cond_logits` (D_GET_LOGITS): condition [N, c] tiled 4x4 after the features, conv3x3(8ndf+c,
/// 8ndf) BN LReLU, Conv(8ndf, 1, 4, stride 4, bias) -> match [N]. Split head adds
/// `get_uncond_logits`: Conv(8ndf, 1, 4, stride 4, bias) on the features -> real [N].
/// The published heads end in Sigmoid; ours return the logits before it (BCE-with-logits).
/// With `model.discriminator_condition: embedding` (the TF original) the condition is the caption
/// embedding [N, E] instead, through D's own `get_cond_logits.projection.0` Linear(E, c) LeakyReLU(0.2)
/// (input times `model.embedding_scale`, as the CA's) before the tiling.
public final class StackGANDiscriminator: TextImageDiscriminator {
    public let stage: StackGANStage
    public let head: DiscriminatorHead
    public let encoder: ConvStack
    public let conditionConv: Conv2d
    public let conditionNorm: BatchNorm
    public let conditionLogit: Conv2d
    public let realnessLogit: Conv2d?
    /// `discriminator_condition: embedding` only: Linear(E, c) of the caption, trained by D's loss.
    public let projection: Linear?
    /// `model.embedding_scale`, applied to the caption before `projection`.
    public let embeddingScale: Float

    /// The head is `config.stage1Head` or `config.stage2Head`.
    public init(stage: StackGANStage, config: ModelConfig, using generator: inout RandomGenerator) {
        self.stage = stage
        head = stage == .one ? config.stage1Head : config.stage2Head
        let ndf = config.discriminatorWidth
        switch stage {
        case .one:
            encoder = ConvStack(downWidths: [ndf, 2 * ndf, 4 * ndf, 8 * ndf], slope: 0.2, using: &generator)
        case .two:
            let first = down(3, ndf, using: &generator)
            var rest: [Conv2d] = []
            for (i, o) in [(ndf, 2 * ndf), (2 * ndf, 4 * ndf), (4 * ndf, 8 * ndf), (8 * ndf, 16 * ndf), (16 * ndf, 32 * ndf)] {
                rest.append(down(i, o, using: &generator))
            }
            rest += [conv3x3(32 * ndf, 16 * ndf, using: &generator), conv3x3(16 * ndf, 8 * ndf, using: &generator)]
            encoder = ConvStack(first: first, rest: rest, slope: 0.2, using: &generator)
        }
        conditionConv = conv3x3(8 * ndf + config.conditionDimension, 8 * ndf, using: &generator)
        conditionNorm = BatchNorm(channels: 8 * ndf, using: &generator)
        conditionLogit = Conv2d(inputs: 8 * ndf, outputs: 1, kernel: 4, stride: 4, bias: true, using: &generator)
        realnessLogit = head == .split
            ? Conv2d(inputs: 8 * ndf, outputs: 1, kernel: 4, stride: 4, bias: true, using: &generator) : nil
        // Drawn last, so the `ca_mu` layers keep their published init sequence.
        projection = config.discriminatorCondition == .embedding
            ? Linear(inputs: config.embeddingDimension, outputs: config.conditionDimension, using: &generator) : nil
        embeddingScale = config.embeddingScale
    }

    public func features(image: Tensor, training: Bool) throws -> Tensor {
        try encoder(image, training: training)
    }

    /// `condition` is `GeneratorOutput.condition`, detached: the generator's CA mu [N, c] (`ca_mu`),
    /// or the caption embedding [N, E] (`embedding`), which `projection` maps to [N, c].
    public func logits(features: Tensor, condition: Tensor, training: Bool) throws -> DiscriminatorLogits {
        var code = condition
        if let projection {
            let scaled = embeddingScale == 1 ? condition : condition.scaled(by: embeddingScale)
            code = try projection(scaled).leakyRelu(slope: 0.2)
        }
        let tiled = try code.tiled(height: 4, width: 4)
        let h = try conditionNorm(conditionConv(Tensor.concatChannels([features, tiled])), training: training).leakyRelu(slope: 0.2)
        return DiscriminatorLogits(match: try conditionLogit(h).flattenedLogits(),
                                   real: try realnessLogit.map { try $0(features).flattenedLogits() })
    }

    public var namedTensors: [NamedTensor] {
        encoder.namedTensors(prefix: "encode_img") + conditionConv.namedTensors(prefix: "get_cond_logits.outlogits.0")
            + conditionNorm.namedTensors(prefix: "get_cond_logits.outlogits.1")
            + conditionLogit.namedTensors(prefix: "get_cond_logits.outlogits.3")
            + (realnessLogit?.namedTensors(prefix: "get_uncond_logits.outlogits.0") ?? [])
            + (projection?.namedTensors(prefix: "get_cond_logits.projection.0") ?? [])
    }
}
