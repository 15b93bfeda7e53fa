import Autograd
import NN

/// One alternating training iteration on tensors: a discriminator step on real, wrong and detached
/// fake pairs (`scorePairs`, the pass the parity test checks against PyTorch; plus the gradient
/// penalties on the real pairs that `loss.r1_weight` and `loss.ma_gp_weight` ask for), then a generator
/// step with all loss terms (adversarial, KL, optional GAN-INT). The Trainer feeds it batches from
/// a dataset; `stackgan bench train` feeds it synthetic ones.
public final class GANStep {
    public let generator: any TextToImageGenerator
    public let discriminator: any TextImageDiscriminator
    public let generatorOptimizer: Adam
    public let discriminatorOptimizer: Adam
    public let loss: GANLoss
    public let noiseDimension: Int
    /// The factor the discriminator multiplies its condition by before its first layer
    /// (`model.embedding_scale` when it reads the caption embedding): MA-GP's gradient is taken
    /// w.r.t. the scaled vector, the one its layers see.
    let conditionScale: Float
    /// `train.augment`: applied to every image the discriminator sees, in both steps.
    public let augment: DiffAugment
    /// Data-parallel training's averaging of gradients across ranks (nil on one rank): `ready`
    /// takes each parameter's gradient as the backward pass completes it (the averaging starts
    /// while the pass goes on), `finish` gets the optimizer's parameters after the pass and
    /// returns when all their gradients are averaged, before the update.
    public var gradientAveraging: (ready: (Tensor) throws -> Void, finish: ([NamedTensor]) throws -> Void)?

    public init(generator: any TextToImageGenerator, discriminator: any TextImageDiscriminator,
                architecture: Architecture, config: ExperimentConfig) {
        self.generator = generator
        self.discriminator = discriminator
        let t = config.train
        generatorOptimizer = Adam(parameters: generator.parameters, learningRate: t.generatorLearningRate, betas: (t.beta1, t.beta2))
        discriminatorOptimizer = Adam(parameters: discriminator.parameters, learningRate: t.discriminatorLearningRate,
                                      betas: (t.beta1, t.beta2))
        loss = architecture.makeLoss(config.loss)
        noiseDimension = architecture.model.noiseDimension
        let m = architecture.model
        conditionScale = m.discriminatorCondition == .embedding || architecture.family == .ganCLS ? m.embeddingScale : 1
        augment = DiffAugment(transforms: config.train.augment)
        realInputFraction = config.train.realInputFraction
        degradation = RealInputDegradation(maxBlur: config.train.realInputBlur, noise: config.train.realInputNoise)
    }

    /// `train.real_input_fraction` and how those real inputs are softened (Stage-II only).
    public let realInputFraction: Float
    let degradation: RealInputDegradation

