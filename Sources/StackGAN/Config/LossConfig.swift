/// `loss:` the adversarial criterion and the discriminator terms' weights.

/// The adversarial criterion on logits. `bce`: the engine's stable BCE-with-logits (target 1 for
/// "real", 0 for "not"); `hinge` (DF-GAN): relu(1 - x) for "real", relu(1 + x) for "not", and the
/// generator's -x.
public enum AdversarialLoss: String, Codable, Sendable {
    case bce
    case hinge
}

/// Weights of the six discriminator terms; the match head scores (real, wrong, fake) pairs against
/// targets (1, 0, 0), the realness head scores the same images against (1, 1, 0) — a wrong pair is
/// still a real image. A zero weight skips the term.
public struct DiscriminatorLossWeights: Codable, Equatable, Sendable {
    public var realMatch: Float
    public var wrongMatch: Float
    public var fakeMatch: Float
    public var realRealness: Float
    public var wrongRealness: Float
    public var fakeRealness: Float

    enum CodingKeys: String, CodingKey {
        case realMatch = "real_match", wrongMatch = "wrong_match", fakeMatch = "fake_match"
        case realRealness = "real_realness", wrongRealness = "wrong_realness", fakeRealness = "fake_realness"
    }

    public init(realMatch: Float, wrongMatch: Float, fakeMatch: Float,
                realRealness: Float = 0, wrongRealness: Float = 0, fakeRealness: Float = 0) {
        (self.realMatch, self.wrongMatch, self.fakeMatch) = (realMatch, wrongMatch, fakeMatch)
        (self.realRealness, self.wrongRealness, self.fakeRealness) = (realRealness, wrongRealness, fakeRealness)
    }

    /// Single head (GAN-CLS, StackGAN Stage-I): real + w_wrong * wrong + w_fake * fake.
    public static func single(wrong: Float = 0.5, fake: Float = 0.5) -> Self {
        Self(realMatch: 1, wrongMatch: wrong, fakeMatch: fake)
    }

    /// StackGAN-Pytorch's split head: (cond_real + uncond_real)/2 + (cond_fake + cond_wrong + uncond_fake)/3;
    /// the realness head never sees wrong pairs.
    public static let stackganPytorch = Self(realMatch: 0.5, wrongMatch: 1.0 / 3, fakeMatch: 1.0 / 3,
                                             realRealness: 0.5, wrongRealness: 0, fakeRealness: 1.0 / 3)

    /// StackGAN-v2's split head (uncond coefficient 1): every term weight 1, wrong images count as real
    /// for the realness head.
    public static let stackganV2 = Self(realMatch: 1, wrongMatch: 1, fakeMatch: 1, realRealness: 1, wrongRealness: 1, fakeRealness: 1)
}

/// How a split head's discriminator terms are weighted, unless `LossConfig.weights` says otherwise.
public enum SplitHeadPreset: String, Codable, Sendable {
    case stackganPytorch = "stackgan_pytorch"
    case stackganV2 = "stackgan_v2"
}

