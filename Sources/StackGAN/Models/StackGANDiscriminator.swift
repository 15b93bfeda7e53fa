import Autograd
import NN

/// StackGAN discriminator (STAGE1_D / STAGE2_D): the encoder `encode_img`, down(3, ndf) LReLU, then
/// down + BN LReLU to 8ndf (Stage-I, 64 -> 4) or to 32ndf then conv3x3 to 16ndf and 8ndf (Stage-II,
/// 256 -> 4): image [N, 3, S, S] -> features [N, 8ndf, 4, 4]; then the head (`DiscriminatorHead`).
/// With `model.discriminator_condition: embedding` (the TF original) the condition is the caption
/// embedding [N, E] instead of the CA mu, through D's own `get_cond_logits.projection.0` Linear(E, c)
/// LeakyReLU(0.2) (input times `model.embedding_scale`, as the CA's) before the head.
public final class StackGANDiscriminator: TextImageDiscriminator {
    public let stage: StackGANStage
    public let head: DiscriminatorHead
    public let encoder: ConvStack
    public let headLayer: any DiscriminatorHeadLayer
    /// `discriminator_condition: embedding` only: Linear(E, c) of the caption, trained by D's loss.
    public let projection: Linear?
    /// `model.embedding_scale`, applied to the caption before `projection`.
    public let embeddingScale: Float

    public init(stage: StackGANStage, head: DiscriminatorHead, config: ModelConfig, using generator: inout RandomGenerator) {
        self.stage = stage
        self.head = head
        let ndf = config.discriminatorWidth, sn = config.spectralNorm
        switch stage {
        case .one:
            encoder = ConvStack(downWidths: [ndf, 2 * ndf, 4 * ndf, 8 * ndf], slope: 0.2, spectralNorm: sn, using: &generator)
        case .two:
            let first = down(3, ndf, spectralNorm: sn, using: &generator)
            var rest: [Conv2d] = []
            for (i, o) in [(ndf, 2 * ndf), (2 * ndf, 4 * ndf), (4 * ndf, 8 * ndf), (8 * ndf, 16 * ndf), (16 * ndf, 32 * ndf)] {
                rest.append(down(i, o, spectralNorm: sn, using: &generator))
            }
            rest += [conv3x3(32 * ndf, 16 * ndf, spectralNorm: sn, using: &generator),
                     conv3x3(16 * ndf, 8 * ndf, spectralNorm: sn, using: &generator)]
            encoder = ConvStack(first: first, rest: rest, slope: 0.2, batchNorm: !sn, using: &generator)
        }
        headLayer = head.makeLayer(family: .stackgan, featureChannels: 8 * ndf, conditionWidth: config.conditionDimension,
                                   spectralNorm: sn, using: &generator)
        // Drawn last, so the `ca_mu` layers keep their published init sequence.
        projection = config.discriminatorCondition == .embedding
            ? Linear(inputs: config.embeddingDimension, outputs: config.conditionDimension, spectralNorm: sn, using: &generator) : nil
        embeddingScale = config.embeddingScale
    }

    public func features(image: Tensor, training: Bool) throws -> Tensor {
        try encoder(image, training: training)
    }

    /// `condition` is `GeneratorOutput.condition`, detached: the generator's CA mu [N, c] (`ca_mu`),
    /// or the caption embedding [N, E] (`embedding`), which `projection` maps to [N, c].
    public func logits(features: Tensor, condition: Tensor, training: Bool) throws -> DiscriminatorLogits {
        try headLayer(features: features, condition: code(condition, training: training), training: training)
    }

    public func pairScores(features: Tensor, condition: Tensor, temperature: Float, training: Bool) throws -> PairScores? {
        try headLayer.pairScores(features: features, condition: code(condition, training: training), temperature: temperature,
                                 training: training)
    }

    /// The condition code [N, c] the head reads: the condition itself (`ca_mu`), or D's projection.
    private func code(_ condition: Tensor, training: Bool) throws -> Tensor {
        guard let projection else { return condition }
        let scaled = embeddingScale == 1 ? condition : condition.scaled(by: embeddingScale)
        return try projection(scaled, training: training).leakyRelu(slope: 0.2)
    }

    public var namedTensors: [NamedTensor] {
        encoder.namedTensors(prefix: "encode_img") + headLayer.namedTensors
            + (projection?.namedTensors(prefix: "get_cond_logits.projection.0") ?? [])
    }
}
