import Autograd

/// |d(sum of logits) / d input|^2 per example, for each input: logits [N] of N examples that
/// the discriminator scores independently (no batch norm), inputs [N, ...] -> [N] each. The
/// gradients are taken with `createGraph`, so these norms differentiate back to the parameters.
public func gradientSquaredNorms(of logits: Tensor, withRespectTo inputs: [Tensor]) throws -> [Tensor] {
    let gradients = try Tensor.gradients(of: logits, withRespectTo: inputs, createGraph: true)
    return try gradients.map { g in try g.multiplying(g).reshaped([g.shape[0], -1]).rowSums() }
}

/// DF-GAN's matching-aware penalty without its weight: mean over the batch of |grad|^p, from the
/// per-example squared norms [N] of the gradient w.r.t. (image, sentence) and an even p.
public func matchingAwarePenalty(squaredNorms: Tensor, power: Int) throws -> Tensor {
    guard power >= 2, power % 2 == 0 else { throw ShapeError("matchingAwarePenalty", "power must be even and >= 2, got \(power)") }
    var norms = squaredNorms
    for _ in 1..<(power / 2) { norms = try norms.multiplying(squaredNorms) }
    return norms.mean()
}

extension GANLoss {
    /// Whether the discriminator step that follows `discriminatorSteps` earlier ones carries
    /// R1 (`loss.r1_every`: every k-th step) or MA-GP, and so needs gradients w.r.t. its inputs.
    func penalties(afterSteps discriminatorSteps: Int) -> (r1: Bool, matchingAware: Bool) {
        (config.r1Weight > 0 && (discriminatorSteps + 1) % config.r1Every == 0, config.maGPWeight > 0)
    }

    /// The gradient penalties `due` on the real pairs' logits: `images` [N, 3, S, S] the real
    /// images before augmentation and `condition` [N, c or E] the discriminator's condition, leaves
    /// that require gradients. Returns (name, unweighted value, weight) for each term due: "r1", the
    /// mean of |d logit / d image|^2 summed over the head's logits, weighted gamma / 2 times
    /// `r1_every`; "ma_gp", the match logit's gradient w.r.t. (image, condition), weighted k. The
    /// discriminator reads `conditionScale` x `condition`: the condition's gradient is taken w.r.t.
    /// that scaled vector (|d/d(s e)|^2 = |d/de|^2 / s^2), or a unit-norm caption embedding read at
    /// 19.6x (the shapes data) would weigh 19.6^6 = 5.6e7 times more under p = 6 than the image.
    func gradientPenalties(real: DiscriminatorLogits, images: Tensor, condition: Tensor, conditionScale: Float = 1,
                           due: (r1: Bool, matchingAware: Bool)) throws -> [(name: String, term: Tensor, weight: Float)] {
        let (r1, matchingAware) = due
        guard r1 || matchingAware else { return [] }
        var terms: [(name: String, term: Tensor, weight: Float)] = []
        let match = try gradientSquaredNorms(of: real.match, withRespectTo: matchingAware ? [images, condition] : [images])
        if r1 {
            var norms = match[0]
            if let realness = real.real { norms = try norms.adding(gradientSquaredNorms(of: realness, withRespectTo: [images])[0]) }
            terms.append(("r1", norms.mean(), config.r1Weight / 2 * Float(config.r1Every)))
        }
        if matchingAware {
            let conditionNorms = conditionScale == 1 ? match[1] : match[1].scaled(by: 1 / (conditionScale * conditionScale))
            terms.append(("ma_gp", try matchingAwarePenalty(squaredNorms: match[0].adding(conditionNorms), power: config.maGPPower),
                          config.maGPWeight))
        }
        return terms
    }
}
