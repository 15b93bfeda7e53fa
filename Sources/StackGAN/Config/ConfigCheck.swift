import Kernels

/// Every check of a config that no type can make, in one place. `Architecture(config)` runs it once
/// for each config a command uses (its own, a checkpoint's), so nothing built from a config sees
/// one that failed it.
extension ExperimentConfig {
    /// Checks every value and returns the stage the config resolves to; the error is a `.usage`
    /// StackGANError naming the key at fault.
    @discardableResult
    public func check() throws -> StackGANStage {
        func bad(_ key: String, _ why: String) -> StackGANError { StackGANError(.usage, "config", "`\(key)` \(why)") }
        guard let stage = StackGANStage(rawValue: self.stage) else { throw bad("stage", "must be 1 or 2, got \(self.stage)") }
        if family == .ganCLS && stage != .one { throw bad("stage", "must be 1 for gan_cls (GAN-CLS makes 64x64 images)") }
        let headKey = stage == .one ? "model.stage1_head" : "model.stage2_head"
        let head = self[keyPath: Self.headKeyPath(stage: stage)]
        guard head.fits(family) else {
            throw bad(headKey, "is \(head.rawValue), which a \(family.rawValue) discriminator cannot carry")
        }
        guard !name.isEmpty, name.count <= 200, !name.contains("/"), name != ".", name != ".." else {
            throw bad("name", "must be 1 to 200 characters without `/` (it names the run folder runs/<name>)")
        }
        try Self.check(model, bad)
        if model.generatorConditioning != .input && family != .stackgan {
            throw bad("model.generator_conditioning", "is \(model.generatorConditioning.rawValue); only StackGAN's Stage-I generator reads the code in every block")
        }
        try Self.check(loss, head: head, headKey: headKey, bad)
        if loss.contrastiveWeight > 0 && family == .ganCLS {
            throw bad("loss.contrastive_weight", "needs a head that ranks captions for an image; GAN-CLS's head adds the image's and the caption's scores, so every caption ranks the same for every image")
        }
        for (key, weight) in [("loss.r1_weight", loss.r1Weight), ("loss.ma_gp_weight", loss.maGPWeight)] where weight > 0 && !model.spectralNorm {
            // Batch norm's training-mode backward is not written in recorded ops (no double backward).
            throw bad(key, "needs gradients of the discriminator's gradient, which its batch norm has no double backward for: set model.spectral_norm: true (a discriminator without batch norm)")
        }
        if loss.stageOneConsistencyWeight > 0 && stage != .two {
            throw bad("loss.stage1_consistency_weight", "ties Stage-II to its Stage-I input; stage is \(stage.rawValue)")
        }
        try Self.check(train, stage: stage, bad)
        let t = train
        try Self.within("train.real_input_fraction", t.realInputFraction, 0...1, bad, note: "0 = off")
        try Self.within("train.real_input_blur", t.realInputBlur, 0...8, bad, note: "64 px pixels")
        try Self.within("train.real_input_noise", t.realInputNoise, 0...1, bad)
        if t.realInputFraction > 0 && stage != .two {
            throw bad("train.real_input_fraction", "feeds Stage-II real 64 px inputs; stage is \(stage.rawValue)")
        }
        for (key, weight) in [("loss.reconstruction_weight", loss.reconstructionWeight), ("loss.mix_choice_weight", loss.mixChoiceWeight)]
            where weight > 0 && Int(t.realInputFraction * Float(t.batchSize)) < 1 {
            throw bad(key, "needs rows refined from real images: train.real_input_fraction x train.batch_size must be at least 1")
        }
        if loss.mixChoiceWeight > 0 && model.stage2MixWindow == 0 {
            throw bad("loss.mix_choice_weight", "trains Stage-II's neighbour mix: set model.stage2_mix_window")
        }
        let d = data, size = stage == .two ? 256 : 64
        // Every image is resized to load_size (floats) before the crop: bounded, so that a typo
        // cannot ask for gigabytes per image.
        guard d.loadSize == 0 || (size...(4 * size)).contains(d.loadSize) else {
            throw bad("data.load_size", "must be 0 (automatic) or in \(size)...\(4 * size) (the image size to 4x it), got \(d.loadSize)")
        }
        try Self.within("data.captions_per_step", d.captionsPerStep, 1...64, bad)
        try Self.within("data.workers", d.workers, 0...64, bad, note: "0 = decode on the training thread")
        try Self.within("data.prefetch", d.prefetch, 1...64, bad)
        try Self.within("data.cache_mb", d.cacheMB, 0...(1 << 20), bad, note: "0 = decode every step")
        return stage
    }

