import Autograd
import Kernels
import NN

/// The model a config describes, resolved and validated once: family, stage, discriminator head
/// and widths. It builds the generator and discriminator and the loss for its head; nothing else
/// switches on family, stage or head. Every check of a config that no type can make lives here.
public struct Architecture: Equatable, Sendable {
    public let family: ModelFamily
    public let stage: StackGANStage
    /// `model.stage1_head` or `model.stage2_head`, as the stage says.
    public let head: DiscriminatorHead
    public let model: ModelConfig

    /// Resolves and checks `config`; the error names the key at fault.
    public init(_ config: ExperimentConfig) throws {
        func bad(_ key: String, _ why: String) -> StackGANError { StackGANError(.usage, "config", "`\(key)` \(why)") }
        guard let stage = StackGANStage(rawValue: config.stage) else { throw bad("stage", "must be 1 or 2, got \(config.stage)") }
        if config.family == .ganCLS && stage != .one { throw bad("stage", "must be 1 for gan_cls (GAN-CLS makes 64x64 images)") }
        let headKey = stage == .one ? "model.stage1_head" : "model.stage2_head"
        let head = config[keyPath: Self.headKeyPath(stage: stage)]
        guard head.fits(config.family) else {
            throw bad(headKey, "is \(head.rawValue), which a \(config.family.rawValue) discriminator cannot carry")
        }
        (family, self.stage, self.head, model) = (config.family, stage, head, config.model)
        try Self.check(config.model, bad)
        try Self.check(config.loss, head: head, headKey: headKey, bad)
        if config.loss.stageOneConsistencyWeight > 0 && stage != .two {
            throw bad("loss.stage1_consistency_weight", "ties Stage-II to its Stage-I input; stage is \(stage.rawValue)")
        }
        try Self.check(config.train, stage: stage, bad)
        let d = config.data
        guard d.loadSize == 0 || d.loadSize >= imageSize else {
            throw bad("data.load_size", "must be 0 (automatic) or at least the image size \(imageSize), got \(d.loadSize)")
        }
        guard d.captionsPerStep >= 1 else { throw bad("data.captions_per_step", "must be at least 1, got \(d.captionsPerStep)") }
        guard d.workers >= 0 else { throw bad("data.workers", "must be >= 0 (0 = decode on the training thread), got \(d.workers)") }
        guard d.prefetch >= 1 else { throw bad("data.prefetch", "must be at least 1, got \(d.prefetch)") }
        guard (0...(1 << 20)).contains(d.cacheMB) else { throw bad("data.cache_mb", "must be 0 (decode every step) to 1048576, got \(d.cacheMB)") }
    }

    /// Output side of the generator: 64 for Stage-I and GAN-CLS, 256 for Stage-II.
    public var imageSize: Int { stage == .two ? 256 : 64 }

    /// Floats of CA eps one generated image uses: 0 for GAN-CLS, c for Stage-I, 2c for Stage-II.
    public var conditioningNoiseWidth: Int {
        switch (family, stage) {
        case (.ganCLS, _): return 0
        case (.stackgan, .one): return model.conditionDimension
        case (.stackgan, .two): return 2 * model.conditionDimension
        }
    }

    /// A fresh generator. Stage-II takes `stageOne` (frozen) or, when nil, a fresh Stage-I drawn first.
    public func makeGenerator(stageOne: Stage1Generator? = nil, using rng: inout RandomGenerator) -> any TextToImageGenerator {
        switch (family, stage) {
        case (.ganCLS, _): return GANCLSGenerator(config: model, using: &rng)
        case (.stackgan, .one): return Stage1Generator(config: model, using: &rng)
        case (.stackgan, .two):
            let frozen = stageOne ?? Stage1Generator(config: model, using: &rng)
            return Stage2Generator(config: model, stageOne: frozen, using: &rng)
        }
    }

    /// A fresh discriminator with this architecture's head.
    public func makeDiscriminator(using rng: inout RandomGenerator) -> any TextImageDiscriminator {
        switch family {
        case .ganCLS: return GANCLSDiscriminator(head: head, config: model, using: &rng)
        case .stackgan: return StackGANDiscriminator(stage: stage, head: head, config: model, using: &rng)
        }
    }

    /// The loss for this architecture's head.
    public func makeLoss(_ config: LossConfig) -> GANLoss { GANLoss(config: config, head: head) }

    /// Both networks for a new training run, drawn from `rng` (generator first). Stage-II's frozen
    /// Stage-I comes from `stageOneCheckpoint` (`train.stage1_checkpoint`).
    public func makeTrainingModels(stageOneCheckpoint: String, using rng: inout RandomGenerator) throws
        -> (generator: any TextToImageGenerator, discriminator: any TextImageDiscriminator) {
        let stageOne = stage == .two ? try Checkpoint.load(stageOneCheckpoint).stageOne(for: self) : nil
        let generator = makeGenerator(stageOne: stageOne, using: &rng)
        return (generator, makeDiscriminator(using: &rng))
    }