/// Loss settings, decoded from snake_case keys; every key optional, defaults as StackGAN-Pytorch.
public struct LossConfig: Codable, Equatable, Sendable {
    /// `loss`: bce or hinge.
    public var loss = AdversarialLoss.bce
    /// `wrong_weight`, `fake_weight`: the single head's weights (0.5 each, GAN-CLS's cls_weight).
    public var wrongWeight: Float = 0.5
    public var fakeWeight: Float = 0.5
    /// `split_preset`: stackgan_pytorch or stackgan_v2.
    public var splitPreset = SplitHeadPreset.stackganPytorch
    /// `weights`: explicit weights for ablations; they replace the above for either head.
    @NullWhenAbsent public var weights: DiscriminatorLossWeights? = nil
    /// `kl_coefficient`: weight of the CA KL term in the generator loss.
    public var klCoefficient: Float = 2
    /// `interpolation_weight`: GAN-INT's extra generator term (0 = off).
    public var interpolationWeight: Float = 0
    /// `interpolation_beta`: t = beta * t_a + (1 - beta) * t_b.
    public var interpolationBeta: Float = 0.5
    /// `contrastive_weight`: XMC-GAN's InfoNCE over the batch's N x N (image, caption) pairs, for
    /// real images in the D step and for fakes in the G step, from the head's own match score:
    /// cosine of its image and caption vectors for projection, the match logit for single and
    /// split (`DiscriminatorHeadLayer.pairScores`). 0 = off; StackGAN heads only.
    public var contrastiveWeight: Float = 0
    /// `contrastive_temperature`: tau of the projection head's scores cos / tau (XMC-GAN: 0.1);
    /// match logits (single, split) are scores as they are.
    public var contrastiveTemperature: Float = 0.1
    /// `mode_seeking_weight`: MSGAN's term (Mao et al. 2019) in the generator loss, weight /
    /// (mean|G(t, z1) - G(t, z2)| / mean|z1 - z2| + 1e-5): it punishes a generator that draws the
    /// same picture for every noise (0 = off; costs a second generator pass).
    public var modeSeekingWeight: Float = 0
    /// `stage1_consistency_weight`: Stage-II only; weight of mean |avgpool(Stage-II image) - Stage-I
    /// image| in the generator loss, which keeps the colours and layout Stage-I drew (0 = off).
    public var stageOneConsistencyWeight: Float = 0
    /// `reconstruction_weight`: Stage-II only; weight of mean |image - real crop| on the rows refined
    /// from real images (`train.real_input_fraction`).
    public var reconstructionWeight: Float = 0
    /// `mix_choice_weight`: Stage-II with `model.stage2_mix_window` only; weight of the
    /// cross-entropy between the mix's choice of neighbour and the neighbours whose colour is the
    /// real crop's, on the rows refined from real images (`Tensor.neighbourChoiceLoss`).
    public var mixChoiceWeight: Float = 0
    /// `r1_weight`: gamma of R1 (Mescheder et al. 2018, StyleGAN2), gamma / 2 * the mean over the
    /// real matched pairs of |d D(x, t) / d x|^2, x the image before augmentation (every logit
    /// the head gives the pair: match, and realness for a split head). Needs gradients of
    /// gradients and a discriminator without batch norm (`model.spectral_norm: true`). 0 = off.
    public var r1Weight: Float = 0
    /// `r1_every`: lazy regularisation (StyleGAN2): R1 on every k-th discriminator step only,
    /// weighted k times.
    public var r1Every = 1
    /// `ma_gp_weight`: k of DF-GAN's matching-aware gradient penalty, k * the mean over the real
    /// matched pairs of |(d D / d x, d D / d e)|^p, the gradient of the match logit w.r.t. the
    /// image x (before augmentation) and the condition e the discriminator reads (the caption
    /// embedding with `discriminator_condition: embedding`, else the CA mu), concatenated per
    /// example. DF-GAN: k = 2, p = 6. Needs what R1 needs. 0 = off.
    public var maGPWeight: Float = 0
    /// `ma_gp_power`: p, an even number.
    public var maGPPower = 6

    enum CodingKeys: String, CodingKey {
        case loss, wrongWeight = "wrong_weight", fakeWeight = "fake_weight", splitPreset = "split_preset", weights
        case klCoefficient = "kl_coefficient", interpolationWeight = "interpolation_weight", interpolationBeta = "interpolation_beta"
        case contrastiveWeight = "contrastive_weight", contrastiveTemperature = "contrastive_temperature"
        case modeSeekingWeight = "mode_seeking_weight", stageOneConsistencyWeight = "stage1_consistency_weight"
        case reconstructionWeight = "reconstruction_weight", mixChoiceWeight = "mix_choice_weight"
        case r1Weight = "r1_weight", r1Every = "r1_every", maGPWeight = "ma_gp_weight", maGPPower = "ma_gp_power"
    }

    public init() {}

    /// The discriminator weights for a head: explicit `weights`, else the single weights or the preset.
    public func discriminatorWeights(for head: DiscriminatorHead) -> DiscriminatorLossWeights {
        weights ?? head.defaultWeights(self)
    }
}

/// An optional config value that a file may leave out: written as null when absent, so the defaults
/// tree ConfigLoader merges a file onto has its key (the synthesized encoder would leave the key out,
/// and the file's key would then be unknown).
@propertyWrapper
public struct NullWhenAbsent<Value: Codable & Equatable & Sendable>: Codable, Equatable, Sendable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        wrappedValue = c.decodeNil() ? nil : try c.decode(Value.self)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let wrappedValue { try c.encode(wrappedValue) } else { try c.encodeNil() }
    }
}
