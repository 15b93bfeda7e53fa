import Autograd

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
    public var weights: DiscriminatorLossWeights?
    /// `kl_coefficient`: weight of the CA KL term in the generator loss.
    public var klCoefficient: Float = 2
    /// `interpolation_weight`: GAN-INT's extra generator term (0 = off).
    public var interpolationWeight: Float = 0
    /// `interpolation_beta`: t = beta * t_a + (1 - beta) * t_b.
    public var interpolationBeta: Float = 0.5

    enum CodingKeys: String, CodingKey {
        case loss, wrongWeight = "wrong_weight", fakeWeight = "fake_weight", splitPreset = "split_preset", weights
        case klCoefficient = "kl_coefficient", interpolationWeight = "interpolation_weight", interpolationBeta = "interpolation_beta"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LossConfig()
        loss = try c.decodeIfPresent(AdversarialLoss.self, forKey: .loss) ?? d.loss
        wrongWeight = try c.decodeIfPresent(Float.self, forKey: .wrongWeight) ?? d.wrongWeight
        fakeWeight = try c.decodeIfPresent(Float.self, forKey: .fakeWeight) ?? d.fakeWeight
        splitPreset = try c.decodeIfPresent(SplitHeadPreset.self, forKey: .splitPreset) ?? d.splitPreset
        weights = try c.decodeIfPresent(DiscriminatorLossWeights.self, forKey: .weights)
        klCoefficient = try c.decodeIfPresent(Float.self, forKey: .klCoefficient) ?? d.klCoefficient
        interpolationWeight = try c.decodeIfPresent(Float.self, forKey: .interpolationWeight) ?? d.interpolationWeight
        interpolationBeta = try c.decodeIfPresent(Float.self, forKey: .interpolationBeta) ?? d.interpolationBeta
    }

    /// The discriminator weights for a head: explicit `weights`, else the single weights or the preset.
    public func discriminatorWeights(for head: DiscriminatorHead) -> DiscriminatorLossWeights {
        if let weights { return weights }
        switch head {
        case .single: return .single(wrong: wrongWeight, fake: fakeWeight)
        case .split: return splitPreset == .stackganPytorch ? .stackganPytorch : .stackganV2
        }
    }
}

/// A loss to minimise and its parts for logging: each component is the unweighted term value
/// (e.g. "real_match" is the BCE of the real pairs' match logits against 1).
public struct LossTerms {
    /// Shape [], on the graph: call `backward()` on it.
    public let total: Tensor
    public let components: [(name: String, value: Float)]

    public subscript(name: String) -> Float? { components.first { $0.name == name }?.value }
}

/// The GAN losses on discriminator logits. The trainer makes the logits; the D step gets them from
/// detached fakes.
public struct GANLoss {
    public let config: LossConfig

    public init(config: LossConfig = LossConfig()) { self.config = config }

    /// One criterion term: mean over the batch of the loss of logits [N] against "real" or "not real".
    public func term(_ logits: Tensor, real: Bool) -> Tensor {
        switch config.loss {
        case .bce: return logits.binaryCrossEntropyWithLogits(target: real ? 1 : 0)
        case .hinge: return logits.scaled(by: real ? -1 : 1).adding(1).relu().mean()
        }
    }

    /// Discriminator loss from the logits of real pairs, wrong pairs (a real image with another
    /// example's condition) and fake pairs, each [N_i]. The head — and so the weights — follows
    /// whether the logits have a realness part. Throws if a weighted realness term has no logits.
    public func discriminator(real: DiscriminatorLogits, wrong: DiscriminatorLogits,
                              fake: DiscriminatorLogits) throws -> LossTerms {
        let w = config.discriminatorWeights(for: real.real == nil ? .single : .split)
        let parts: [(String, Float, Tensor?, Bool)] = [
            ("real_match", w.realMatch, real.match, true), ("wrong_match", w.wrongMatch, wrong.match, false),
            ("fake_match", w.fakeMatch, fake.match, false), ("real_realness", w.realRealness, real.real, true),
            ("wrong_realness", w.wrongRealness, wrong.real, true), ("fake_realness", w.fakeRealness, fake.real, false),
        ]
        return try weightedSum(parts)
    }

    /// The same from `TextImageDiscriminator.scorePairs`.
    public func discriminator(_ pairs: PairLogits) throws -> LossTerms {
        try discriminator(real: pairs.real, wrong: pairs.wrong, fake: pairs.fake)
    }

    /// Generator loss: non-saturating "real" on the fakes' match logit and, for a split head, their
    /// realness logit (hinge: -logit); plus `kl_coefficient` * KL(mu, logvar) when the generator has a CA.
    public func generator(fake: DiscriminatorLogits, mu: Tensor?, logVariance: Tensor?) throws -> LossTerms {
        var parts: [(String, Float, Tensor?, Bool)] = [("match", 1, fake.match, true)]
        if fake.real != nil { parts.append(("realness", 1, fake.real, true)) }
        var terms = try weightedSum(parts, generator: true)
        guard let mu, let logVariance, config.klCoefficient != 0 else { return terms }
        let kl = try Tensor.klDivergence(mu: mu, logVariance: logVariance)
        terms = LossTerms(total: try terms.total.adding(kl.scaled(by: config.klCoefficient)),
                          components: terms.components + [("kl", kl.item)])
        return terms
    }

    /// GAN-INT's extra generator term on fakes made from `interpolatedEmbeddings`:
    /// `interpolation_weight` * the generator's adversarial loss (no KL); the D never trains on them.
    public func interpolatedGenerator(fake: DiscriminatorLogits) throws -> LossTerms {
        let adversarial = try generator(fake: fake, mu: nil, logVariance: nil)
        return LossTerms(total: adversarial.total.scaled(by: config.interpolationWeight),
                         components: [("interpolated", adversarial.total.item)])
    }

    /// GAN-INT captions: beta * t + (1 - beta) * t rolled by one in the batch, [N, E] -> [N, E]
    /// (example i is mixed with example i + 1).
    public static func interpolatedEmbeddings(_ embeddings: Tensor, beta: Float) throws -> Tensor {
        try embeddings.scaled(by: beta).adding(embeddings.rolledBatch(by: 1).scaled(by: 1 - beta))
    }

    /// sum of weight * term over the parts with a non-zero weight.
    private func weightedSum(_ parts: [(String, Float, Tensor?, Bool)], generator: Bool = false) throws -> LossTerms {
        var total: Tensor?
        var components: [(name: String, value: Float)] = []
        for (name, weight, logits, real) in parts where weight != 0 {
            guard let logits else {
                throw ShapeError("GANLoss", "\(name) has weight \(weight) but the discriminator gave no realness logits (single head?)")
            }
            let value = generator && config.loss == .hinge ? logits.mean().scaled(by: -1) : term(logits, real: real)
            let weighted = value.scaled(by: weight)
            total = try total.map { try $0.adding(weighted) } ?? weighted
            components.append((name, value.item))
        }
        guard let total else { throw ShapeError("GANLoss", "every term has weight 0") }
        return LossTerms(total: total, components: components)
    }
}
