import Autograd
import Datasets
import Distributed
import Foundation
import NN

/// Trains one config: alternating D and G steps, progress grids from fixed noise and captions,
/// metrics (JSONL and TensorBoard) and atomic checkpoints that resume to the same numbers.
///
/// Run folder: `config.yml`, `checkpoint.safetensors`, `metrics.jsonl`, `samples/step_NNNNNN.png`,
/// `samples/latest.png`, `samples/captions.txt`, `events.out.tfevents.*`.
public final class Trainer {
    public let config: ExperimentConfig
    public let architecture: Architecture
    public let runDirectory: URL
    public let generator: any TextToImageGenerator
    public let discriminator: any TextImageDiscriminator
    /// The exponential moving average of the generator (`train.ema_decay` > 0), used for samples.
    public let averagedGenerator: (any TextToImageGenerator)?
    public let iteration: GANStep
    public let loader: BatchLoader
    public private(set) var state: TrainingState
    private let fixedNoise: Tensor
    private let fixedEmbeddings: Tensor
    public let fixedCaptions: [String]
    private let log: (String) -> Void
    private var tensorBoard: TensorBoardWriter?
    private var metrics: FileHandle?
    /// The MPI ranks this run trains on (one without a launcher).
    public let parallel: DataParallel
    /// Held by rank 0 from the start to the end of the trainer's life: one process per run folder.
    private let lock: RunFolderLock?

