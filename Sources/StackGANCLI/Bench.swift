import ArgumentParser
import Autograd
import Datasets
import Dispatch
import Foundation
import Kernels
import NN
import StackGAN

/// `stackgan bench conv|data`: prints throughput beside a reference measured in the same run.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: conv kernels against the measured sgemm peak, data loading throughput.",
        subcommands: [TrainBench.self, GenerateBench.self, ConvBench.self, PeakBench.self, DataBench.self, AllreduceBench.self, TextBench.self]
    )
}

struct ConvBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "conv",
        abstract: "Times conv forward + backward for the StackGAN layer shapes and prints GFLOP/s and % of sgemm peak.")

    @Option(help: "Batch size of the layer shapes.") var batch = 64
    @Option(help: "Timed repetitions per measurement (the best is reported).") var repeats = 5

    func run() throws {
        let peak = try sgemmPeak()
        print(String(format: "sgemm 2048^3 peak: %.0f GFLOP/s (threads: %@)", peak,
                     ProcessInfo.processInfo.environment["OMP_NUM_THREADS"] ?? "all cores"))
        let shapes: [(String, ConvGeometry)] = [
            ("G up 512->256 16x16 3x3", ConvGeometry(batch: batch, inChannels: 512, height: 16, width: 16, outChannels: 256, kernel: (3, 3), padding: (1, 1))),
            ("G up 1024->512 8x8 3x3", ConvGeometry(batch: batch, inChannels: 1024, height: 8, width: 8, outChannels: 512, kernel: (3, 3), padding: (1, 1))),
            ("G up 256->128 32x32 3x3", ConvGeometry(batch: batch, inChannels: 256, height: 32, width: 32, outChannels: 128, kernel: (3, 3), padding: (1, 1))),
            ("G up 128->64 64x64 3x3", ConvGeometry(batch: batch, inChannels: 128, height: 64, width: 64, outChannels: 64, kernel: (3, 3), padding: (1, 1))),
            ("D down 64->128 32x32 4x4 s2", ConvGeometry(batch: batch, inChannels: 64, height: 32, width: 32, outChannels: 128, kernel: (4, 4), stride: (2, 2), padding: (1, 1))),
            ("D down 256->512 8x8 4x4 s2", ConvGeometry(batch: batch, inChannels: 256, height: 8, width: 8, outChannels: 512, kernel: (4, 4), stride: (2, 2), padding: (1, 1))),
        ]
        var settings: [(String, Bool, ConvAlgorithm, Precision)] = [
            ("plain direct", false, .direct, .fp32), ("blocked direct", true, .direct, .fp32), ("blocked winograd", true, .winograd, .fp32)]
        if CPUCapabilities.hasBF16 { settings.append(("blocked bf16", true, .direct, .bf16)) }
        defer { try? KernelSettings.use(.fp32) }
        print("layer                          setting            fwd GF/s  bwd-data  bwd-wts   fwd+bwd ms  % peak  implementation")
        for (name, g) in shapes {
            for (label, blocked, algorithm, precision) in settings where algorithm == .direct || g.kernelHeight == 3 {
                KernelSettings.blockedLayouts = blocked
                KernelSettings.convAlgorithm = algorithm
                try KernelSettings.use(precision)
                let (f, d, w) = try time(g)
                let total = f + d + w
                let gflops = { (seconds: Double) in g.flops / seconds / 1e9 }
                let overall = 3 * g.flops / total / 1e9
                print(String(format: "%-30@ %-17@ %8.0f  %8.0f  %8.0f  %10.1f  %5.0f%%  %@", name, label, gflops(f), gflops(d),
                             gflops(w), total * 1e3, 100 * overall / peak, try Conv2dKernel.implementation(g)))
            }
        }
        print("GF/s for Winograd are effective (direct-conv FLOPs / time); % peak is fwd+bwd against the sgemm peak;")
        print("bf16 times include converting the fp32 operands to bf16.")
    }

    /// Best-of-`repeats` seconds for forward, backward data and backward weights.
    private func time(_ g: ConvGeometry) throws -> (Double, Double, Double) {
        let x = randomBuffer(g.inputDims.reduce(1, *)), wt = randomBuffer(g.weightDims.reduce(1, *))
        let y = randomBuffer(g.outputDims.reduce(1, *))
        let dx = randomBuffer(x.count), dw = randomBuffer(wt.count)
        defer { for b in [x, wt, y, dx, dw] { b.deallocate() } }
        func best(_ body: () throws -> Void) throws -> Double {
            try body()  // creates the primitive, warms caches
            var bestTime = Double.infinity
            for _ in 0..<repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                try body()
                bestTime = min(bestTime, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return bestTime
        }
        let f = try best { try Conv2dKernel.forward(g, input: x.baseAddress!, weight: wt.baseAddress!, bias: nil, output: y.baseAddress!) }
        let d = try best { try Conv2dKernel.backwardData(g, gradOutput: y.baseAddress!, weight: wt.baseAddress!, gradInput: dx.baseAddress!) }
        let w = try best { try Conv2dKernel.backwardWeights(g, input: x.baseAddress!, gradOutput: y.baseAddress!, gradWeight: dw.baseAddress!, gradBias: nil) }
        return (f, d, w)
    }
}