    /// `real` [N,3,S,S] in [-1,1], `embeddings` [N,E]; `wrong` [N,3,S,S] are real images of other
    /// captions (`wrong_pairs: differentClass`), or nil for `shift` (see `scorePairs`). Returns the
    /// loss terms for logging.
    /// `interpolationPartners` [N, E]: the GAN-INT partner of each caption when the batch is a
    /// data-parallel slice (nil: the batch rolled by one).
    public func callAsFunction(real: Tensor, wrong: Tensor?, embeddings: Tensor, interpolationPartners: Tensor? = nil,
                               using random: inout RandomGenerator) throws -> [String: Float] {
        let n = real.shape[0]
        let noise = Tensor.randomNormal(examples: n, width: noiseDimension, using: &random)
        // Stage-II's first `realRows` rows refine the batch's own real images brought to 64 px.
        let realRows = generator is Stage2Generator ? Int(realInputFraction * Float(n)) : 0
        let fake: GeneratorOutput
        if realRows > 0, let stageTwo = generator as? Stage2Generator {
            let low = try degradation(real.slicedBatch(0..<realRows), size: Stage1Generator.imageSize, using: &random)
            fake = try stageTwo(embedding: embeddings, noise: noise, realLowResolution: low, training: true, using: &random)
        } else {
            fake = try generator(embedding: embeddings, noise: noise, training: true, using: &random)
        }

        func seen(_ images: Tensor) throws -> Tensor { augment.transforms.isEmpty ? images : try augment(images, using: &random) }
        // Gradient penalties differentiate the real pairs' logits w.r.t. D's inputs: leaves then.
        let due = loss.penalties(afterSteps: discriminatorOptimizer.step)
        let realImages = due.r1 || due.matchingAware ? real.detachedRequiringGradient() : real
        let condition = due.matchingAware ? fake.condition.detachedRequiringGradient() : fake.condition
        let pairs = try discriminator.scorePairs(realImages: seen(realImages), wrongImages: wrong.map(seen),
                                                 fakeImages: seen(fake.image.detached()), condition: condition, training: true)
        var dLoss = try loss.discriminator(pairs)
        for penalty in try loss.gradientPenalties(real: pairs.real, images: realImages, condition: condition,
                                                                conditionScale: conditionScale, due: due) {
            dLoss = try dLoss.adding(penalty.name, penalty.term, weight: penalty.weight)
        }
        if loss.config.contrastiveWeight > 0 {
            dLoss = try dLoss.adding("contrastive", contrastive(features: pairs.realFeatures, condition: fake.condition),
                                     weight: loss.config.contrastiveWeight)
        }
        try checkFinite(dLoss, "discriminator")
        discriminator.zeroGrad()
        try backward(dLoss.total, averaging: discriminatorOptimizer.parameters)
        try discriminatorOptimizer.update()

        // The discriminator is frozen for the generator step, so its weight gradients are skipped.
        discriminator.setTrainable(false)
        defer { discriminator.setTrainable(true) }
        let fakeFeatures = try discriminator.features(image: seen(fake.image), training: true)
        let fakeForGenerator = try discriminator.logits(features: fakeFeatures, condition: fake.condition, training: true)
        var gLoss = try loss.generator(fake: fakeForGenerator, mu: fake.mu, logVariance: fake.logVariance)
        if loss.config.contrastiveWeight > 0 {
            gLoss = try gLoss.adding("contrastive", contrastive(features: fakeFeatures, condition: fake.condition),
                                     weight: loss.config.contrastiveWeight)
        }
        if loss.config.modeSeekingWeight > 0 {
            let otherNoise = Tensor.randomNormal(examples: n, width: noiseDimension, using: &random)
            let other = try generator(embedding: embeddings, noise: otherNoise, training: true, using: &random)
            gLoss = try gLoss.adding("mode_seeking", modeSeeking(fake.image, other.image, noise: noise, otherNoise),
                                     weight: loss.config.modeSeekingWeight)
        }
        if loss.config.reconstructionWeight > 0 && realRows > 0 {
            let rows = 0..<realRows
            let difference = try fake.image.slicedBatch(rows).subtracting(real.slicedBatch(rows))
            gLoss = try gLoss.adding("reconstruction", difference.absolute().mean(), weight: loss.config.reconstructionWeight)
        }
        if loss.config.mixChoiceWeight > 0 && realRows > 0, let stageTwo = generator as? Stage2Generator,
           let choice = try stageTwo.mixChoiceLoss(fake, rows: 0..<realRows, target: real.slicedBatch(0..<realRows)) {
            gLoss = try gLoss.adding("mix_choice", choice, weight: loss.config.mixChoiceWeight)
        }
        // The tie holds the rows drawn from Stage-I's samples; real rows have their real target.
        if loss.config.stageOneConsistencyWeight > 0, let stageOne = fake.stageOneImage, realRows < n {
            let tie = realRows == 0 ? try stageConsistency(fake.image, stageOne: stageOne)
                : try stageConsistency(fake.image.slicedBatch(realRows..<n), stageOne: stageOne.slicedBatch(realRows..<n))
            gLoss = try gLoss.adding("stage1_consistency", tie, weight: loss.config.stageOneConsistencyWeight)
        }
        if loss.config.interpolationWeight > 0 {
            let mixed = try GANLoss.interpolatedEmbeddings(embeddings, partners: interpolationPartners,
                                                           beta: loss.config.interpolationBeta)
            let mixedFake = try generator(embedding: mixed, noise: noise, training: true, using: &random)
            let term = try loss.interpolatedGenerator(
                fake: discriminator(image: seen(mixedFake.image), condition: mixedFake.condition, training: true))
            gLoss = LossTerms(total: try gLoss.total.adding(term.total), components: gLoss.components + term.components)
        }
        try checkFinite(gLoss, "generator")
        generator.zeroGrad()
        try backward(gLoss.total, averaging: generatorOptimizer.parameters)
        try generatorOptimizer.update()

        var values: [String: Float] = ["d_loss": dLoss.total.item, "g_loss": gLoss.total.item]
        for (name, value) in dLoss.components { values["d_\(name)"] = value }
        for (name, value) in gLoss.components { values["g_\(name)"] = value }
        return values
    }

    /// `loss.backward()`; with `gradientAveraging`, the gradients of `parameters` (one
    /// optimizer's) averaged across ranks, starting during the pass. Other leaves that get a
    /// gradient (the real images of a gradient penalty) are not averaged.
    private func backward(_ loss: Tensor, averaging parameters: [NamedTensor]) throws {
        guard let averaging = gradientAveraging else { return try loss.backward() }
        let averaged = Set(parameters.map { ObjectIdentifier($0.tensor) })
        try loss.backward { leaf in
            if averaged.contains(ObjectIdentifier(leaf)) { try averaging.ready(leaf) }
        }
        try averaging.finish(parameters)
    }

    /// The contrastive term on features [N, 8 ndf, 4, 4] and their captions' condition, from the
    /// head's scores of every image against every caption of the batch.
    private func contrastive(features: Tensor, condition: Tensor) throws -> Tensor {
        guard let scores = try discriminator.pairScores(features: features, condition: condition,
                                                         temperature: loss.config.contrastiveTemperature, training: true) else {
            throw StackGANError(.usage, "loss.contrastive_weight", "the \(discriminator.head.rawValue) head cannot rank captions for an image")
        }
        return try symmetricInfoNCE(scores)
    }

    /// A NaN or infinite loss stops training: a `.training` error naming the network and its terms.
    private func checkFinite(_ terms: LossTerms, _ network: String) throws {
        guard terms.total.item.isFinite else {
            let parts = terms.components.map { "\($0.name) \($0.value)" }.joined(separator: ", ")
            throw StackGANError(.training, "", "the \(network) loss is \(terms.total.item) (\(parts))")
        }
    }
}