    /// Builds the models and the data pipeline; with `resume`, continues from the run folder's checkpoint.
    public init(config: ExperimentConfig, runDirectory: URL, resume: Bool = false, writeLogs: Bool = true,
                log: @escaping (String) -> Void = { print($0) }) throws {
        architecture = try Architecture(config)
        try config.train.precision.activate(setting: "train.precision")
        self.config = config
        self.runDirectory = runDirectory
        parallel = try DataParallel(group: ProcessGroup.current(), config: config, runFolder: runDirectory)
        self.log = parallel.isWriter ? log : { _ in }
        let fm = FileManager.default
        try makeFolder(runDirectory.path, what: "run folder")
        lock = parallel.isWriter ? try RunFolderLock(folder: runDirectory) : nil
        do {
            try fm.createDirectory(at: runDirectory.appendingPathComponent("samples"), withIntermediateDirectories: true)
        } catch {
            throw StackGANError(.output, runDirectory.path, "cannot create the run folder: \(error.localizedDescription)")
        }

        var rng = RandomGenerator(seed: config.train.seed)
        let models = try architecture.makeTrainingModels(stageOneCheckpoint: config.train.stage1Checkpoint, using: &rng)
        generator = models.generator
        discriminator = models.discriminator
        if config.train.emaDecay > 0 {
            var unused = RandomGenerator(seed: 0)  // every tensor is copied from the live generator
            let copy = architecture.makeGenerator(stageOne: (generator as? Stage2Generator)?.stageOne, using: &unused)
            for (target, source) in zip(copy.namedTensors, generator.namedTensors) {
                try source.tensor.scalars.withUnsafeBufferPointer { try target.tensor.assign($0) }
            }
            copy.setTrainable(false)
            averagedGenerator = copy
        } else {
            averagedGenerator = nil
        }
        let t = config.train
        iteration = GANStep(generator: generator, discriminator: discriminator, architecture: architecture, config: config)
        if parallel.size > 1 { iteration.synchronizeGradients = { [parallel] in try parallel.averageGradients($0) } }

        let options = config.data.datasetOptions(embeddingWidth: config.model.embeddingDimension)
        let dataset = try TextImageDataset.open(path: config.data.path, split: config.data.split, options: options)
        if !dataset.skipped.isEmpty { log("skipped \(dataset.skipped.count) undecodable images: \(dataset.skipped.prefix(5).joined(separator: ", "))") }
        loader = try BatchLoader(dataset: dataset, options: LoaderOptions(
            batchSize: t.batchSize, imageSize: architecture.imageSize, loadSize: config.data.loadSize > 0 ? config.data.loadSize : nil,
            captionsPerStep: config.data.captionsPerStep, wrongPairs: config.data.wrongPairs, seed: t.seed, shuffle: true,
            dropLast: true, prefetch: config.data.prefetch, workers: config.data.workers, flip: config.data.flip,
            cacheBytes: config.data.cacheMB << 20), mode: .train)

        // Fixed captions: the first examples of the eval split (the train split if it has none),
        // each with `samples_per_caption` fixed noises; the same for every step and after resume.
        let evalSet = (try? TextImageDataset.open(path: config.data.path, split: config.data.evalSplit, options: options)) ?? dataset
        let captionCount = min(t.sampleCount, evalSet.count)
        var embeddings: [Float] = []
        var captions: [String] = []
        for i in 0..<captionCount {
            captions.append(evalSet.captions[i].first ?? evalSet.names[i])
            for _ in 0..<t.samplesPerCaption { embeddings += evalSet.embedding(i, caption: 0) }
        }
        fixedCaptions = captions
        fixedEmbeddings = try Tensor(shape: [captionCount * t.samplesPerCaption, evalSet.embeddingWidth], scalars: embeddings)
        var noiseRNG = RandomGenerator(seed: t.seed &+ 1)
        fixedNoise = Tensor.randomNormal([captionCount * t.samplesPerCaption, config.model.noiseDimension], using: &noiseRNG)

        state = TrainingState(random: rng)
        if parallel.isWriter {  // rank 0 reads the checkpoint; `start` hands its numbers to the other ranks
            if resume { try restore() } else if fm.fileExists(atPath: checkpointURL.path) {
                throw StackGANError(.training, checkpointURL.path, "exists: pass --resume to continue that run, or choose another --out")
            }
        }
        if parallel.size > 1 {
            try parallel.start(tensors: checkpointTensors, state: &state)
            iteration.generatorOptimizer.step = state.generatorOptimizerStep
            iteration.discriminatorOptimizer.step = state.discriminatorOptimizerStep
            loader.restore(LoaderState(epoch: state.epoch, batch: state.batch))
        }
        guard parallel.isWriter else { return }
        // What a killed run logged past its checkpoint (past step 0 for a run killed before its
        // first checkpoint) is logged again by this one: each step once.
        try Self.repairRunFolder(runDirectory, afterStep: state.step)
        try ConfigLoader.yaml(config).write(to: runDirectory.appendingPathComponent("config.yml"), atomically: true, encoding: .utf8)
        try? captions.enumerated().map { "row \($0.offset): \($0.element)" }.joined(separator: "\n")
            .write(to: runDirectory.appendingPathComponent("samples/captions.txt"), atomically: true, encoding: .utf8)
        if writeLogs {
            tensorBoard = try TensorBoardWriter(directory: runDirectory.path)
            let metricsURL = runDirectory.appendingPathComponent("metrics.jsonl")
            if !fm.fileExists(atPath: metricsURL.path) { fm.createFile(atPath: metricsURL.path, contents: nil) }
            metrics = try FileHandle(forWritingTo: metricsURL)
            metrics?.seekToEndOfFile()
        }
    }

    public var checkpointURL: URL { runDirectory.appendingPathComponent(Checkpoint.fileName) }

    /// Steps the run is scheduled for: `max_steps`, else `max_epochs` epochs.
    public var totalSteps: Int {
        config.train.maxSteps > 0 ? config.train.maxSteps : config.train.maxEpochs * loader.batchesPerEpoch
    }