/// The best of four 2048^3 bf16 matrix products, GFLOP/s, as a 1x1 convolution (2048 channels in
/// and out over 2048 pixels) with fp32 operands converted to bf16 on the way in and fp32 out: the
/// bf16 peak our kernels can reach. Nil where the CPU has no bf16 instructions.
func bf16Peak() throws -> Double? {
    guard CPUCapabilities.hasBF16 else { return nil }
    let saved = KernelSettings.precision
    try KernelSettings.use(.bf16)
    defer { try? KernelSettings.use(saved) }
    let g = ConvGeometry(batch: 1, inChannels: 2048, height: 32, width: 64, outChannels: 2048, kernel: (1, 1))
    let x = randomBuffer(g.inputDims.reduce(1, *)), w = randomBuffer(g.weightDims.reduce(1, *))
    let y = randomBuffer(g.outputDims.reduce(1, *))
    defer { x.deallocate(); w.deallocate(); y.deallocate() }
    try Conv2dKernel.forward(g, input: x.baseAddress!, weight: w.baseAddress!, bias: nil, output: y.baseAddress!)
    var bestTime = Double.infinity
    for _ in 0..<4 {
        let start = DispatchTime.now().uptimeNanoseconds
        try Conv2dKernel.forward(g, input: x.baseAddress!, weight: w.baseAddress!, bias: nil, output: y.baseAddress!)
        bestTime = min(bestTime, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return g.flops / bestTime / 1e9
}

/// The best of four 2048^3 sgemm runs, GFLOP/s: the machine's practical fp32 peak through oneDNN.
func sgemmPeak() throws -> Double {
    let n = 2048
    let a = randomBuffer(n * n), b = randomBuffer(n * n), c = randomBuffer(n * n)
    defer { a.deallocate(); b.deallocate(); c.deallocate() }
    var bestTime = Double.infinity
    for _ in 0..<4 {
        let start = DispatchTime.now().uptimeNanoseconds
        try Gemm.multiply(transposeA: false, transposeB: false, m: n, n: n, k: n, a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!)
        bestTime = min(bestTime, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return 2 * Double(n * n * n) / bestTime / 1e9
}

func randomBuffer(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
    let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
    for i in 0..<count { b[i] = Float.random(in: -1...1) }
    return b
}

struct PeakBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "peak",
        abstract: "Prints the sgemm 2048^3 GFLOP/s that the other benchmarks are compared with, and the bf16 one.")

    func run() throws {
        print(String(format: "sgemm 2048^3 peak: %.0f GFLOP/s", try sgemmPeak()))
        print("oneDNN ISA: \(CPUCapabilities.isa)")
        if let bf16 = try bf16Peak() {
            print(String(format: "bf16 2048^3 peak (1x1 conv): %.0f GFLOP/s", bf16))
        } else {
            print("bf16 2048^3 peak: none (no bf16 instructions)")
        }
    }
}

struct DataBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data",
        abstract: "Decode + augment throughput (images/s) for 64 and 256 px batches.")

    @Argument(help: "An HDF5 dataset.") var path = "data/shapes.h5"

    func run() throws {
        try DataBenchmark.run(path: path)
    }
}

/// Options shared by the model benchmarks: the published StackGAN widths on synthetic data, so
/// the numbers compare with scripts/reference/bench_torch.py on identical shapes; or, with
/// `--config`, that config's models and training step (its recipe, widths and batch), so the
/// number compares with what `stackgan train` reaches on the same config.
struct ModelBenchOptions: ParsableArguments {
    @Option(help: "StackGAN stage: 1 (64x64) or 2 (256x256); ignored with --config.") var stage = 1
    @Option(help: "Batch size (default 64 for stage 1, 16 for stage 2, the config's with --config).") var batch: Int?
    @Option(help: "Timed iterations after one warm-up.") var iterations = 3
    @Option(name: .customLong("config"), help: "A training config (e.g. configs/shapes_stage1.yml): bench its models, loss terms and batch.")
    var configFile: String?
    @Option(name: .customLong("set"), help: "Config override, e.g. --set model.gf_dim=64.") var overrides: [String] = []
    @Option(help: "Convolution arithmetic: fp32, or bf16 (AVX512-BF16 or AMX).") var precision: Precision = .fp32

