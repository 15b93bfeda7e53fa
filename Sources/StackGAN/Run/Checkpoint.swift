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

/// One checkpoint file (`checkpoint.safetensors` in a run folder), read once: tensors under the
/// `Prefix`es plus metadata `config` (the YAML the run used), `state` (JSON TrainingState),
/// `family` and `stage`. Names after the prefix are the StackGAN-Pytorch state_dict keys. The one
/// owner of the format: `write` saves a run, `restore` resumes one, and `load` is the one way to
/// get models from a file.
public struct Checkpoint {
    /// Where each part of a training checkpoint is stored: `<prefix>.<tensor name>`.
    public enum Prefix: String, CaseIterable {
        case generator
        /// The generator's exponential moving average (`train.ema_decay` > 0): what sampling uses.
        case averagedGenerator = "generator_ema"
        case discriminator
        case generatorOptimizer = "optimizer_g"
        case discriminatorOptimizer = "optimizer_d"
    }

    public let path: String
    /// The stored config, resolved.
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
            architecture = try Architecture(ConfigLoader.load(ExperimentConfig.self, defaults: ExperimentConfig(), text: yaml,
                                                              source: "\(path) (config metadata)"))
        } catch let error as StackGANError {
            throw CheckpointError(path: path, message: "config metadata: \(error.message)")
        }
        // The `family` and `stage` entries repeat the config's; a file where they disagree was
        // edited or damaged, and which one is meant cannot be known.
        let config = architecture.config
        for (key, value) in [("family", config.family.rawValue), ("stage", String(config.stage))] {
            if let stored = metadata[key], stored != value {
                throw CheckpointError(path: path, message: "metadata `\(key)` is \(stored) but its config says \(value)")
            }
        }
        self.path = path
        self.tensors = tensors
        self.metadata = metadata
    }

    public var config: ExperimentConfig { architecture.config }

    /// The training position, when the file has one.
    public var state: TrainingState? {
        metadata["state"].flatMap { try? JSONDecoder().decode(TrainingState.self, from: Data($0.utf8)) }
    }

    /// Whether the file stores tensors under `prefix`.
    public func holds(_ prefix: Prefix) -> Bool { tensors.keys.contains { $0.hasPrefix("\(prefix.rawValue).") } }

    /// The EMA generator when the file has one, else the generator: what sampling uses.
    public var samplingPrefix: Prefix { holds(.averagedGenerator) ? .averagedGenerator : .generator }

    /// Assigns the tensors stored under `prefix.` to `targets` by name: every target must be
    /// stored, and every tensor under `prefix.` must have a target.
    public func assign(_ prefix: Prefix, into targets: [NamedTensor]) throws {
        try SafeTensors.assign(tensors, prefix: prefix.rawValue, into: targets, path: path)
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
        let hasOwnStageOne = file.tensors.keys.contains { $0.hasPrefix("\(prefix.rawValue).STAGE1_G.") }
        if architecture.stage == .two && !hasOwnStageOne && separate == nil {
            throw CheckpointError(path: path, message: "Stage-II checkpoint without \(prefix.rawValue).STAGE1_G.* tensors: pass --stage1 with the Stage-I checkpoint it was trained on")
        }
        var rng = RandomGenerator(seed: 0)  // every tensor is overwritten below
        let generator = architecture.makeGenerator(stageOne: hasOwnStageOne ? nil : separate, using: &rng)
        // A separate Stage-I is already loaded; only Stage-II's own tensors come from this file. A
        // stored Stage-I with tensors this config's Stage-I has no place for (e.g. `condition1.*` of
        // generator_conditioning every_block) is refused by `assign` as a different model.
        try file.assign(prefix, into: generator.namedTensors.filter { hasOwnStageOne || !$0.name.hasPrefix("STAGE1_G.") })
        var discriminator: (any TextImageDiscriminator)?
        if file.holds(.discriminator) {
            let d = architecture.makeDiscriminator(using: &rng)
            try file.assign(.discriminator, into: d.namedTensors)
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

/// The live objects a training checkpoint holds, each under its `Checkpoint.Prefix`: what `write`
/// saves and `restore` fills in place.
public struct CheckpointContents {
    public let generator: any TextToImageGenerator
    public let discriminator: any TextImageDiscriminator
    public let averagedGenerator: (any TextToImageGenerator)?
    public let generatorOptimizer: Adam
    public let discriminatorOptimizer: Adam

    public init(generator: any TextToImageGenerator, discriminator: any TextImageDiscriminator,
                averagedGenerator: (any TextToImageGenerator)?, generatorOptimizer: Adam, discriminatorOptimizer: Adam) {
        (self.generator, self.discriminator, self.averagedGenerator) = (generator, discriminator, averagedGenerator)
        (self.generatorOptimizer, self.discriminatorOptimizer) = (generatorOptimizer, discriminatorOptimizer)
    }

    /// Each part's tensors with their names inside it, in the order the file stores them.
    var parts: [(prefix: Checkpoint.Prefix, tensors: [NamedTensor])] {
        var parts: [(Checkpoint.Prefix, [NamedTensor])] = [(.generator, generator.namedTensors), (.discriminator, discriminator.namedTensors)]
        if let averagedGenerator { parts.append((.averagedGenerator, averagedGenerator.namedTensors)) }
        parts += [(.generatorOptimizer, generatorOptimizer.stateTensors), (.discriminatorOptimizer, discriminatorOptimizer.stateTensors)]
        return parts
    }

    /// Every tensor as the file names it (optimizer moments are not parameters).
    public var tensors: [NamedTensor] {
        parts.flatMap { prefix, tensors in
            tensors.map { NamedTensor("\(prefix.rawValue).\($0.name)", $0.tensor, isParameter: $0.isParameter) }
        }
    }
}

extension Checkpoint {
    /// Saves `contents` at `state` with `config` as `folder`'s checkpoint, atomically. Sorted keys:
    /// the same state gives the same bytes, so identical runs give identical files.
    static func write(_ contents: CheckpointContents, state: TrainingState, config: ExperimentConfig, to folder: RunFolder) throws {
        let stateJSON = String(decoding: try JSONEncoder.sorted.encode(state), as: UTF8.self)
        try SafeTensors.write(contents.tensors, metadata: ["config": try ConfigLoader.yaml(config), "state": stateJSON,
                                                           "family": config.family.rawValue, "stage": String(config.stage)],
                              to: folder.destination(.checkpoint))
    }

    /// Fills `contents` from `folder`'s checkpoint and returns the position to resume from.
    static func restore(_ contents: CheckpointContents, from folder: RunFolder) throws -> TrainingState {
        let path = folder.url(.checkpoint).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw StackGANError(.usage, path, "no checkpoint to resume from")
        }
        let file = try Checkpoint(path: path)
        guard let saved = file.state else {
            throw CheckpointError(path: path, message: "no readable `state` metadata: not a training checkpoint")
        }
        let counters = [("step", saved.step), ("epoch", saved.epoch), ("batch", saved.batch),
                        ("generatorOptimizerStep", saved.generatorOptimizerStep),
                        ("discriminatorOptimizerStep", saved.discriminatorOptimizerStep)]
        if let (key, value) = counters.first(where: { $0.1 < 0 }) {
            throw CheckpointError(path: path, message: "`state` metadata: \(key) is \(value), expected >= 0")
        }
        for (prefix, tensors) in contents.parts { try file.assign(prefix, into: tensors) }
        return saved
    }
}

extension Architecture {
    /// Both networks for a new training run, drawn from `rng` (generator first). Stage-II's frozen
    /// Stage-I comes from `stageOneCheckpoint` (`train.stage1_checkpoint`).
    public func makeTrainingModels(stageOneCheckpoint: String, using rng: inout RandomGenerator) throws
        -> (generator: any TextToImageGenerator, discriminator: any TextImageDiscriminator) {
        let stageOne = stage == .two ? try Checkpoint.load(stageOneCheckpoint).stageOne(for: self) : nil
        let generator = makeGenerator(stageOne: stageOne, using: &rng)
        return (generator, makeDiscriminator(using: &rng))
    }
}

extension JSONEncoder {
    /// Sorted keys, so the same value encodes to the same bytes every time (checkpoint state, cache keys).
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }

    /// Pretty-printed, sorted, snake_case keys: the JSON files people read (evaluation.json,
    /// runs.json, ablation_run.json). `JSONDecoder.snakeCase` reads them back.
    static var readable: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }
}

extension JSONDecoder {
    /// Reads what `JSONEncoder.readable` wrote.
    static var snakeCase: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
