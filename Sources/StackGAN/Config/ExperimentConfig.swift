import Datasets
import Kernels
import Foundation

/// Which model family a config trains.
public enum ModelFamily: String, Codable, Sendable {
    case stackgan
    case ganCLS = "gan_cls"
}

/// `stage`, resolved: which StackGAN stage a model makes, and a discriminator judges: 64x64
/// (STAGE1_G/D) or 256x256 (STAGE2_G/D) images.
public enum StackGANStage: Int, Codable, Sendable {
    case one = 1
    case two = 2
}

/// Everything a training run needs, as read from `configs/*.yml`. Keys are snake_case; a file
/// names only what differs from these defaults (the published StackGAN Stage-I settings).
public struct ExperimentConfig: Codable, Equatable {
    /// `name`: the run's default folder under runs/.
    public var name = "stackgan"
    /// `family`: stackgan or gan_cls.
    public var family = ModelFamily.stackgan
    /// `stage`: 1 (64x64) or 2 (256x256 on a frozen Stage-I). GAN-CLS is stage 1. `check()` checks
    /// every value; `Architecture` resolves family, stage and head.
    public var stage = 1
    public var data = DataConfig()
    public var model = ModelConfig()
    public var loss = LossConfig()
    public var train = TrainConfig()

    public init() {}
}

/// `data:` where the pairs come from and how batches are made.
public struct DataConfig: Codable, Equatable {
    /// `path`: the HDF5 file (`--data` replaces it).
    public var path = "data/shapes.h5"
    public var split = "train"
    /// `eval_split`: where `evaluate` and the fixed sample captions come from.
    public var evalSplit = "test"
    /// `load_size`: resize before the random crop; 0 means 76 for 64 px, 304 for 256 px.
    public var loadSize = 0
    /// `captions_per_step`: 1 = one random caption (StackGAN-Pytorch); k = mean of k (TF, GAN-CLS: 4).
    public var captionsPerStep = 1
    /// `wrong_pairs`: shift (StackGAN-Pytorch), differentClass (TF StackGAN, GAN-CLS) or
    /// similarCaption (hard negatives; see `WrongPairStrategy`).
    public var wrongPairs = WrongPairStrategy.shift
    /// `invalid_images`: stop at an undecodable image, or skip and count it.
    public var invalidImages = InvalidImagePolicy.stop
    public var workers = 1
    public var prefetch = 3
    /// `flip`: random horizontal flips of training images (true, as published); false where
    /// captions name left and right, which a flip would contradict (the shapes data).
    public var flip = true
    /// `cache_mb`: keep the training images decoded at the load size when they fit in this many
    /// MiB (the shapes data takes 83), instead of decoding and resizing each one every step.
    public var cacheMB = 1024
    /// `images`, `embeddings`, `captions`, `classes`, `names`: dataset paths inside the file when they
    /// differ from the layouts we detect ("" = detect).
    public var images = "", embeddings = "", captions = "", classes = "", names = ""

    enum CodingKeys: String, CodingKey {
        case path, split, evalSplit = "eval_split", loadSize = "load_size", captionsPerStep = "captions_per_step"
        case wrongPairs = "wrong_pairs", invalidImages = "invalid_images", workers, prefetch, flip, cacheMB = "cache_mb"
        case images, embeddings, captions, classes, names
    }

    public init() {}

    public func datasetOptions(embeddingWidth: Int) -> DatasetOptions {
        func path(_ s: String) -> String? { s.isEmpty ? nil : s }
        return DatasetOptions(paths: DatasetPaths(images: path(images), embeddings: path(embeddings), captions: path(captions),
                                                  classes: path(classes), names: path(names)),
                              expectedEmbeddingWidth: embeddingWidth, invalidImages: invalidImages)
    }
}

extension ExperimentConfig {
    /// The training batches' settings: shuffled, the last partial batch dropped, crops of
    /// `imageSize` (the architecture's).
    public func loaderOptions(imageSize: Int) -> LoaderOptions {
        LoaderOptions(batchSize: train.batchSize, imageSize: imageSize, loadSize: data.loadSize > 0 ? data.loadSize : nil,
                      captionsPerStep: data.captionsPerStep, wrongPairs: data.wrongPairs, seed: train.seed, shuffle: true,
                      dropLast: true, prefetch: data.prefetch, workers: data.workers, flip: data.flip, cacheBytes: data.cacheMB << 20)
    }
}

/// One DiffAugment transform (Zhao et al. 2020). Config names: `color`, `translation`, `cutout`.
public enum AugmentTransform: String, Codable, Sendable, CaseIterable {
    case color
    case translation
    case cutout
}