    /// Fresh models (a Stage-II's Stage-I too) from seed 1, as the config with the overrides describes.
    func build() throws -> (config: ExperimentConfig, architecture: Architecture, generator: any TextToImageGenerator,
                            discriminator: any TextImageDiscriminator, batch: Int) {
        guard stage == 1 || stage == 2 else { throw StackGANError.usage("--stage must be 1 or 2") }
        var settings: [String]
        if configFile != nil {
            settings = ["train.stage1_checkpoint=none"] + overrides
            if let batch { settings.append("train.batch_size=\(batch)") }
        } else {
            settings = ["stage=\(stage)", "model.embedding_dim=1024", "train.stage1_checkpoint=none"] + overrides
            settings.append("train.batch_size=\(batch ?? (stage == 1 ? 64 : 16))")
        }
        let config = try ExperimentConfig.load(file: configFile, overrides: settings)
        let architecture = try Architecture(config)
        try precision.activate(setting: "--precision")
        var rng = RandomGenerator(seed: 1)
        let generator = architecture.makeGenerator(using: &rng)
        let discriminator = architecture.makeDiscriminator(using: &rng)
        return (config, architecture, generator, discriminator, config.train.batchSize)
    }
}

/// Peak resident memory of this process so far, in MiB.
func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Times `iterations` calls of `body` after one warm-up; returns the mean seconds and GFLOP/s.
func timeIterations(_ iterations: Int, _ body: () throws -> Void) throws -> (seconds: Double, gflops: Double) {
    try body()  // primitive creation and first-touch allocations
    KernelStatistics.flops = 0
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<max(1, iterations) { try body() }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(max(1, iterations))
    return (seconds, KernelStatistics.flops / Double(max(1, iterations)) / seconds / 1e9)
}

struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train",
        abstract: "Times StackGAN training iterations (one D step + one G step, all loss terms) on synthetic data.")

    @OptionGroup var options: ModelBenchOptions

    func run() throws {
        let (config, architecture, generator, discriminator, n) = try options.build()
        let size = architecture.imageSize
        var rng = RandomGenerator(seed: 2)
        let real = Tensor.randomNormal([n, 3, size, size], standardDeviation: 0.5, using: &rng)
        let embeddings = Tensor.randomNormal([n, config.model.embeddingDimension], using: &rng)
        // `wrong_pairs` other than shift feed D a separate batch of wrong images, as train does.
        let wrong = config.data.wrongPairs != .shift
            ? Tensor.randomNormal([n, 3, size, size], standardDeviation: 0.5, using: &rng) : nil
        let step = GANStep(generator: generator, discriminator: discriminator, architecture: architecture, config: config)
        let (seconds, gflops) = try timeIterations(options.iterations) {
            _ = try step(real: real, wrong: wrong, embeddings: embeddings, using: &rng)
        }
        print(String(format: "swift train stage %d batch %d %@: %.3f s/iter  %.1f images/s  %.0f GFLOP/s  peak RSS %.0f MiB  (tensors %.0f MiB, workspace %.0f MiB)",
                     config.stage, n, options.precision.rawValue, seconds, Double(n) / seconds, gflops, peakResidentMiB(),
                     Double(BufferPool.peakLiveBytes) / 1048576, Double(KernelStatistics.workspaceBytes) / 1048576))
    }
}

struct GenerateBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate",
        abstract: "Times generation (eval mode, no gradients) on synthetic captions.")

    @OptionGroup var options: ModelBenchOptions

    func run() throws {
        let (config, _, generator, _, n) = try options.build()
        var rng = RandomGenerator(seed: 2)
        let embeddings = Tensor.randomNormal([n, config.model.embeddingDimension], using: &rng)
        let noise = Tensor.randomNormal([n, config.model.noiseDimension], using: &rng)
        let (seconds, gflops) = try timeIterations(options.iterations) {
            _ = try withoutGradients { try generator(embedding: embeddings, noise: noise, training: false, using: &rng) }
        }
        print(String(format: "swift generate stage %d batch %d %@: %.3f s/batch  %.1f images/s  %.0f GFLOP/s  peak RSS %.0f MiB",
                     config.stage, n, options.precision.rawValue, seconds, Double(n) / seconds, gflops, peakResidentMiB()))
    }
}
