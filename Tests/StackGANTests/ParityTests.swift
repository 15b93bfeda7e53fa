import Autograd
import Foundation
import NN
@testable import StackGAN
import XCTest

/// Parity with the PyTorch reference modules (scripts/reference/stackgan_torch.py), from the values
/// scripts/make_model_fixtures.py stored under Fixtures/models. Weights are loaded strictly by name,
/// so a passing test also proves the names equal the PyTorch state_dict keys.
final class ParityTests: XCTestCase {
    /// Relative error = max |swift - expected| / max |expected| over a tensor, where the expected
    /// values are PyTorch's in float64 from the same float32 weights and inputs. The bound is the
    /// larger of a fixed one and 3x PyTorch's own float32 error on that value (`f32_error.<key>`):
    /// Stage-II's gradients sum ~10^5 terms of both signs through train-mode BN at 128x128, and
    /// PyTorch float32 itself is ~1% from float64 on them.
    static let forwardTolerance: Float = 1e-4
    static let lossTolerance: Float = 1e-4
    static let gradientTolerance: Float = 1e-3
    static let conditioningFactor: Float = 3

    private static func url(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "models/\(name)", withExtension: nil, subdirectory: "Fixtures"))
    }

    private lazy var config: ModelConfig = {
        var c = ModelConfig()
        (c.embeddingDimension, c.noiseDimension, c.conditionDimension) = (16, 8, 8)
        (c.generatorWidth, c.discriminatorWidth, c.residualBlocks) = (16, 4, 1)
        return c
    }()

    private var expected: [String: SafeTensors.Entry] = [:]
    private var inputs: [String: SafeTensors.Entry] = [:]

    override func setUpWithError() throws {
        expected = try SafeTensors.read(Self.url("expected.safetensors")).tensors
        inputs = try SafeTensors.read(Self.url("inputs.safetensors")).tensors
    }

    private func tensor(_ entry: SafeTensors.Entry?, _ name: String) throws -> Tensor {
        let e = try XCTUnwrap(entry, "fixture has no \(name)")
        return try Tensor(shape: e.shape, scalars: e.values)
    }

    /// Input `name`, its first `batch` examples.
    private func input(_ name: String, batch: Int) throws -> Tensor {
        try tensor(inputs[name], name).slicedBatch(0..<batch)
    }

    /// The fixture script's images: 0.9 sin(0.61 i) over the flat NCHW index.
    private func patternImages(_ n: Int, size: Int) throws -> Tensor {
        let count = n * 3 * size * size
        return try Tensor(shape: [n, 3, size, size], scalars: (0..<count).map { Float(0.9 * sin(0.61 * Double($0))) })
    }

    private func load<L: Layer>(_ layer: L, _ file: String) throws -> L {
        let metadata = try SafeTensors.load(Self.url("\(file).safetensors"), into: layer.namedTensors)
        XCTAssertEqual(metadata["source"], "StackGAN-Pytorch", "weights should come through scripts/import_torch_checkpoint.py")
        return layer
    }

    @discardableResult
    private func assertClose(_ actual: Tensor?, _ name: String, tolerance: Float, line: UInt = #line) throws -> Float {
        let a = try XCTUnwrap(actual, "\(name): no Swift value", line: line)
        let e = try XCTUnwrap(expected[name], "fixture has no \(name)", line: line)
        XCTAssertEqual(a.count, e.values.count, "\(name): shape \(a.shape) vs \(e.shape)", line: line)
        var worst: Float = 0, scale: Float = 0
        for (x, y) in zip(a.scalars, e.values) { worst = max(worst, abs(x - y)); scale = max(scale, abs(y)) }
        let relative = worst / max(scale, 1e-12)
        let torchError = expected["f32_error.\(name)"]?.values.first ?? 0
        let bound = max(tolerance, Self.conditioningFactor * torchError)
        XCTAssertLessThan(relative, bound, "\(name): relative error \(relative), PyTorch float32's \(torchError)", line: line)
        print(String(format: "parity %@: swift %.2e, torch-f32 %.2e, bound %.1e", name, relative, torchError, bound))
        return relative
    }

    private func byName(_ layer: Layer) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: layer.namedTensors.map { ($0.name, $0.tensor) })
    }

    // MARK: - Forward, eval mode

    func testStageOneForwardMatchesPyTorch() throws {
        var rng = RandomGenerator(seed: 1)
        let g = try load(Stage1Generator(config: config, using: &rng), "stage1_g")
        let d = try load(StackGANDiscriminator(stage: .one, head: .single, config: config, using: &rng), "stage1_d")
        let out = try g(embedding: input("embeddings", batch: 2), noise: input("noise", batch: 2),
                        conditioningNoise: input("stage1_eps", batch: 2), training: false)
        XCTAssertEqual(out.image.shape, [2, 3, 64, 64])
        try assertClose(out.image, "eval.stage1_g.image", tolerance: Self.forwardTolerance)
        try assertClose(out.mu, "eval.stage1_g.mu", tolerance: Self.forwardTolerance)
        try assertClose(out.logVariance, "eval.stage1_g.logvar", tolerance: Self.forwardTolerance)
        let logits = try d(image: patternImages(2, size: 64), condition: out.condition, training: false)
        XCTAssertEqual(logits.match.shape, [2])
        XCTAssertNil(logits.real, "Stage-I defaults to the single head")
        try assertClose(logits.match, "eval.stage1_d.match", tolerance: Self.forwardTolerance)
    }

    func testStageTwoForwardMatchesPyTorch() throws {
        var rng = RandomGenerator(seed: 2)
        let g = try load(Stage2Generator(config: config, stageOne: Stage1Generator(config: config, using: &rng), using: &rng), "stage2_g")
        let d = try load(StackGANDiscriminator(stage: .two, head: .split, config: config, using: &rng), "stage2_d")
        let out = try g(embedding: input("embeddings", batch: 2), noise: input("noise", batch: 2),
                        conditioningNoise: input("eps", batch: 2), stageOneConditioningNoise: input("stage1_eps", batch: 2),
                        training: false)
        XCTAssertEqual(out.image.shape, [2, 3, 256, 256])
        try assertClose(out.stageOneImage, "eval.stage2_g.stage1_image", tolerance: Self.forwardTolerance)
        try assertClose(out.image, "eval.stage2_g.image", tolerance: Self.forwardTolerance)
        try assertClose(out.mu, "eval.stage2_g.mu", tolerance: Self.forwardTolerance)
        try assertClose(out.logVariance, "eval.stage2_g.logvar", tolerance: Self.forwardTolerance)
        let logits = try d(image: patternImages(2, size: 256), condition: out.condition, training: false)
        try assertClose(logits.match, "eval.stage2_d.match", tolerance: Self.forwardTolerance)
        try assertClose(logits.real, "eval.stage2_d.real", tolerance: Self.forwardTolerance)
    }

    func testGANCLSForwardMatchesPyTorch() throws {
        var rng = RandomGenerator(seed: 3)
        let g = try load(GANCLSGenerator(config: config, using: &rng), "gan_cls_g")
        let d = try load(GANCLSDiscriminator(config: config, using: &rng), "gan_cls_d")
        let embeddings = try input("embeddings", batch: 2)
        let out = try g(embedding: embeddings, noise: input("noise", batch: 2), training: false, using: &rng)
        XCTAssertNil(out.mu)
        try assertClose(out.image, "eval.gan_cls_g.image", tolerance: Self.forwardTolerance)
        let logits = try d(image: patternImages(2, size: 64), condition: out.condition, training: false)
        try assertClose(logits.match, "eval.gan_cls_d.match", tolerance: Self.forwardTolerance)
    }

    /// Published weights usable: StackGAN-Pytorch's netG/netD converted with
    /// `import_torch_checkpoint.py --config` load as a checkpoint; `generate`'s path (Sampler)
    /// makes PyTorch's images for the same z and CA eps, and a Stage-II config takes the file as
    /// its `train.stage1_checkpoint`.
    func testConvertedCheckpointGeneratesPyTorchsImages() throws {
        let path = try Self.url("stage1_checkpoint.safetensors").path
        let sampler = try Sampler(checkpoint: path)
        XCTAssertEqual(sampler.architecture.family, .stackgan)
        XCTAssertEqual(sampler.architecture.stage, .one)
        let images = try sampler.images(embeddings: input("embeddings", batch: 2).scalars, noise: input("noise", batch: 2).scalars,
                                        conditioningNoise: input("stage1_eps", batch: 2).scalars)
        try assertClose(Tensor(shape: [2, 3, 64, 64], scalars: images), "eval.stage1_g.image", tolerance: Self.forwardTolerance)
        let models = try Checkpoint.load(path)
        let d = try models.requireDiscriminator()
        let g = try XCTUnwrap(models.generator as? Stage1Generator)
        let out = try g(embedding: input("embeddings", batch: 2), noise: input("noise", batch: 2),
                        conditioningNoise: input("stage1_eps", batch: 2), training: false)
        let logits = try d(image: patternImages(2, size: 64), condition: out.condition, training: false)
        try assertClose(logits.match, "eval.stage1_d.match", tolerance: Self.forwardTolerance)

        var stageTwo = models.config
        stageTwo.stage = 2
        stageTwo.train.stage1Checkpoint = path
        var rng = RandomGenerator(seed: 7)
        let built = try Architecture(stageTwo).makeTrainingModels(stageOneCheckpoint: path, using: &rng)
        let g2 = try XCTUnwrap(built.generator as? Stage2Generator)
        XCTAssertEqual(g2.stageOne.namedTensors.map(\.tensor.scalars), g.namedTensors.map(\.tensor.scalars))
    }

    // MARK: - One training step, train mode

    /// StackGAN-Pytorch's step on the pairs training scores: G forward; D on real, wrong (real
    /// features rolled by one, `scorePairs` as GANStep calls it) and detached fake pairs, backward;
    /// then the G loss through the same D, backward. No optimizer step in between.
    private func trainStep(prefix: String, generator: TextToImageGenerator, makeOutput: () throws -> GeneratorOutput,
                           discriminator d: StackGANDiscriminator, real: Tensor,
                           generatorGrads: [String], discriminatorGrads: [String], buffers: [String]) throws {
        let out = try makeOutput()
        let condition = out.condition, loss = GANLoss(head: d.head)
        let dTerms = try loss.discriminator(d.scorePairs(realImages: real, wrongImages: nil, fakeImages: out.image.detached(),
                                                         condition: condition, training: true))
        try dTerms.total.backward()
        try assertClose(dTerms.total, "\(prefix).d_loss", tolerance: Self.lossTolerance)
        let dTensors = byName(d)
        for name in discriminatorGrads {
            try assertClose(dTensors[name]?.grad, "\(prefix).d_grad.\(name)", tolerance: Self.gradientTolerance)
        }

        d.zeroGrad()
        let fakeLogits = try d.logits(features: d.features(image: out.image, training: true), condition: condition, training: true)
        let gTerms = try loss.generator(fake: fakeLogits, mu: out.mu, logVariance: out.logVariance)
        try gTerms.total.backward()
        try assertClose(gTerms.total, "\(prefix).g_loss", tolerance: Self.lossTolerance)
        XCTAssertEqual(try XCTUnwrap(gTerms["kl"]), try XCTUnwrap(expected["\(prefix).kl"]?.values.first), accuracy: 1e-5)
        let gTensors = byName(generator)
        for name in generatorGrads {
            try assertClose(gTensors[name]?.grad, "\(prefix).g_grad.\(name)", tolerance: Self.gradientTolerance)
        }
        let all = dTensors.merging(gTensors.map { ("G." + $0.key, $0.value) }) { a, _ in a }
        for name in buffers { try assertClose(all[name], "\(prefix).after.\(name)", tolerance: Self.forwardTolerance) }
    }

    func testStageOneTrainingStepMatchesPyTorch() throws {
        var rng = RandomGenerator(seed: 4)
        let g = try load(Stage1Generator(config: config, using: &rng), "stage1_g")
        let d = try load(StackGANDiscriminator(stage: .one, head: .single, config: config, using: &rng), "stage1_d")
        try trainStep(
            prefix: "train.stage1", generator: g,
            makeOutput: { try g(embedding: input("embeddings", batch: 4), noise: input("noise", batch: 4),
                                conditioningNoise: input("stage1_eps", batch: 4), training: true) },
            discriminator: d, real: patternImages(4, size: 64),
            generatorGrads: ["ca_net.fc.weight", "ca_net.fc.bias", "fc.0.weight", "fc.1.weight", "upsample1.1.weight", "img.0.weight"],
            discriminatorGrads: ["encode_img.0.weight", "encode_img.8.weight", "get_cond_logits.outlogits.0.weight",
                                 "get_cond_logits.outlogits.3.weight", "get_cond_logits.outlogits.3.bias"],
            buffers: ["encode_img.3.running_mean", "get_cond_logits.outlogits.1.running_var", "G.fc.1.running_mean"])
    }

    func testStageTwoTrainingStepMatchesPyTorch() throws {
        var rng = RandomGenerator(seed: 5)
        let g = try load(Stage2Generator(config: config, stageOne: Stage1Generator(config: config, using: &rng), using: &rng), "stage2_g")
        let d = try load(StackGANDiscriminator(stage: .two, head: .split, config: config, using: &rng), "stage2_d")
        let frozenBefore = g.stageOne.namedTensors.map(\.tensor.scalars)
        try trainStep(
            prefix: "train.stage2", generator: g,
            makeOutput: { try g(embedding: input("embeddings", batch: 4), noise: input("noise", batch: 4),
                                conditioningNoise: input("eps", batch: 4), stageOneConditioningNoise: input("stage1_eps", batch: 4),
                                training: true) },
            discriminator: d, real: patternImages(4, size: 256),
            generatorGrads: ["ca_net.fc.weight", "encoder.0.weight", "hr_joint.0.weight", "residual.0.block.3.weight",
                             "upsample1.1.weight", "img.0.weight"],
            discriminatorGrads: ["encode_img.0.weight", "encode_img.20.weight", "get_cond_logits.outlogits.3.weight",
                                 "get_uncond_logits.outlogits.0.weight", "get_uncond_logits.outlogits.0.bias"],
            buffers: ["encode_img.21.running_var", "G.STAGE1_G.fc.1.running_mean"])
        // Frozen Stage-I: no gradients, running statistics untouched (eval mode).
        XCTAssertTrue(g.stageOne.namedTensors.allSatisfy { $0.tensor.grad == nil })
        XCTAssertEqual(g.stageOne.namedTensors.map(\.tensor.scalars), frozenBefore)
    }

    // MARK: - Whole training iterations, through GANStep

    /// Two `GANStep` iterations (D step with Adam, then G step with Adam through the updated D) on
    /// the fixture's batch, against the same two iterations in PyTorch (`iteration.stage1.*`):
    /// the pass, the pairing, the order of the updates and Adam as training runs them.
    func testStageOneIterationsThroughGANStepMatchPyTorch() throws {
        var rng = RandomGenerator(seed: 6)
        let g = try load(Stage1Generator(config: config, using: &rng), "stage1_g")
        let d = try load(StackGANDiscriminator(stage: .one, head: .single, config: config, using: &rng), "stage1_d")
        var experiment = ExperimentConfig()
        experiment.model = config
        let architecture = try Architecture(experiment)
        XCTAssertEqual(architecture.head, .single)
        let fixed = FixedNoiseGenerator(g, noise: try input("noise", batch: 4), eps: try input("stage1_eps", batch: 4))
        let step = GANStep(generator: fixed, discriminator: d, architecture: architecture, config: experiment)
        let (real, embeddings) = (try patternImages(4, size: 64), try input("embeddings", batch: 4))
        for k in 0..<2 {
            let values = try step(real: real, wrong: nil, embeddings: embeddings, using: &rng)
            for name in ["d_loss", "g_loss"] {
                let value = try Tensor(shape: [1], scalars: [try XCTUnwrap(values[name])])
                try assertClose(value, "iteration.stage1.\(k).\(name)", tolerance: Self.lossTolerance)
            }
        }
    }
}

/// A Stage-I generator that takes the fixture's z and CA eps whatever its caller draws, so a
/// `GANStep` runs on PyTorch's noise.
private final class FixedNoiseGenerator: TextToImageGenerator {
    let inner: Stage1Generator, noise: Tensor, eps: Tensor

    init(_ inner: Stage1Generator, noise: Tensor, eps: Tensor) { (self.inner, self.noise, self.eps) = (inner, noise, eps) }

    func callAsFunction(embedding: Tensor, noise _: Tensor, training: Bool,
                        using _: inout RandomGenerator) throws -> GeneratorOutput {
        try inner(embedding: embedding, noise: noise, conditioningNoise: eps, training: training)
    }

    var namedTensors: [NamedTensor] { inner.namedTensors }
}