/// `train:` the schedule and optimisation settings.
public struct TrainConfig: Codable, Equatable {
    public var batchSize = 64
    /// `max_steps`: stop after this many D+G steps (0 = run `max_epochs`).
    public var maxSteps = 0
    public var maxEpochs = 120
    public var generatorLearningRate: Float = 2e-4
    public var discriminatorLearningRate: Float = 2e-4
    public var beta1: Float = 0.5
    public var beta2: Float = 0.999
    /// `lr_decay_epochs`: halve both learning rates every this many epochs (0 = never).
    public var learningRateDecayEpochs = 20
    /// `lr_linear_decay`: over this last share of the run's steps both learning rates fall
    /// linearly to zero (0 = off, as published). A GAN's last updates at full rate leave the
    /// generator wherever the adversarial game happens to be; decaying lets it settle.
    public var learningRateLinearDecay: Float = 0
    public var seed: UInt64 = 0
    public var logEvery = 10
    /// `sample_every`: write a sample grid every this many steps (0 = only at the end).
    public var sampleEvery = 200
    /// `checkpoint_every`: write the checkpoint every this many steps (0 = only at the end).
    public var checkpointEvery = 500
    /// `sample_count`: captions in the progress grid (each with `samples_per_caption` noises).
    public var sampleCount = 8
    public var samplesPerCaption = 4
    /// `ema_decay`: keep an exponential moving average of the generator for sampling (0 = off).
    public var emaDecay: Float = 0
    /// `stage1_checkpoint`: the frozen Stage-I run's checkpoint, for stage 2.
    public var stage1Checkpoint = ""
    /// `augment`: DiffAugment transforms on every image the discriminator sees, e.g.
    /// [translation, cutout] or [color, translation, cutout] ([] = off, as published).
    public var augment: [AugmentTransform] = []
    /// `precision`: fp32, or bf16 convolutions with fp32 weights, optimizer state, batch-norm
    /// statistics and losses (`Precision`); bf16 is refused on a CPU without bf16 instructions.
    public var precision: Precision = .fp32
    /// `sync_batchnorm`: on several MPI ranks, batch norm normalises with the global batch's
    /// statistics instead of each rank's slice (as DDP's SyncBatchNorm). No effect on one rank.
    public var syncBatchNorm = false
    /// `real_input_fraction`: Stage-II only. This share of each batch (rounded down) is refined from
    /// the batch's own real images brought to 64 px (box-averaged, then softened: see
    /// `real_input_blur`, `real_input_noise`) instead of from Stage-I's samples, and
    /// `loss.reconstruction_weight` ties those rows to the real 256 px crop they came from: a
    /// supervised signal for the detail a 64 px image cannot hold (0 = off, as published).
    public var realInputFraction: Float = 0
    /// `real_input_blur`: each real 64 px input is blurred by a Gaussian of standard deviation
    /// drawn uniformly from [0, this] 64 px pixels, as Stage-I's samples are softer than real images.
    public var realInputBlur: Float = 0
    /// `real_input_noise`: standard deviation of Gaussian noise added to each real 64 px input ([-1, 1] scale).
    public var realInputNoise: Float = 0
    /// `replica_check_every`: on several MPI ranks, compare a checksum of the weights across
    /// ranks every this many steps and stop if they differ (0 = never).
    public var replicaCheckEvery = 100
    /// `allreduce_bucket_kib`: on several MPI ranks, gradients are averaged in buckets of this
    /// many KiB, each starting as soon as the backward pass has completed it (smaller: the first
    /// start earlier; larger: fewer allreduce latencies). PyTorch's DDP uses 25 MiB for its GPUs.
    public var allreduceBucketKiB = 256

    enum CodingKeys: String, CodingKey {
        case batchSize = "batch_size", maxSteps = "max_steps", maxEpochs = "max_epochs"
        case generatorLearningRate = "generator_lr", discriminatorLearningRate = "discriminator_lr", beta1, beta2
        case learningRateDecayEpochs = "lr_decay_epochs", learningRateLinearDecay = "lr_linear_decay", seed, logEvery = "log_every", sampleEvery = "sample_every"
        case checkpointEvery = "checkpoint_every", sampleCount = "sample_count", samplesPerCaption = "samples_per_caption"
        case emaDecay = "ema_decay", stage1Checkpoint = "stage1_checkpoint", augment, precision
        case syncBatchNorm = "sync_batchnorm", replicaCheckEvery = "replica_check_every", allreduceBucketKiB = "allreduce_bucket_kib"
        case realInputFraction = "real_input_fraction", realInputBlur = "real_input_blur", realInputNoise = "real_input_noise"
    }

    public init() {}
}

extension ExperimentConfig {
    enum CodingKeys: String, CodingKey { case name, family, stage, data, model, loss, train }

    /// Reads a config file (nil: the defaults) with `key.path=value` overrides. Keys and types are
    /// checked here; values by `check()`, which `Architecture(config)` runs once per command.
    public static func load(file: String?, overrides: [String] = []) throws -> ExperimentConfig {
        try ConfigLoader.load(ExperimentConfig.self, defaults: ExperimentConfig(), file: file, overrides: overrides)
    }
}
