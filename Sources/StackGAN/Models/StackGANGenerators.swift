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
    /// The side of its images.
    public static let imageSize = 64
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
/// added to the upsampled Stage-I image: see `corrected`). With `stage2_mix_window` w the decoder
/// stops at 64 px (`upsample1..2`) and `mix_hidden`/`mix` score, for every 256 px pixel, the w x w
/// Stage-I pixels around it; the image is their softmax-weighted mix (`Tensor.neighbourMix`), of the
/// Stage-I image or, with `stage2_mix_smoothing`, its bilateral-filtered copy (`mixPalette`).
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
    /// The image layer: conv3x3 to 3 channels at 256 px (nil with `stage2_mix_window`).
    public let img: Conv2d?
    /// `stage2_mix_window` w > 0: the 64 px maps -> conv1x1 to 16 w*w channels -> pixel shuffle
    /// to the w*w logits of `Tensor.neighbourMix` at 256 px (`mix.0`): each of the 16 sub-positions
    /// of a 64 px pixel gets its own filter (ESPCN), so the choice of colour is made at 256 px
    /// from 64 px features without 128 and 256 px maps.
    public let mix: Conv2d?
    /// The mix head's hidden layer (`mix_hidden.0`): conv1x1 + ReLU from the 64 px maps and the
    /// input's 3x3 neighbourhoods (each neighbour's colour minus the centre's, and the centre's).
    public let mixHidden: Conv2d?

    /// The mix's centre-tap logit offset: with zero logits the centre pixel of a 5 x 5 window
    /// weighs e^2 / (e^2 + 24) = 0.24, its neighbours 0.03 each: a soft start whose taps all get
    /// gradient (at 4 the centre took 0.69 and the mix settled on nearest-neighbour upsampling).
    static let mixCentreBias: Float = 2

    /// Takes `stageOne` (typically loaded from a Stage-I checkpoint) and freezes it.
    public init(config: ModelConfig, stageOne: Stage1Generator, using generator: inout RandomGenerator) {
        self.config = config
        self.stageOne = stageOne
        stageOne.setTrainable(false)
        let ngf = config.stageTwoGeneratorWidth, c = config.conditionDimension
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
        // With skips the 32x32 and 64x64 maps arrive with the encoder's maps of that size beside them.
        let skip = config.stage2Skips ? 2 : 1, w = config.stage2MixWindow
        for (i, o) in [(4 * ngf, 2 * ngf), (2 * ngf * skip, ngf), (ngf * skip, ngf / 2), (ngf / 2, ngf / 4)].prefix(w > 0 ? 2 : 4) {
            ups.append(UpBlock(i, o, using: &generator))
        }
        upsample = ups
        img = w > 0 ? nil : conv3x3(ngf / 4, 3, using: &generator)
        let hidden = 4 * ngf
        mixHidden = w > 0 ? Conv2d(inputs: ngf * skip + 27, outputs: hidden, kernel: 1, bias: true, using: &generator) : nil
        mix = w > 0 ? Conv2d(inputs: hidden, outputs: 16 * w * w, kernel: 1, using: &generator) : nil
    }

    /// With both CA eps given, [N, c] each: `conditioningNoise` for Stage-II's CA,
    /// `stageOneConditioningNoise` for the frozen Stage-I's.
    public func callAsFunction(embedding: Tensor, noise: Tensor, conditioningNoise eps: Tensor,
                               stageOneConditioningNoise stageOneEps: Tensor, training: Bool) throws -> GeneratorOutput {
        let lowResolution = try withoutGradients {
            try stageOne(embedding: embedding, noise: noise, conditioningNoise: stageOneEps, training: false).image
        }
        return try refine(lowResolution, embedding: embedding, conditioningNoise: eps, training: training)
    }

    /// Stage-II proper: a 64 px image [N, 3, 64, 64] (Stage-I's, or in training a real image
    /// brought down to 64 px) and its caption [N, E] -> [N, 3, 256, 256]. `stageOneImage` of the
    /// output is `lowResolution`.
    public func refine(_ lowResolution: Tensor, embedding: Tensor, conditioningNoise eps: Tensor,
                       training: Bool) throws -> GeneratorOutput {
        let maps = try encoder.outputs(lowResolution, training: training)  // 64x64, 32x32, 16x16
        let encoded = maps[maps.count - 1]
        let code = try caNet(embedding, noise: eps)
        let tiled = try code.sample.tiled(height: encoded.shape[2], width: encoded.shape[3])
        var h = try jointNorm(joint(Tensor.concatChannels([encoded, tiled])), training: training).relu()
        for block in residual { h = try block(h, training: training) }
        func withSkip(_ h: Tensor) throws -> Tensor {
            guard config.stage2Skips, let skip = maps.first(where: { $0.shape[2] == h.shape[2] }), skip !== encoded else { return h }
            return try Tensor.concatChannels([h, skip])
        }
        for block in upsample { h = try block(withSkip(h), training: training) }
        let image: Tensor
        var mixLogits: Tensor?, palette = lowResolution
        if let mix, let mixHidden {
            // `stage2_mix_smoothing`: the colours the mix chooses from, Stage-I's mottle averaged away.
            if config.stage2MixSmoothing > 0 {
                palette = try bilateralSmoothed(lowResolution, rangeSigma: config.stage2MixSmoothing, passes: config.stage2MixSmoothingPasses)
            }
            let patches = try withoutGradients { try palette.conv2d(weight: Self.neighbourhood, padding: 1) }
            let hidden = try mixHidden(Tensor.concatChannels([withSkip(h), patches])).relu()
            let logits = try mix(hidden).pixelShuffled(factor: 4)
            // Sampling commits to the likeliest colours (`stage2_mix_temperature`); training keeps
            // the probabilities the choice loss fits.
            let sharpen = training ? 1 : 1 / config.stage2MixTemperature
            image = try palette.neighbourMix(logits: sharpen == 1 ? logits : logits.scaled(by: sharpen), window: config.stage2MixWindow,
                                                   centreBias: Self.mixCentreBias * sharpen)
            mixLogits = logits
        } else if let img {
            let out = try img(h)
            image = try config.stage2Residual ? Self.corrected(lowResolution, by: out, upsampling: config.stage2Upsample) : out.tanh()
        } else {
            throw ShapeError("Stage2Generator", "has neither an image layer nor a mix head")
        }
        var output = GeneratorOutput(image: image, mu: code.mu, logVariance: code.logVariance,
                               condition: discriminatorCondition(config, embedding: embedding, mu: code.mu),
                               stageOneImage: lowResolution)
        output.mixLogits = mixLogits
        output.mixPalette = palette
        return output
    }

    /// `stage2_residual`: the Stage-I image [N, 3, s, s], upsampled (`stage2_upsample`) to the
    /// correction's [N, 3, S, S], plus the correction, in pixel space and without a squashing
    /// function. Adding it inside the tanh instead (tanh(correction + artanh(up(image)))) passed
    /// almost no gradient where Stage-I is saturated (tanh' = 0.002 at artanh(0.999)), which is
    /// most pixels of a flat background.
    static func corrected(_ image: Tensor, by correction: Tensor, upsampling: Stage2Upsampling) throws -> Tensor {
        let up = try withoutGradients {
            switch upsampling {
            case .bicubic: return try bicubicUpsampled(image, factor: correction.shape[2] / max(image.shape[2], 1))
            case .nearest:
                var x = image
                while x.shape[2] < correction.shape[2] { x = try x.upsampleNearest2x() }
                return x
            }
        }
        return try correction.adding(up)
    }

    /// A fixed conv [27, 3, 3, 3] giving each pixel's 3x3 neighbourhood in 27 channels: for the
    /// 8 neighbours (tap t, channel c at 3t + c) their colour minus the centre's, for the centre
    /// its colour. Relative colours make the choice of neighbour the same for every colour pair.
    static let neighbourhood: Tensor = {
        var w = [Float](repeating: 0, count: 27 * 3 * 9)
        for t in 0..<9 { for c in 0..<3 {
            let o = 3 * t + c
            w[(o * 3 + c) * 9 + t] += 1
            if t != 4 { w[(o * 3 + c) * 9 + 4] -= 1 }
        } }
        return (try? Tensor(shape: [27, 3, 3, 3], scalars: w)) ?? Tensor(repeating: 0, shape: [27, 3, 3, 3])
    }()

    /// `loss.mix_choice_weight`: the choice loss of the rows `rows` of `output` against the real
    /// crops `target` [rows, 3, 256, 256] they were made from (`Tensor.neighbourChoiceLoss`, with
    /// the generator's window and centre bias; temperature 0.05: a neighbour 13 levels of 255 off
    /// the target weighs e^-2 of one that matches).
    func mixChoiceLoss(_ output: GeneratorOutput, rows: Range<Int>, target: Tensor) throws -> Tensor? {
        guard let logits = output.mixLogits, let low = output.mixPalette else { return nil }
        return try low.slicedBatch(rows).neighbourChoiceLoss(logits: logits.slicedBatch(rows), target: target,
                                                             window: config.stage2MixWindow, centreBias: Self.mixCentreBias,
                                                             temperature: 0.05)
    }

    /// Draws Stage-I's eps, then Stage-II's (StackGAN-Pytorch's order).
    public func callAsFunction(embedding: Tensor, noise: Tensor, training: Bool,
                               using generator: inout RandomGenerator) throws -> GeneratorOutput {
        try self(embedding: embedding, noise: noise, realLowResolution: nil, training: training, using: &generator)
    }

    /// As above, with the first k rows refined from `realLowResolution` [k, 3, 64, 64] (real images
    /// brought to 64 px: `train.real_input_fraction`) instead of from Stage-I's samples.
    public func callAsFunction(embedding: Tensor, noise: Tensor, realLowResolution real: Tensor?, training: Bool,
                               using generator: inout RandomGenerator) throws -> GeneratorOutput {
        let rows = embedding.shape.first ?? 0
        let stageOneEps = Tensor.randomNormal(examples: rows, width: config.conditionDimension, using: &generator)
        let eps = Tensor.randomNormal(examples: rows, width: config.conditionDimension, using: &generator)
        guard let real else {
            return try self(embedding: embedding, noise: noise, conditioningNoise: eps, stageOneConditioningNoise: stageOneEps,
                            training: training)
        }
        let sampled = try withoutGradients {
            try stageOne(embedding: embedding, noise: noise, conditioningNoise: stageOneEps, training: false).image
        }
        guard real.count <= sampled.count, Array(real.shape.dropFirst()) == Array(sampled.shape.dropFirst()) else {
            throw ShapeError("Stage2Generator", "real inputs \(real.shape) do not fit Stage-I's images \(sampled.shape)")
        }
        var pixels = sampled.scalars
        real.scalars.withUnsafeBufferPointer { pixels.replaceSubrange(0..<real.count, with: $0) }
        return try refine(Tensor(shape: sampled.shape, scalars: pixels), embedding: embedding, conditioningNoise: eps, training: training)
    }

    public var namedTensors: [NamedTensor] {
        let frozen = stageOne.namedTensors(prefix: "STAGE1_G").map { NamedTensor($0.name, $0.tensor, isParameter: false) }
        return frozen + caNet.namedTensors(prefix: "ca_net") + encoder.namedTensors(prefix: "encoder")
            + joint.namedTensors(prefix: "hr_joint.0") + jointNorm.namedTensors(prefix: "hr_joint.1")
            + residual.enumerated().flatMap { $1.namedTensors(prefix: "residual.\($0)") }
            + upsample.enumerated().flatMap { $1.namedTensors(prefix: "upsample\($0 + 1)") } + (img?.namedTensors(prefix: "img.0") ?? [])
            + (mixHidden?.namedTensors(prefix: "mix_hidden.0") ?? []) + (mix?.namedTensors(prefix: "mix.0") ?? [])
    }
}