    /// The config key that holds the head of `stage`'s discriminator (Ablation writes variants through it).
    static func headKeyPath(stage: StackGANStage) -> WritableKeyPath<ExperimentConfig, DiscriminatorHead> {
        stage == .one ? \.model.stage1Head : \.model.stage2Head
    }

    /// The widths a Stage-I generator must share with a Stage-II built on it.
    var stageOneWidths: [Int] { [model.embeddingDimension, model.noiseDimension, model.conditionDimension, model.generatorWidth] }

    private static func check(_ m: ModelConfig, _ bad: (String, String) -> StackGANError) throws {
        for (key, value) in [("embedding_dim", m.embeddingDimension), ("z_dim", m.noiseDimension),
                             ("condition_dim", m.conditionDimension), ("df_dim", m.discriminatorWidth)] where value < 1 {
            throw bad("model.\(key)", "must be positive, got \(value)")
        }
        // Stage-II's last up-block has ngf/4 channels.
        guard m.generatorWidth >= 4, m.generatorWidth % 4 == 0 else {
            throw bad("model.gf_dim", "must be a positive multiple of 4, got \(m.generatorWidth)")
        }
        guard m.embeddingScale.isFinite, m.embeddingScale > 0 else {
            throw bad("model.embedding_scale", "must be positive and finite, got \(m.embeddingScale)")
        }
        guard m.residualBlocks >= 0 else { throw bad("model.residual_blocks", "must be >= 0, got \(m.residualBlocks)") }
    }

    private static func check(_ l: LossConfig, head: DiscriminatorHead, headKey: String,
                              _ bad: (String, String) -> StackGANError) throws {
        for (key, value) in [("contrastive_weight", l.contrastiveWeight), ("mode_seeking_weight", l.modeSeekingWeight),
                             ("interpolation_weight", l.interpolationWeight),
                             ("stage1_consistency_weight", l.stageOneConsistencyWeight)] where !(value >= 0 && value.isFinite) {
            throw bad("loss.\(key)", "must be >= 0 (0 = off), got \(value)")
        }
        if l.contrastiveWeight > 0 && !head.hasMatchingFeatures {
            throw bad("loss.contrastive_weight", "needs a head with matching features (projection), but \(headKey) is \(head.rawValue)")
        }
        guard l.contrastiveTemperature > 0, l.contrastiveTemperature.isFinite else {
            throw bad("loss.contrastive_temperature", "must be positive, got \(l.contrastiveTemperature)")
        }
        guard let w = l.weights else { return }
        if !head.scoresRealness && [w.realRealness, w.wrongRealness, w.fakeRealness].contains(where: { $0 != 0 }) {
            throw bad("loss.weights", "weights realness terms, but the \(head.rawValue) head (\(headKey)) has no realness logit")
        }
        guard [w.realMatch, w.wrongMatch, w.fakeMatch, w.realRealness, w.wrongRealness, w.fakeRealness].contains(where: { $0 != 0 }) else {
            throw bad("loss.weights", "are all 0: the discriminator would not train")
        }
    }

    private static func check(_ t: TrainConfig, stage: StackGANStage, _ bad: (String, String) -> StackGANError) throws {
        if stage == .two && t.stage1Checkpoint.isEmpty {
            throw bad("train.stage1_checkpoint", "must name a Stage-I checkpoint for stage 2")
        }
        guard t.batchSize >= 2 else { throw bad("train.batch_size", "must be at least 2 (batch norm), got \(t.batchSize)") }
        guard t.maxSteps >= 0, t.maxEpochs >= 0, t.maxSteps > 0 || t.maxEpochs > 0 else {
            throw bad("train.max_steps", "or train.max_epochs must be positive (the other >= 0)")
        }
        guard t.generatorLearningRate > 0, t.discriminatorLearningRate > 0 else {
            throw bad("train.generator_lr", "and train.discriminator_lr must be positive")
        }
        guard (0..<1).contains(t.emaDecay) else { throw bad("train.ema_decay", "must be in [0, 1), got \(t.emaDecay)") }
        guard t.sampleCount >= 1 else { throw bad("train.sample_count", "must be at least 1") }
        guard t.samplesPerCaption >= 1 else { throw bad("train.samples_per_caption", "must be at least 1") }
        guard t.logEvery >= 1 else { throw bad("train.log_every", "must be at least 1, got \(t.logEvery)") }
        for (key, value) in [("sample_every", t.sampleEvery), ("checkpoint_every", t.checkpointEvery),
                             ("lr_decay_epochs", t.learningRateDecayEpochs)] where value < 0 {
            throw bad("train.\(key)", "must be >= 0 (0 = only at the end / never), got \(value)")
        }
    }
}

extension Precision {
    /// Makes this the precision every convolution runs in from now on. The CPU is checked here, not
    /// in `Architecture`, so a checkpoint trained in bf16 still loads on a CPU without bf16.
    /// `setting` (`train.precision`, `--precision`) is named in the error.
    public func activate(setting: String) throws {
        do { try KernelSettings.use(self) } catch let error as UnsupportedPrecision {
            throw StackGANError(.usage, setting, error.description)
        }
    }
}
