import Autograd

/// A loss to minimise and its parts for logging: each component is the unweighted term value
/// (e.g. "real_match" is the BCE of the real pairs' match logits against 1).
public struct LossTerms {
    /// Shape [], on the graph: call `backward()` on it.
    public let total: Tensor
    public let components: [(name: String, value: Float)]

    public subscript(name: String) -> Float? { components.first { $0.name == name }?.value }
}

/// The GAN losses on discriminator logits of the head `head`. The trainer makes the logits; the D
/// step gets them from detached fakes.
public struct GANLoss {
    public let config: LossConfig
    public let head: DiscriminatorHead
    /// The discriminator terms' weights: `loss.weights`, else the head's default.
    public let weights: DiscriminatorLossWeights

    public init(config: LossConfig = LossConfig(), head: DiscriminatorHead) {
        self.config = config
        self.head = head
        weights = config.discriminatorWeights(for: head)
    }

    /// One criterion term: mean over the batch of the loss of logits [N] against "real" or "not real".
    public func term(_ logits: Tensor, real: Bool) -> Tensor {
        switch config.loss {
        case .bce: return logits.binaryCrossEntropyWithLogits(target: real ? 1 : 0)
        case .hinge: return logits.scaled(by: real ? -1 : 1).adding(1).relu().mean()
        }
    }

    /// Discriminator loss from the logits of real pairs, wrong pairs (a real image with another
    /// example's condition) and fake pairs, each [N]. Throws if a weighted realness term has no logits.
    public func discriminator(real: DiscriminatorLogits, wrong: DiscriminatorLogits,
                              fake: DiscriminatorLogits) throws -> LossTerms {
        let w = weights
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
    /// realness logit when the head has one (hinge: -logit); plus `kl_coefficient` * KL(mu, logvar) when the generator has a CA.
    public func generator(fake: DiscriminatorLogits, mu: Tensor?, logVariance: Tensor?) throws -> LossTerms {
        var parts: [(String, Float, Tensor?, Bool)] = [("match", 1, fake.match, true)]
        if head.scoresRealness { parts.append(("realness", 1, fake.real, true)) }
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
    /// (example i is mixed with example i + 1). `partners` [N, E] replaces the roll where example
    /// i + 1 lives on another data-parallel rank (the global batch's rolled rows).
    public static func interpolatedEmbeddings(_ embeddings: Tensor, partners: Tensor? = nil, beta: Float) throws -> Tensor {
        try embeddings.scaled(by: beta).adding((partners ?? embeddings.rolledBatch(by: 1)).scaled(by: 1 - beta))
    }

    /// sum of weight * term over the parts with a non-zero weight.
    private func weightedSum(_ parts: [(String, Float, Tensor?, Bool)], generator: Bool = false) throws -> LossTerms {
        var total: Tensor?
        var components: [(name: String, value: Float)] = []
        for (name, weight, logits, real) in parts where weight != 0 {
            guard let logits else {
                throw ShapeError("GANLoss", "\(name) has weight \(weight) but the \(head.rawValue) head gave no realness logits")
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

extension Architecture {
    /// The loss for this architecture's head.
    public func makeLoss(_ config: LossConfig) -> GANLoss { GANLoss(config: config, head: head) }
}
