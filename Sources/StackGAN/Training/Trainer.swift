import Autograd
import Datasets
import Distributed
import Foundation
import NN

/// Trains one architecture: alternating D and G steps (`GANStep`) on the batches of its data, an
/// exponential moving average of the generator, and on schedule a progress grid, a logged step and
/// a checkpoint. Where those go is the run folder's business (`RunFolder`, `Checkpoint`, `RunLog`);
/// a resumed run continues to the same numbers as an uninterrupted one.
public final class Trainer {
    public let architecture: Architecture
    public let folder: RunFolder
    public let generator: any TextToImageGenerator
    public let discriminator: any TextImageDiscriminator
    /// The exponential moving average of the generator (`train.ema_decay` > 0), used for samples.
    public let averagedGenerator: (any TextToImageGenerator)?
    public let iteration: GANStep
    public let loader: BatchLoader
    public private(set) var state: TrainingState
    private let grid: SampleGrid
    private let log: (String) -> Void
    private var runLog: RunLog?
    /// The MPI ranks this run trains on (one without a launcher).
    public let parallel: DataParallel
    /// Held by rank 0 from the start to the end of the trainer's life: one process per run folder.
    private let lock: RunFolderLock?

    /// Builds the models and the data pipeline; with `resume`, continues from the folder's
    /// checkpoint. `writeLogs` false: no metrics.jsonl or TensorBoard events (tests). `group`: the
    /// ranks that train this run together (default: every rank the launcher started; `ablate`
    /// gives each run to one rank with `.single`).
    public init(architecture: Architecture, folder: RunFolder, resume: Bool = false, writeLogs: Bool = true,
                group: ProcessGroup? = nil, log: @escaping (String) -> Void = { print($0) }) throws {
        let config = architecture.config
        try config.train.precision.activate(setting: "train.precision")
        self.architecture = architecture
        self.folder = folder
        parallel = try DataParallel(group: group ?? ProcessGroup.current(), config: config, runFolder: folder.url)
        self.log = parallel.isWriter ? log : { _ in }
        lock = parallel.isWriter ? try folder.create() : nil

        var rng = RandomGenerator(seed: config.train.seed)
        let models = try architecture.makeTrainingModels(stageOneCheckpoint: config.train.stage1Checkpoint, using: &rng)
        generator = models.generator
        discriminator = models.discriminator
        averagedGenerator = config.train.emaDecay > 0 ? try Self.copy(of: generator, architecture) : nil
        iteration = GANStep(generator: generator, discriminator: discriminator, architecture: architecture, config: config)
        if parallel.size > 1 { iteration.gradientAveraging = (parallel.gradientReady, parallel.averageGradients) }

        let options = config.data.datasetOptions(embeddingWidth: config.model.embeddingDimension)
        let dataset = try TextImageDataset.open(path: config.data.path, split: config.data.split, options: options)
        if !dataset.skipped.isEmpty { log("skipped \(dataset.skipped.count) undecodable images: \(dataset.skipped.prefix(5).joined(separator: ", "))") }
        loader = try BatchLoader(dataset: dataset, options: config.loaderOptions(imageSize: architecture.imageSize), mode: .train)
        grid = try SampleGrid(config: config, dataset: dataset, options: options)

        state = TrainingState(random: rng)
        if parallel.isWriter {  // rank 0 reads the checkpoint; `start` hands its numbers to the other ranks
            if resume {
                state = try Checkpoint.restore(contents, from: folder)
            } else if FileManager.default.fileExists(atPath: folder.url(.checkpoint).path) {
                throw StackGANError(.training, folder.url(.checkpoint).path, "exists: pass --resume to continue that run, or choose another --out")
            }
        }
        if resume || parallel.size > 1 {
            try parallel.start(tensors: contents.tensors, state: &state)
            iteration.generatorOptimizer.step = state.generatorOptimizerStep
            iteration.discriminatorOptimizer.step = state.discriminatorOptimizerStep
            loader.restore(LoaderState(epoch: state.epoch, batch: state.batch))
        }
        guard parallel.isWriter else { return }
        // What a killed run logged past its checkpoint (past step 0 for a run killed before its
        // first checkpoint) is logged again by this one: each step once.
        try folder.repair(afterStep: state.step)
        try folder.write(ConfigLoader.yaml(config), to: .config)
        try? folder.write(grid.captionLines, to: .sampleCaptions)
        if writeLogs { runLog = try RunLog(folder: folder) }
    }

