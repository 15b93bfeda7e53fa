import Autograd
import Foundation
import NN

/// `GeneratorOutput.condition` of a StackGAN generator, cut from the graph: its CA mu [N, c]
/// (`discriminator_condition: ca_mu`, StackGAN-Pytorch) or the caption embedding [N, E] (`embedding`,
/// the TF original; the discriminator projects and scales it itself).
func discriminatorCondition(_ config: ModelConfig, embedding: Tensor, mu: Tensor) -> Tensor {
    switch config.discriminatorCondition {
    case .caMu: return mu.detached()
    case .embedding: return embedding.detached()
    }
}

/// StackGAN Stage-I generator (STAGE1_G), caption [N, E] + z [N, z_dim] -> image [N, 3, 64, 64].
/// cat(z, c_hat) -> `fc` Linear(z+c, 8ngf*16, no bias), BN1d, ReLU -> [N, 8ngf, 4, 4]
/// -> `upsample1..4` to [N, ngf/2, 64, 64] -> `img` conv3x3 to 3 channels, tanh.
/// With `generator_conditioning: every_block`, `condition1..4` (ConditionalAffine) modulate the
/// up-blocks by c_hat.
public final class Stage1Generator: TextToImageGenerator {
    public let config: ModelConfig
    public let caNet: ConditioningAugmentation
    public let fc: Linear
    public let fcNorm: BatchNorm
    public let upsample: [UpBlock]
    /// One per up-block with `every_block`, else empty.
    public let conditioners: [ConditionalAffine]
    public let img: Conv2d

    public init(config: ModelConfig, using generator: inout RandomGenerator) {
        self.config = config
        let ngf = config.generatorWidth * 8, c = config.conditionDimension
        caNet = ConditioningAugmentation(embeddingDimension: config.embeddingDimension, conditionDimension: c,
                                         activation: config.caActivation, inputScale: config.embeddingScale, using: &generator)
        fc = Linear(inputs: config.noiseDimension + c, outputs: ngf * 16, bias: false, using: &generator)
        fcNorm = BatchNorm(channels: ngf * 16, using: &generator)
        var blocks: [UpBlock] = []
        let widths = [(ngf, ngf / 2), (ngf / 2, ngf / 4), (ngf / 4, ngf / 8), (ngf / 8, ngf / 16)]
        for (i, o) in widths { blocks.append(UpBlock(i, o, using: &generator)) }
        upsample = blocks
        img = conv3x3(ngf / 16, 3, using: &generator)
        // Drawn last, so the published layers keep their init sequence.
        conditioners = config.generatorConditioning == .everyBlock
            ? widths.map { ConditionalAffine(conditionWidth: c, channels: $0.1, using: &generator) } : []
    }

    /// With the CA eps [N, c] given (parity tests; Stage-II passes the eps it drew for Stage-I).
    public func callAsFunction(embedding: Tensor, noise: Tensor, conditioningNoise eps: Tensor,
                               training: Bool) throws -> GeneratorOutput {
        let code = try caNet(embedding, noise: eps)
        var h = try fcNorm(fc(Tensor.concatChannels([noise, code.sample])), training: training).relu()
        h = try h.reshaped([-1, config.generatorWidth * 8, 4, 4])
        for (k, block) in upsample.enumerated() {
            h = try block(h, modulation: k < conditioners.count ? conditioners[k](code.sample) : nil, training: training)
        }
        return GeneratorOutput(image: try img(h).tanh(), mu: code.mu, logVariance: code.logVariance,
                               condition: discriminatorCondition(config, embedding: embedding, mu: code.mu), stageOneImage: nil)
    }

    public func callAsFunction(embedding: Tensor, noise: Tensor, training: Bool,
                               using generator: inout RandomGenerator) throws -> GeneratorOutput {
        let eps = Tensor.randomNormal(examples: embedding.shape.first ?? 0, width: config.conditionDimension, using: &generator)
        return try self(embedding: embedding, noise: noise, conditioningNoise: eps, training: training)
    }

    public var namedTensors: [NamedTensor] {
        caNet.namedTensors(prefix: "ca_net") + fc.namedTensors(prefix: "fc.0") + fcNorm.namedTensors(prefix: "fc.1")
            + upsample.enumerated().flatMap { $1.namedTensors(prefix: "upsample\($0 + 1)") } + img.namedTensors(prefix: "img.0")
            + conditioners.enumerated().flatMap { $1.namedTensors(prefix: "condition\($0 + 1)") }
    }
}

/// StackGAN Stage-II generator (STAGE2_G), caption [N, E] + z [N, z_dim] -> image [N, 3, 256, 256].
/// The frozen Stage-I generator (`STAGE1_G.*`, same z, eval mode, no gradients) makes [N, 3, 64, 64];
/// `encoder` conv3x3 ReLU, down BN ReLU, down BN ReLU -> [N, 4ngf, 16, 16]; its own CA code tiled to
/// 16x16 and concatenated after the image features; `hr_joint` conv3x3 BN ReLU; R `residual` blocks;
/// `upsample1..4` -> [N, ngf/4, 256, 256]; `img` conv3x3 to 3, tanh (or, with `stage2_residual`,
/// added to the upsampled Stage-I image: see `corrected`).
///
/// Stage-I's tensors are listed in `namedTensors` (checkpoints hold them, as StackGAN-Pytorch's do)
/// but as buffers, so `parameters` (the optimizer's list) is Stage-II's own only.
public final class Stage2Generator: TextToImageGenerator {
    public let config: ModelConfig
    public let stageOne: Stage1Generator
    public let caNet: ConditioningAugmentation
    public let encoder: ConvStack
    public let joint: Conv2d
    public let jointNorm: BatchNorm
    public let residual: [ResidualBlock]
    public let upsample: [UpBlock]
    public let img: Conv2d

