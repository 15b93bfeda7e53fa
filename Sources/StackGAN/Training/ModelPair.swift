import Autograd
import Foundation
import NN

/// The generator and discriminator a config describes, freshly initialised from `seed`. Stage-II
/// loads its frozen Stage-I from `train.stage1_checkpoint`.
public struct ModelPair {
    public let generator: any TextToImageGenerator
    public let discriminator: any TextImageDiscriminator

    public init(config: ExperimentConfig, using rng: inout RandomGenerator) throws {
        switch (config.family, config.stage) {
        case (.ganCLS, _):
            generator = GANCLSGenerator(config: config.model, using: &rng)
            discriminator = GANCLSDiscriminator(config: config.model, using: &rng)
        case (.stackgan, 1):
            generator = Stage1Generator(config: config.model, using: &rng)
            discriminator = StackGANDiscriminator(stage: .one, config: config.model, using: &rng)
        default:
            let stageOne = try Checkpoint.loadStageOne(path: config.train.stage1Checkpoint, expected: config.model)
            generator = Stage2Generator(config: config.model, stageOne: stageOne, using: &rng)
            discriminator = StackGANDiscriminator(stage: .two, config: config.model, using: &rng)
        }
    }

    /// A generator of the same shape, for the EMA copy and for loading checkpoints to sample from.
    static func makeGenerator(config: ExperimentConfig, stageOne: Stage1Generator?) -> any TextToImageGenerator {
        var rng = RandomGenerator(seed: 0)
        switch (config.family, stageOne) {
        case (.ganCLS, _): return GANCLSGenerator(config: config.model, using: &rng)
        case (.stackgan, let stageOne?) where config.stage == 2:
            return Stage2Generator(config: config.model, stageOne: stageOne, using: &rng)
        default: return Stage1Generator(config: config.model, using: &rng)
        }
    }
}