    public var config: ExperimentConfig { architecture.config }

    /// Steps the run is scheduled for: `max_steps`, else `max_epochs` epochs.
    public var totalSteps: Int {
        config.train.maxSteps > 0 ? config.train.maxSteps : config.train.maxEpochs * loader.batchesPerEpoch
    }

    /// The captions of the progress grid's rows.
    public var sampleCaptions: [String] { grid.captions }

    /// One discriminator step and one generator step on the next batch. Returns the loss terms.
    @discardableResult
    public func step() throws -> [String: Float] {
        let global = try loader.next()
        let batch = parallel.slice(global)
        let (n, s, e) = (batch.size, batch.imageSize, batch.embeddingWidth)
        let decay = config.train.learningRateDecayEpochs
        var factor = decay > 0 ? Float(pow(0.5, Double(batch.epoch / decay))) : 1
        let linear = config.train.learningRateLinearDecay
        if linear > 0 {  // 1 until the last `linear` share of the steps, then down to 1/decaying at the last step
            let decaying = max(Double(totalSteps) * Double(linear), 1)
            factor *= Float(min(1, Double(totalSteps - state.step) / decaying))
        }
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
                                "\(error.message); stopped without saving, the last good checkpoint is \(folder.url(.checkpoint).path)")
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
        log("training \(config.name): \(config.family.rawValue) stage \(config.stage), \(loader.dataset.count) examples, batch \(t.batchSize), steps \(state.step)..<\(totalSteps), run folder \(folder.url.path)")
        while try state.step < totalSteps && !parallel.anyRank(shouldStop()) {
            let values = try step()
            try parallel.checkReplicas(step: state.step, tensors: contents.tensors)
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
                runLog?.record(MetricsRecord(step: state.step, epoch: state.epoch, imagesPerSecond: imagesPerSecond,
                                             time: Date().timeIntervalSince1970, losses: values.mapValues(Double.init)))
            }
            guard parallel.isWriter else { continue }
            if t.sampleEvery > 0 && state.step % t.sampleEvery == 0 { try writeSamples(); lastSamples = state.step }
            if t.checkpointEvery > 0 && state.step % t.checkpointEvery == 0 { try saveCheckpoint(); lastCheckpoint = state.step }
        }
        guard parallel.isWriter else { return }
        if lastSamples != state.step { try writeSamples() }
        if lastCheckpoint != state.step { try saveCheckpoint() }
        log("stopped at step \(state.step); checkpoint \(folder.url(.checkpoint).path), samples \(folder.url(.latestSamples).path)")
    }

    /// The progress grid in eval mode (EMA weights when kept), as samples/step_NNNNNN.png,
    /// samples/latest.png and a TensorBoard image.
    public func writeSamples() throws {
        let image = try grid.draw(averagedGenerator ?? generator)
        let png = try ImageCodec.encodePNG(image)
        try folder.write(Data(png), to: .samples(step: state.step))
        try folder.write(Data(png), to: .latestSamples)
        runLog?.samples(png: png, width: image.width, height: image.height, step: state.step)
    }

    /// Everything needed to resume, in one file written atomically.
    public func saveCheckpoint() throws {
        state.generatorOptimizerStep = iteration.generatorOptimizer.step
        state.discriminatorOptimizerStep = iteration.discriminatorOptimizer.step
        try Checkpoint.write(contents, state: state, config: config, to: folder)
    }

    /// The live models and optimizers, as a checkpoint holds them.
    private var contents: CheckpointContents {
        CheckpointContents(generator: generator, discriminator: discriminator, averagedGenerator: averagedGenerator,
                           generatorOptimizer: iteration.generatorOptimizer, discriminatorOptimizer: iteration.discriminatorOptimizer)
    }

    /// A frozen copy of `generator` to average into; every tensor is copied from it.
    private static func copy(of generator: any TextToImageGenerator, _ architecture: Architecture) throws -> any TextToImageGenerator {
        var unused = RandomGenerator(seed: 0)
        let copy = architecture.makeGenerator(stageOne: (generator as? Stage2Generator)?.stageOne, using: &unused)
        for (target, source) in zip(copy.namedTensors, generator.namedTensors) {
            try source.tensor.scalars.withUnsafeBufferPointer { try target.tensor.assign($0) }
        }
        copy.setTrainable(false)
        return copy
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
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
}