    /// Takes `stageOne` (typically loaded from a Stage-I checkpoint) and freezes it.
    public init(config: ModelConfig, stageOne: Stage1Generator, using generator: inout RandomGenerator) {
        self.config = config
        self.stageOne = stageOne
        stageOne.setTrainable(false)
        let ngf = config.generatorWidth, c = config.conditionDimension
        caNet = ConditioningAugmentation(embeddingDimension: config.embeddingDimension, conditionDimension: c,
                                         activation: config.caActivation, inputScale: config.embeddingScale, using: &generator)
        let first = conv3x3(3, ngf, using: &generator)
        let rest = [down(ngf, 2 * ngf, using: &generator), down(2 * ngf, 4 * ngf, using: &generator)]
        encoder = ConvStack(first: first, rest: rest, slope: 0, using: &generator)
        joint = conv3x3(4 * ngf + c, 4 * ngf, using: &generator)
        jointNorm = BatchNorm(channels: 4 * ngf, using: &generator)
        var blocks: [ResidualBlock] = []
        for _ in 0..<config.residualBlocks { blocks.append(ResidualBlock(channels: 4 * ngf, using: &generator)) }
        residual = blocks
        var ups: [UpBlock] = []
        for (i, o) in [(4 * ngf, 2 * ngf), (2 * ngf, ngf), (ngf, ngf / 2), (ngf / 2, ngf / 4)] {
            ups.append(UpBlock(i, o, using: &generator))
        }
        upsample = ups
        img = conv3x3(ngf / 4, 3, using: &generator)
    }

    /// With both CA eps given, [N, c] each: `conditioningNoise` for Stage-II's CA,
    /// `stageOneConditioningNoise` for the frozen Stage-I's.
    public func callAsFunction(embedding: Tensor, noise: Tensor, conditioningNoise eps: Tensor,
                               stageOneConditioningNoise stageOneEps: Tensor, training: Bool) throws -> GeneratorOutput {
        let lowResolution = try withoutGradients {
            try stageOne(embedding: embedding, noise: noise, conditioningNoise: stageOneEps, training: false).image
        }
        let encoded = try encoder(lowResolution, training: training)
        let code = try caNet(embedding, noise: eps)
        let tiled = try code.sample.tiled(height: encoded.shape[2], width: encoded.shape[3])
        var h = try jointNorm(joint(Tensor.concatChannels([encoded, tiled])), training: training).relu()
        for block in residual { h = try block(h, training: training) }
        for block in upsample { h = try block(h, training: training) }
        let out = try img(h)
        let image = config.stage2Residual ? try Self.corrected(lowResolution, by: out) : try out.tanh()
        return GeneratorOutput(image: image, mu: code.mu, logVariance: code.logVariance,
                               condition: discriminatorCondition(config, embedding: embedding, mu: code.mu),
                               stageOneImage: lowResolution)
    }

    /// `stage2_residual`: the Stage-I image [N, 3, s, s], nearest-upsampled to the correction's
    /// [N, 3, S, S], plus the correction, in pixel space and without a squashing function. Adding
    /// it inside the tanh instead (tanh(correction + artanh(up(image)))) passed almost no gradient
    /// where Stage-I is saturated (tanh' = 0.002 at artanh(0.999)), which is most pixels of a
    /// flat background.
    static func corrected(_ image: Tensor, by correction: Tensor) throws -> Tensor {
        let up = try withoutGradients {
            var x = image
            while x.shape[2] < correction.shape[2] { x = try x.upsampleNearest2x() }
            return x
        }
        return try correction.adding(up)
    }

    /// Draws Stage-I's eps, then Stage-II's (StackGAN-Pytorch's order).
    public func callAsFunction(embedding: Tensor, noise: Tensor, training: Bool,
                               using generator: inout RandomGenerator) throws -> GeneratorOutput {
        let rows = embedding.shape.first ?? 0
        let stageOneEps = Tensor.randomNormal(examples: rows, width: config.conditionDimension, using: &generator)
        let eps = Tensor.randomNormal(examples: rows, width: config.conditionDimension, using: &generator)
        return try self(embedding: embedding, noise: noise, conditioningNoise: eps, stageOneConditioningNoise: stageOneEps,
                        training: training)
    }

    public var namedTensors: [NamedTensor] {
        let frozen = stageOne.namedTensors(prefix: "STAGE1_G").map { NamedTensor($0.name, $0.tensor, isParameter: false) }
        return frozen + caNet.namedTensors(prefix: "ca_net") + encoder.namedTensors(prefix: "encoder")
            + joint.namedTensors(prefix: "hr_joint.0") + jointNorm.namedTensors(prefix: "hr_joint.1")
            + residual.enumerated().flatMap { $1.namedTensors(prefix: "residual.\($0)") }
            + upsample.enumerated().flatMap { $1.namedTensors(prefix: "upsample\($0 + 1)") } + img.namedTensors(prefix: "img.0")
    }
}