    /// The config key that holds the head of `stage`'s discriminator (an ablation writes its
    /// variants through it).
    static func headKeyPath(stage: StackGANStage) -> WritableKeyPath<ExperimentConfig, DiscriminatorHead> {
        stage == .one ? \.model.stage1Head : \.model.stage2Head
    }


    /// Throws `bad(key)` unless `value` is in `range`; the message gives the range.
    private static func within(_ key: String, _ value: Int, _ range: ClosedRange<Int>, _ bad: (String, String) -> StackGANError,
                               note: String? = nil) throws {
        guard range.contains(value) else {
            throw bad(key, "must be in \(range.lowerBound)...\(range.upperBound)\(note.map { " (\($0))" } ?? ""), got \(value)")
        }
    }

    /// Throws unless `value` is finite and in `range` (`halfOpen`: the upper bound excluded).
    private static func within(_ key: String, _ value: Float, _ range: ClosedRange<Float>, halfOpen: Bool = false,
                               _ bad: (String, String) -> StackGANError, note: String? = nil) throws {
        guard value.isFinite, range.contains(value), !(halfOpen && value == range.upperBound) else {
            let upper = halfOpen ? "\(range.upperBound))" : "\(range.upperBound)]"
            throw bad(key, "must be in [\(range.lowerBound), \(upper)\(note.map { " (\($0))" } ?? ""), got \(value)")
        }
    }

    /// Widths are bounded so that a typo cannot ask for gigabytes of weights (published: E 1024,
    /// z 100, c 128, ngf 128, ndf 64, R 4).
    private static func check(_ m: ModelConfig, _ bad: (String, String) -> StackGANError) throws {
        try within("model.embedding_dim", m.embeddingDimension, 1...65536, bad)
        try within("model.z_dim", m.noiseDimension, 1...4096, bad)
        try within("model.condition_dim", m.conditionDimension, 1...4096, bad)
        try within("model.df_dim", m.discriminatorWidth, 1...512, bad)
        // Stage-II's last up-block has ngf/4 channels.
        for (key, width) in [("model.gf_dim", m.generatorWidth), ("model.stage2_gf_dim", m.stageTwoGeneratorWidth)] {
            guard (4...512).contains(width), width % 4 == 0 else {
                throw bad(key, "must be a multiple of 4 in 4...512, got \(width)\(key == "model.stage2_gf_dim" ? " (0 = gf_dim)" : "")")
            }
        }
        guard m.embeddingScale.isFinite, m.embeddingScale > 0 else {
            throw bad("model.embedding_scale", "must be positive and finite, got \(m.embeddingScale)")
        }
        try within("model.residual_blocks", m.residualBlocks, 0...64, bad)
        guard m.stage2MixWindow == 0 || ((1...9).contains(m.stage2MixWindow) && m.stage2MixWindow % 2 == 1 && !m.stage2Residual) else {
            throw bad("model.stage2_mix_window", "must be 0 (off) or odd in 1...9, and not with model.stage2_residual (the mix replaces its correction), got \(m.stage2MixWindow)")
        }
        guard m.stage2MixSmoothing.isFinite && (0...2).contains(m.stage2MixSmoothing) && (m.stage2MixSmoothing == 0 || m.stage2MixWindow > 0) else {
            throw bad("model.stage2_mix_smoothing", "must be in 0...2 (0 = off) and needs model.stage2_mix_window, got \(m.stage2MixSmoothing)")
        }
        try within("model.stage2_mix_smoothing_passes", m.stage2MixSmoothingPasses, 1...8, bad)
        guard m.stage2MixTemperature.isFinite && (0.01...1).contains(m.stage2MixTemperature) else {
            throw bad("model.stage2_mix_temperature", "must be in 0.01...1 (1 = the mix as trained), got \(m.stage2MixTemperature)")
        }
    }

