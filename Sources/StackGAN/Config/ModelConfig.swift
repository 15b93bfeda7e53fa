import Foundation

/// What the conditioning augmentation applies to its fc output before splitting it into mu and
/// log-variance: ReLU as StackGAN-Pytorch (whose numbers we match), LeakyReLU(0.2) as the TF original.
public enum CAActivation: String, Codable, Sendable {
    case relu
    case leakyRelu = "leaky_relu"
}

/// What StackGAN's discriminator matches images against. `ca_mu`: the generator's CA mu [N, c],
/// detached (StackGAN-Pytorch), which only the generator trains. `embedding`: the caption embedding
/// [N, E], through the discriminator's own Linear(E, c) + LeakyReLU(0.2) trained by its loss (the
/// TF original StackGAN, as GAN-CLS).
public enum DiscriminatorCondition: String, Codable, Sendable {
    case caMu = "ca_mu"
    case embedding
}

/// Where the StackGAN Stage-I generator reads its condition code c_hat [N, c]. `input`: once,
/// concatenated with z before the fc (published). `every_block`: also in each up-block, whose
/// batch-norm output is modulated per example and channel, h * (1 + gamma(c_hat)) + beta(c_hat)
/// (conditional batch norm, as BigGAN's and DF-GAN's generators), so the caption keeps shaping the
/// image at every resolution instead of only through the 4x4 seed.
public enum GeneratorConditioning: String, Codable, Sendable {
    case input
    case everyBlock = "every_block"
}

/// How Stage-II (`stage2_residual`) brings its 64 px input to 256 px before adding its correction.
/// `nearest` repeats each pixel 4x4 (blocky stairs on every edge the correction must remove);
/// `bicubic` interpolates (soft edges the correction must sharpen).
public enum Stage2Upsampling: String, Codable, Sendable {
    case nearest
    case bicubic
}

