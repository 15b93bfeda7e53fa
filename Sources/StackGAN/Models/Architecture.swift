import Autograd
import NN

/// The model a config describes, resolved once: family, stage and discriminator head, from a config
/// that passed `ExperimentConfig.check()`. It builds the generator and the discriminator; nothing
/// else switches on family, stage or head. A command resolves its config once and hands this value
/// on (to the trainer, a benchmark); a checkpoint resolves the config it stores (`Checkpoint`).
public struct Architecture: Equatable {
    /// The config this was resolved from, checked.
    public let config: ExperimentConfig
    public let family: ModelFamily
    public let stage: StackGANStage
    /// `model.stage1_head` or `model.stage2_head`, as the stage says.
    public let head: DiscriminatorHead

    /// Checks `config` and resolves it; the error names the key at fault.
    public init(_ config: ExperimentConfig) throws {
        stage = try config.check()
        head = config[keyPath: ExperimentConfig.headKeyPath(stage: stage)]
        family = config.family
        self.config = config
    }

    /// The widths and model options.
    public var model: ModelConfig { config.model }

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

    /// What a Stage-I generator reads of `model`, by key. Stage-II builds its frozen Stage-I from its
    /// own config (when a checkpoint holds `STAGE1_G.*`), so a Stage-I checkpoint must agree on each.
    var stageOneSettings: [(key: String, value: String)] {
        let m = model
        return [("model.embedding_dim", "\(m.embeddingDimension)"), ("model.z_dim", "\(m.noiseDimension)"),
                ("model.condition_dim", "\(m.conditionDimension)"), ("model.gf_dim", "\(m.generatorWidth)"),
                ("model.ca_activation", m.caActivation.rawValue), ("model.embedding_scale", "\(m.embeddingScale)"),
                ("model.generator_conditioning", m.generatorConditioning.rawValue)]
    }
}