    private static func check(_ l: LossConfig, head: DiscriminatorHead, headKey: String,
                              _ bad: (String, String) -> StackGANError) throws {
        for (key, value) in [("contrastive_weight", l.contrastiveWeight), ("mode_seeking_weight", l.modeSeekingWeight),
                             ("interpolation_weight", l.interpolationWeight), ("kl_coefficient", l.klCoefficient),
                             ("wrong_weight", l.wrongWeight), ("fake_weight", l.fakeWeight),
                             ("stage1_consistency_weight", l.stageOneConsistencyWeight), ("r1_weight", l.r1Weight),
                             ("ma_gp_weight", l.maGPWeight), ("reconstruction_weight", l.reconstructionWeight),
                             ("mix_choice_weight", l.mixChoiceWeight)]
            where !(value >= 0 && value.isFinite) {
            throw bad("loss.\(key)", "must be finite and >= 0 (0 = off), got \(value)")
        }
        try within("loss.interpolation_beta", l.interpolationBeta, 0...1, bad)
        try within("loss.r1_every", l.r1Every, 1...1_000_000, bad, note: "apply R1 every k discriminator steps")
        guard (2...16).contains(l.maGPPower), l.maGPPower % 2 == 0 else {
            throw bad("loss.ma_gp_power", "must be an even number in 2...16 (DF-GAN: 6), got \(l.maGPPower)")
        }
        guard l.contrastiveTemperature > 0, l.contrastiveTemperature.isFinite else {
            throw bad("loss.contrastive_temperature", "must be positive, got \(l.contrastiveTemperature)")
        }
        guard let w = l.weights else { return }
        for (key, value) in [("real_match", w.realMatch), ("wrong_match", w.wrongMatch), ("fake_match", w.fakeMatch),
                             ("real_realness", w.realRealness), ("wrong_realness", w.wrongRealness),
                             ("fake_realness", w.fakeRealness)] where !(value >= 0 && value.isFinite) {
            throw bad("loss.weights.\(key)", "must be finite and >= 0, got \(value)")
        }
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
        try within("train.batch_size", t.batchSize, 2...4096, bad, note: "batch norm needs 2")
        try within("train.allreduce_bucket_kib", t.allreduceBucketKiB, 1...(1 << 20), bad)
        // Bounded so that max_epochs x batches per epoch cannot overflow.
        try within("train.max_steps", t.maxSteps, 0...1_000_000_000, bad, note: "0 = run max_epochs")
        try within("train.max_epochs", t.maxEpochs, 0...1_000_000, bad)
        guard t.maxSteps > 0 || t.maxEpochs > 0 else { throw bad("train.max_steps", "or train.max_epochs must be positive") }
        for (key, value) in [("generator_lr", t.generatorLearningRate), ("discriminator_lr", t.discriminatorLearningRate)]
            where !(value > 0 && value.isFinite) {
            throw bad("train.\(key)", "must be positive and finite, got \(value)")
        }
        try within("train.beta1", t.beta1, 0...1, halfOpen: true, bad)
        try within("train.beta2", t.beta2, 0...1, halfOpen: true, bad)
        try within("train.ema_decay", t.emaDecay, 0...1, halfOpen: true, bad, note: "0 = off")
        try within("train.lr_linear_decay", t.learningRateLinearDecay, 0...1, bad, note: "the share of the steps that decay; 0 = off")
        // The progress grid holds sample_count x samples_per_caption images in memory.
        try within("train.sample_count", t.sampleCount, 1...64, bad)
        try within("train.samples_per_caption", t.samplesPerCaption, 1...64, bad)
        guard t.sampleCount * t.samplesPerCaption <= 256 else {
            throw bad("train.sample_count", "x train.samples_per_caption must be at most 256 images, got \(t.sampleCount) x \(t.samplesPerCaption)")
        }
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
