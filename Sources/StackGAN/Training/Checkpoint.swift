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

/// One checkpoint file (`checkpoint.safetensors` in a run folder), read once: tensors under
/// `generator.`, `generator_ema.`, `discriminator.`, `optimizer_g.`, `optimizer_d.` plus metadata
/// `config` (the YAML the run used), `state` (JSON TrainingState), `family` and `stage`. Names
/// after the prefix are the StackGAN-Pytorch state_dict keys. `Checkpoint.load` is the one way
/// to get models from a file; the trainer's resume assigns the same tensors into its live models.
public struct Checkpoint {
    public static let fileName = "checkpoint.safetensors"

    public let path: String
    public let config: ExperimentConfig
    public let architecture: Architecture
    public let tensors: [String: SafeTensors.Entry]
    public let metadata: [String: String]

    /// Reads and validates the file; an unusable one is a `CheckpointError` naming it.
    public init(path: String) throws {
        let (tensors, metadata) = try SafeTensors.read(URL(fileURLWithPath: path))
        guard let yaml = metadata["config"] else {
            throw CheckpointError(path: path, message: "no `config` metadata: not a checkpoint written by `stackgan train`")
        }
        do {
            config = try ConfigLoader.load(ExperimentConfig.self, defaults: ExperimentConfig(), text: yaml,
                                           source: "\(path) (config metadata)")
            architecture = try Architecture(config)
        } catch let error as StackGANError {
            throw CheckpointError(path: path, message: "config metadata: \(error.message)")
        }
        // The `family` and `stage` entries repeat the config's; a file where they disagree was
        // edited or damaged, and which one is meant cannot be known.
        for (key, value) in [("family", config.family.rawValue), ("stage", String(config.stage))] {
            if let stored = metadata[key], stored != value {
                throw CheckpointError(path: path, message: "metadata `\(key)` is \(stored) but its config says \(value)")
            }
        }
        self.path = path
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The training position, when the file has one.
    public var state: TrainingState? {
        metadata["state"].flatMap { try? JSONDecoder().decode(TrainingState.self, from: Data($0.utf8)) }
    }

    /// `generator_ema` when the file has EMA weights, else `generator`: what sampling uses.
    public var samplingPrefix: String {
        tensors.keys.contains { $0.hasPrefix("generator_ema.") } ? "generator_ema" : "generator"
    }

    /// Assigns the tensors stored under `prefix.` to `targets` by name: every target must be
    /// stored, and every tensor under `prefix.` must have a target.
    public func assign(_ prefix: String, into targets: [NamedTensor]) throws {
        try SafeTensors.assign(tensors, prefix: prefix, into: targets, path: path)
    }

    /// Reads `path` once and builds its models: the generator with the EMA weights when stored,
    /// and the discriminator when stored. A Stage-II checkpoint without its own `STAGE1_G.*`
    /// tensors takes them from `stageOne` (a Stage-I checkpoint whose widths must fit; checked
    /// even when the file has its own, and refused for other architectures).
    public static func load(_ path: String, stageOne: String? = nil) throws -> TrainedModels {
        let file = try Checkpoint(path: path)
        let architecture = file.architecture
        if let stageOne, architecture.stage != .two {
            throw CheckpointError(path: path, message: "is a \(architecture.family.rawValue) stage \(architecture.stage.rawValue) checkpoint; a separate Stage-I checkpoint (\(stageOne)) applies only to StackGAN Stage-II")
        }
        let prefix = file.samplingPrefix
        let separate = try stageOne.map { try load($0).stageOne(for: architecture) }
        let hasOwnStageOne = file.tensors.keys.contains { $0.hasPrefix("\(prefix).STAGE1_G.") }
        if architecture.stage == .two && !hasOwnStageOne && separate == nil {
            throw CheckpointError(path: path, message: "Stage-II checkpoint without \(prefix).STAGE1_G.* tensors: pass --stage1 with the Stage-I checkpoint it was trained on")
        }
        var rng = RandomGenerator(seed: 0)  // every tensor is overwritten below
        let generator = architecture.makeGenerator(stageOne: hasOwnStageOne ? nil : separate, using: &rng)
        // A separate Stage-I is already loaded; only Stage-II's own tensors come from this file. A
        // stored Stage-I with tensors this config's Stage-I has no place for (e.g. `condition1.*` of
        // generator_conditioning every_block) is refused by `assign` as a different model.
        try file.assign(prefix, into: generator.namedTensors.filter { hasOwnStageOne || !$0.name.hasPrefix("STAGE1_G.") })
        var discriminator: (any TextImageDiscriminator)?
        if file.tensors.keys.contains(where: { $0.hasPrefix("discriminator.") }) {
            let d = architecture.makeDiscriminator(using: &rng)
            try file.assign("discriminator", into: d.namedTensors)
            discriminator = d
        }
        let source = architecture.stage == .two ? (hasOwnStageOne ? path : stageOne) : nil
        return TrainedModels(file: file, generator: generator, discriminator: discriminator, stageOneSource: source)
    }
}

/// What `Checkpoint.load` returns: the file's config and architecture, its generator (EMA weights
/// when stored) and its discriminator (nil when the file has none, e.g. a converted `netG_*.pth`).
public struct TrainedModels {
    public let file: Checkpoint
    public let generator: any TextToImageGenerator
    public let discriminator: (any TextImageDiscriminator)?
    /// Where a Stage-II generator's frozen Stage-I weights came from (nil for other generators).
    public let stageOneSource: String?

    public var config: ExperimentConfig { file.config }
    public var architecture: Architecture { file.architecture }

    /// The discriminator, or an error naming the file when it has none.
    public func requireDiscriminator() throws -> any TextImageDiscriminator {
        guard let discriminator else {
            throw CheckpointError(path: file.path, message: "has no `discriminator.*` tensors")
        }
        return discriminator
    }

    /// This Stage-I generator, for a Stage-II `architecture` built on it: family, stage and every
    /// `stageOneSettings` value must fit.
    func stageOne(for architecture: Architecture) throws -> Stage1Generator {
        let path = file.path, own = self.architecture
        guard own.family == .stackgan, own.stage == .one, let stageOne = generator as? Stage1Generator else {
            throw CheckpointError(path: path, message: "is a \(own.family.rawValue) stage \(own.stage.rawValue) checkpoint; Stage-II needs a StackGAN Stage-I one")
        }
        for (mine, theirs) in zip(own.stageOneSettings, architecture.stageOneSettings) where mine.value != theirs.value {
            throw CheckpointError(path: path, message: "Stage-I model has \(mine.key) \(mine.value), but this Stage-II config has \(theirs.value): set it to the Stage-I run's")
        }
        return stageOne
    }
}