/// Widths of the StackGAN and GAN-CLS models, decoded by ConfigLoader from snake_case keys (which
/// fills the published defaults and rejects unknown keys); `Architecture` validates them.
public struct ModelConfig: Codable, Equatable, Sendable {
    /// `embedding_dim`, E: width of a caption embedding.
    public var embeddingDimension = 1024
    /// `z_dim`: width of the N(0, 1) noise.
    public var noiseDimension = 100
    /// `condition_dim`, c: width of the CA code (and of GAN-CLS's text projection).
    public var conditionDimension = 128
    /// `gf_dim`, ngf: generator width (Stage-I's first map has 8 ngf channels).
    public var generatorWidth = 128
    /// `stage2_gf_dim`: the Stage-II generator's own ngf (0 = `gf_dim`, as published). `gf_dim`
    /// must stay the Stage-I run's, which Stage-II rebuilds frozen; this widens Stage-II alone,
    /// whose last maps are only ngf/2 and ngf/4 channels at 128 and 256 px.
    public var stage2GeneratorWidth = 0
    /// `df_dim`, ndf: discriminator width.
    public var discriminatorWidth = 64
    /// `residual_blocks`, R: Stage-II residual blocks.
    public var residualBlocks = 4
    /// `ca_activation`.
    public var caActivation = CAActivation.relu
    /// `stage1_head`: single, as StackGAN-Pytorch's STAGE1_D.
    public var stage1Head = DiscriminatorHead.single
    /// `stage2_head`: split, as StackGAN-Pytorch's STAGE2_D.
    public var stage2Head = DiscriminatorHead.split
    /// `embedding_scale`: a fixed factor on the caption embedding where it enters the model (the CA
    /// fc of both generators, GAN-CLS's text projections). 1 is the published behaviour. The published
    /// N(0, 0.02) init suits char-CNN-RNN embeddings whose components are of order 1; an L2-normalised
    /// E-wide embedding (sentence encoders such as all-MiniLM-L6-v2) has components of order 1/sqrt(E),
    /// so its CA mu starts ~sqrt(E) times smaller, drowned by the CA noise (std >= 1) and pinned at 0 by
    /// the KL term: the generator then ignores the caption. sqrt(E) (19.6 for E = 384) restores
    /// components of RMS 1. Checkpoints store it with the config, so generate and evaluate apply it.
    public var embeddingScale: Float = 1
    /// `discriminator_condition`: ca_mu, as StackGAN-Pytorch (whose numbers we match); embedding, as
    /// the TF original. Applies to both StackGAN stages; GAN-CLS always conditions on the embedding.
    public var discriminatorCondition = DiscriminatorCondition.caMu
    /// `spectral_norm`: spectrally normalise every discriminator conv and linear (Miyato et al.
    /// 2018, one power-iteration step per training forward, u saved as `*.weight_u`); such a
    /// discriminator has no batch norm, as SNGAN's. Off as published.
    public var spectralNorm = false
    /// `stage2_residual`: Stage-II draws a correction to its Stage-I input instead of a new image:
    /// image = up4(Stage-I image) + img(h), so it starts near the nearest-upsampled Stage-I image
    /// and keeps its colours and layout while it learns detail. Off as published
    /// (StackGAN's Stage-II draws the 256x256 image from scratch).
    public var stage2Residual = false
    /// `stage2_upsample`: see `Stage2Upsampling`; nearest as before this option.
    public var stage2Upsample = Stage2Upsampling.nearest
    /// `stage2_mix_window`: Stage-II's 256 px image is a learned per-pixel mix of its 64 px input's
    /// pixels in a w x w window (`Tensor.neighbourMix`; w odd, 0 = off), scored from the 64 px maps
    /// (the decoder stops there): each 256 px pixel chooses among its neighbours' colours, so
    /// Stage-II can place a hard edge anywhere in the window, in the input's own colours (kernel
    /// prediction). Replaces `stage2_residual`'s correction. Off as published.
    public var stage2MixWindow = 0
    /// `stage2_mix_temperature`: in eval mode (sampling, `generate`, `evaluate`) the mix's logits
    /// are divided by it (1 = as trained). Trained by a cross-entropy, the mix gives each pixel the
    /// probability of each neighbour's colour; where an edge's sub-pixel place is uncertain that
    /// mean is a ramp several pixels wide. Below 1 each pixel commits to its likeliest colours, so
    /// the edge is drawn where the mix believes it most likely, one or two pixels wide.
    public var stage2MixTemperature: Float = 1
    /// `stage2_mix_smoothing`: with `stage2_mix_window`, the range sigma (in [-1, 1] units of colour
    /// distance) of a bilateral filter on the 64 px input before the mix (0 = off): the mix can only
    /// reuse its input's colours, and Stage-I's flat areas are mottled; the filter averages small
    /// variations away and keeps steps well above sigma (edges).
    public var stage2MixSmoothing: Float = 0
    /// `stage2_mix_smoothing_passes`: how many times that filter runs, each on the last one's
    /// output. One pass leaves blotches wider than its 5x5 window as faint steps between 4x4
    /// blocks at 256 px; more passes flatten them further, still stopping at edges.
    public var stage2MixSmoothingPasses = 1
    /// `stage2_skips`: Stage-II's decoder also reads its encoder's 64x64 and 32x32 maps (U-Net
    /// skips, concatenated before the up-blocks that take them), so where an edge of the 64 px
    /// input lies reaches the 256 px correction without passing the 16x16 bottleneck. Off as published.
    public var stage2Skips = false
    /// `generator_conditioning` (Stage-I generator only; a Stage-II config builds its frozen Stage-I
    /// with it, so it must be its Stage-I run's): see `GeneratorConditioning`. `input` as published.
    public var generatorConditioning = GeneratorConditioning.input

    enum CodingKeys: String, CodingKey {
        case embeddingDimension = "embedding_dim", noiseDimension = "z_dim", conditionDimension = "condition_dim"
        case generatorWidth = "gf_dim", stage2GeneratorWidth = "stage2_gf_dim", discriminatorWidth = "df_dim", residualBlocks = "residual_blocks"
        case caActivation = "ca_activation", stage1Head = "stage1_head", stage2Head = "stage2_head"
        case embeddingScale = "embedding_scale", discriminatorCondition = "discriminator_condition"
        case spectralNorm = "spectral_norm", stage2Residual = "stage2_residual"
        case stage2Upsample = "stage2_upsample", stage2Skips = "stage2_skips", stage2MixWindow = "stage2_mix_window"
        case stage2MixTemperature = "stage2_mix_temperature", stage2MixSmoothing = "stage2_mix_smoothing"
        case stage2MixSmoothingPasses = "stage2_mix_smoothing_passes"
        case generatorConditioning = "generator_conditioning"
    }

    public init() {}

    /// Stage-II's ngf: `stage2_gf_dim`, else `gf_dim`.
    public var stageTwoGeneratorWidth: Int { stage2GeneratorWidth > 0 ? stage2GeneratorWidth : generatorWidth }
}
