import Autograd
import Foundation
import NN

/// What a training checkpoint holds besides tensors: the position to resume from.
public struct TrainingState: Codable, Equatable {
    public var step = 0
    public var epoch = 0
    public var batch = 0
    public var generatorOptimizerStep = 0
    public var discriminatorOptimizerStep = 0
    public var random = RandomGenerator(seed: 0)
}

/// One safetensors file per run (`checkpoint.safetensors`): tensors under `generator.`,
/// `generator_ema.`, `discriminator.`, `optimizer_g.`, `optimizer_d.` plus metadata `config`
/// (the YAML the run used), `state` (JSON TrainingState), `family` and `stage`. Generator names
/// after the prefix are the StackGAN-Pytorch state_dict keys.
public enum Checkpoint {
    public static let fileName = "checkpoint.safetensors"

    /// The config and stored tensor names of a checkpoint, read without building a model.
    public static func config(of path: String) throws -> (config: ExperimentConfig, metadata: [String: String]) {
        let (_, metadata) = try SafeTensors.read(URL(fileURLWithPath: path))
        guard let yaml = metadata["config"] else {
            throw CheckpointError(path: path, message: "no `config` metadata: not a checkpoint written by `stackgan train`")
        }
        let config = try ConfigLoader.load(ExperimentConfig.self, defaults: ExperimentConfig(), text: yaml,
                                           source: "\(path) (config metadata)")
        return (config, metadata)
    }

    /// A generator ready to sample: the EMA weights when the checkpoint has them, else the trained ones.
    public static func loadGenerator(path: String) throws -> (generator: any TextToImageGenerator, config: ExperimentConfig) {
        let (config, _) = try self.config(of: path)
        let (stored, _) = try SafeTensors.read(URL(fileURLWithPath: path))
        let prefix = stored.keys.contains { $0.hasPrefix("generator_ema.") } ? "generator_ema" : "generator"
        var stageOne: Stage1Generator?
        if config.family == .stackgan && config.stage == 2 {
            var rng = RandomGenerator(seed: 0)
            stageOne = Stage1Generator(config: config.model, using: &rng)
        }
        let generator = ModelPair.makeGenerator(config: config, stageOne: stageOne)
        try SafeTensors.assign(stored, prefix: prefix, into: generator.namedTensors, allowExtra: true, path: path)
        return (generator, config)
    }

    /// Stage-I's generator for Stage-II training: its widths must equal the Stage-II config's.
    static func loadStageOne(path: String, expected: ModelConfig) throws -> Stage1Generator {
        let (config, _) = try self.config(of: path)
        guard config.family == .stackgan, config.stage == 1 else {
            throw CheckpointError(path: path, message: "is a \(config.family.rawValue) stage \(config.stage) checkpoint; Stage-II needs a StackGAN Stage-I one")
        }
        let widths = { (m: ModelConfig) in [m.embeddingDimension, m.noiseDimension, m.conditionDimension, m.generatorWidth] }
        guard widths(config.model) == widths(expected) && config.model.caActivation == expected.caActivation else {
            throw CheckpointError(path: path, message: "Stage-I model (embedding_dim, z_dim, condition_dim, gf_dim) = \(widths(config.model)) differs from this config's \(widths(expected))")
        }
        let (generator, _) = try loadGenerator(path: path)
        guard let stageOne = generator as? Stage1Generator else {
            throw CheckpointError(path: path, message: "does not hold a Stage-I generator")
        }
        return stageOne
    }
}