    /// One discriminator step and one generator step on the next batch. Returns the loss terms.
    @discardableResult
    public func step() throws -> [String: Float] {
        let global = try loader.next()
        let batch = parallel.slice(global)
        let (n, s, e) = (batch.size, batch.imageSize, batch.embeddingWidth)
        let decay = config.train.learningRateDecayEpochs
        let factor = decay > 0 ? Float(pow(0.5, Double(batch.epoch / decay))) : 1
        iteration.generatorOptimizer.learningRate = config.train.generatorLearningRate * factor
        iteration.discriminatorOptimizer.learningRate = config.train.discriminatorLearningRate * factor

        let real = try Tensor(shape: [n, 3, s, s], scalars: batch.images)
        let wrong = try batch.wrongImages.map { try Tensor(shape: [n, 3, s, s], scalars: $0) }
        let embeddings = try Tensor(shape: [n, e], scalars: batch.embeddings)
        let values: [String: Float]
        do {
            let partners = try parallel.interpolationPartners(global).map { try Tensor(shape: [n, e], scalars: $0) }
            let buffers = (generator.namedTensors + discriminator.namedTensors).filter { !$0.isParameter }
            values = try parallel.step(random: &state.random, buffers: buffers) {
                try iteration(real: real, wrong: wrong, embeddings: embeddings, interpolationPartners: partners, using: &$0)
            }
        } catch let error as StackGANError where error.kind == .training {
            throw StackGANError(.training, "step \(state.step + 1)",
                                "\(error.message); stopped without saving, the last good checkpoint is \(checkpointURL.path)")
        }
        if let averagedGenerator { updateAverage(averagedGenerator) }

        state.step += 1
        state.epoch = loader.state.epoch
        state.batch = loader.state.batch
        return values
    }

    /// Runs to `totalSteps` (or until `shouldStop` says so after a step), logging, sampling and
    /// checkpointing on schedule, and always leaving a final checkpoint and grid.
    public func run(shouldStop: () -> Bool = { false }) throws {
        let t = config.train
        let start = Date()
        let firstStep = state.step
        var lastCheckpoint = -1, lastSamples = -1
        log("training \(config.name): \(config.family.rawValue) stage \(config.stage), \(loader.dataset.count) examples, batch \(t.batchSize), steps \(state.step)..<\(totalSteps), run folder \(runDirectory.path)")
        while try state.step < totalSteps && !parallel.anyRank(shouldStop()) {
            let values = try step()
            try parallel.checkReplicas(step: state.step, tensors: checkpointTensors)
            let elapsed = Date().timeIntervalSince(start)
            let done = state.step - firstStep
            let imagesPerSecond = Double(done * t.batchSize) / max(elapsed, 1e-9)
            if state.step % t.logEvery == 0 || state.step == totalSteps {
                let eta = elapsed / Double(done) * Double(totalSteps - state.step)
                let values = try parallel.average(values)
                let ranks = parallel.size > 1
                    ? String(format: " on %d ranks (allreduce %.0f%%)", parallel.size, 100 * parallel.gradientSeconds / max(elapsed, 1e-9)) : ""
                log(String(format: "step %d/%d  epoch %d  %.1f img/s%@  ETA %@  D %.3f  G %.3f", state.step, totalSteps, state.epoch,
                           imagesPerSecond, ranks, formatDuration(eta), values["d_loss"] ?? .nan, values["g_loss"] ?? .nan))
                record(values, imagesPerSecond: imagesPerSecond)
            }
            guard parallel.isWriter else { continue }
            if t.sampleEvery > 0 && state.step % t.sampleEvery == 0 { try writeSamples(); lastSamples = state.step }
            if t.checkpointEvery > 0 && state.step % t.checkpointEvery == 0 { try saveCheckpoint(); lastCheckpoint = state.step }
        }
        guard parallel.isWriter else { return }
        if lastSamples != state.step { try writeSamples() }
        if lastCheckpoint != state.step { try saveCheckpoint() }
        log("stopped at step \(state.step); checkpoint \(checkpointURL.path), samples \(runDirectory.appendingPathComponent("samples/latest.png").path)")
    }

    /// The fixed-caption grid in eval mode (EMA weights when kept): one row per caption.
    public func sampleImages() throws -> Tensor {
        var rng = RandomGenerator(seed: config.train.seed &+ 2)
        return try withoutGradients {
            try (averagedGenerator ?? generator)(embedding: fixedEmbeddings, noise: fixedNoise, training: false, using: &rng).image
        }
    }

    public func writeSamples() throws {
        let images = try sampleImages()
        let grid = ImageGrid.tile(nchw: images.scalars, count: images.shape[0], size: images.shape[2],
                                  columns: config.train.samplesPerCaption)
        let folder = runDirectory.appendingPathComponent("samples")
        try ImageCodec.writePNG(grid, to: folder.appendingPathComponent(String(format: "step_%06d.png", state.step)).path)
        try ImageCodec.writePNG(grid, to: folder.appendingPathComponent("latest.png").path)
        tensorBoard?.image("samples", png: try ImageCodec.encodePNG(grid), width: grid.width, height: grid.height, step: state.step)
    }

    /// Everything needed to resume, in one file written atomically.
    public func saveCheckpoint() throws {
        let tensors = checkpointTensors
        state.generatorOptimizerStep = iteration.generatorOptimizer.step
        state.discriminatorOptimizerStep = iteration.discriminatorOptimizer.step
        // Sorted keys: the same state gives the same bytes, so identical runs give identical files.
        let stateJSON = String(decoding: try JSONEncoder.sorted.encode(state), as: UTF8.self)
        try SafeTensors.write(tensors, metadata: ["config": try ConfigLoader.yaml(config), "state": stateJSON,
                                                  "family": config.family.rawValue, "stage": String(config.stage)],
                              to: checkpointURL)
    }

    /// Every tensor a checkpoint holds: models, EMA, optimizer moments.
    private var checkpointTensors: [NamedTensor] {
        var tensors = generator.namedTensors(prefix: "generator") + discriminator.namedTensors(prefix: "discriminator")
        if let averagedGenerator { tensors += averagedGenerator.namedTensors(prefix: "generator_ema") }
        tensors += iteration.generatorOptimizer.stateTensors.map { NamedTensor("optimizer_g.\($0.name)", $0.tensor, isParameter: false) }
        tensors += iteration.discriminatorOptimizer.stateTensors.map { NamedTensor("optimizer_d.\($0.name)", $0.tensor, isParameter: false) }
        return tensors
    }

    private func restore() throws {
        let path = checkpointURL.path
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
        try file.assign("generator", into: generator.namedTensors)
        try file.assign("discriminator", into: discriminator.namedTensors)
        if let averagedGenerator { try file.assign("generator_ema", into: averagedGenerator.namedTensors) }
        try file.assign("optimizer_g", into: iteration.generatorOptimizer.stateTensors)
        try file.assign("optimizer_d", into: iteration.discriminatorOptimizer.stateTensors)
        iteration.generatorOptimizer.step = saved.generatorOptimizerStep
        iteration.discriminatorOptimizer.step = saved.discriminatorOptimizerStep
        loader.restore(LoaderState(epoch: saved.epoch, batch: saved.batch))
        state = saved
    }

    private func updateAverage(_ average: any TextToImageGenerator) {
        let d = config.train.emaDecay
        for (target, source) in zip(average.namedTensors, generator.namedTensors) {
            let (a, p) = (target.tensor.pointer, source.tensor.pointer)
            if source.isParameter {
                for i in 0..<source.tensor.count { a[i] = d * a[i] + (1 - d) * p[i] }
            } else {
                a.update(from: p, count: source.tensor.count)  // running statistics follow the live model
            }
        }
    }

    private func record(_ values: [String: Float], imagesPerSecond: Double) {
        for (name, value) in values { tensorBoard?.scalar("loss/\(name)", value, step: state.step) }
        tensorBoard?.scalar("speed/images_per_second", Float(imagesPerSecond), step: state.step)
        var entry: [String: Any] = ["step": state.step, "epoch": state.epoch, "images_per_second": imagesPerSecond,
                                    "time": Date().timeIntervalSince1970]
        for (name, value) in values { entry[name] = Double(value) }
        if let data = try? JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]) {
            metrics?.write(data + Data("\n".utf8))
        }
    }
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
}
