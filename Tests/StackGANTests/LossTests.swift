import Autograd
import Foundation
@testable import StackGAN
import XCTest

/// Heads and loss presets on logits whose losses are known in closed form:
/// BCE(x, 1) = log(1 + e^-x), BCE(x, 0) = log(1 + e^x); so BCE(0, *) = ln 2, BCE(ln 3, 1) =
/// BCE(-ln 3, 0) = log(4/3), BCE(ln 3, 0) = log 4, BCE(-5, 1) = log(1 + e^5).
final class LossTests: XCTestCase {
    let ln2 = Float(log(2.0)), ln43 = Float(log(4.0 / 3)), ln4 = Float(log(4.0)), ln1e5 = Float(log(1 + exp(5.0)))

    private func t(_ values: [Float]) throws -> Tensor { try Tensor(shape: [values.count], scalars: values) }

    /// real pairs: match ln3, realness 0; wrong: match 0, realness -5; fake: match -ln3, realness ln3.
    private func splitLogits() throws -> (DiscriminatorLogits, DiscriminatorLogits, DiscriminatorLogits) {
        let l3 = Float(log(3.0))
        return (DiscriminatorLogits(match: try t([l3, l3]), real: try t([0, 0])),
                DiscriminatorLogits(match: try t([0]), real: try t([-5])),
                DiscriminatorLogits(match: try t([-l3, -l3]), real: try t([l3, l3])))
    }

    func testSingleHeadBCE() throws {
        let (real, wrong, fake) = try splitLogits()
        let single = { (l: DiscriminatorLogits) in DiscriminatorLogits(match: l.match, real: nil) }
        let terms = try GANLoss(head: .single).discriminator(real: single(real), wrong: single(wrong), fake: single(fake))
        XCTAssertEqual(terms.total.item, ln43 + 0.5 * ln2 + 0.5 * ln43, accuracy: 1e-6)
        XCTAssertEqual(terms.components.map(\.name), ["real_match", "wrong_match", "fake_match"])
        XCTAssertEqual(try XCTUnwrap(terms["wrong_match"]), ln2, accuracy: 1e-6)

        var config = LossConfig()
        (config.wrongWeight, config.fakeWeight) = (0.25, 1)
        let reweighted = try GANLoss(config: config, head: .single).discriminator(real: single(real), wrong: single(wrong), fake: single(fake))
        XCTAssertEqual(reweighted.total.item, ln43 + 0.25 * ln2 + ln43, accuracy: 1e-6)
    }

    func testSingleHeadGradientIsSigmoidMinusTarget() throws {
        let real = try Tensor(shape: [2], scalars: [0, 0], requiresGrad: true)
        let fake = try Tensor(shape: [2], scalars: [0, 0], requiresGrad: true)
        let terms = try GANLoss(head: .single).discriminator(real: DiscriminatorLogits(match: real, real: nil),
                                                wrong: DiscriminatorLogits(match: try t([0]), real: nil),
                                                fake: DiscriminatorLogits(match: fake, real: nil))
        XCTAssertEqual(terms.total.item, 2 * ln2, accuracy: 1e-6)
        try terms.total.backward()
        // d/dx mean BCE = (sigmoid(0) - target) / N, times the term's weight.
        XCTAssertEqual(try XCTUnwrap(real.grad).scalars, [-0.25, -0.25])
        XCTAssertEqual(try XCTUnwrap(fake.grad).scalars, [0.125, 0.125])
    }

    func testStackGANPytorchSplitPresetIgnoresWrongRealness() throws {
        let (real, wrong, fake) = try splitLogits()
        let terms = try GANLoss(head: .split).discriminator(real: real, wrong: wrong, fake: fake)
        XCTAssertEqual(terms.total.item, (ln43 + ln2) / 2 + (ln43 + ln2 + ln4) / 3, accuracy: 1e-6)
        XCTAssertNil(terms["wrong_realness"])
    }

    func testStackGANv2SplitPresetCountsWrongImagesAsReal() throws {
        let (real, wrong, fake) = try splitLogits()
        var config = LossConfig()
        config.splitPreset = .stackganV2
        let terms = try GANLoss(config: config, head: .split).discriminator(real: real, wrong: wrong, fake: fake)
        XCTAssertEqual(terms.total.item, ln43 + ln2 + ln2 + ln1e5 + ln43 + ln4, accuracy: 1e-5)
        XCTAssertEqual(try XCTUnwrap(terms["wrong_realness"]), ln1e5, accuracy: 1e-5)
    }

    func testExplicitWeightsReplaceThePreset() throws {
        let (real, wrong, fake) = try splitLogits()
        var config = LossConfig()
        config.weights = DiscriminatorLossWeights(realMatch: 2, wrongMatch: 0, fakeMatch: 0, realRealness: 0, wrongRealness: 0, fakeRealness: 3)
        let terms = try GANLoss(config: config, head: .split).discriminator(real: real, wrong: wrong, fake: fake)
        XCTAssertEqual(terms.total.item, 2 * ln43 + 3 * ln4, accuracy: 1e-5)
        XCTAssertEqual(terms.components.map(\.name), ["real_match", "fake_realness"])
        // A weighted realness term without realness logits is an error, not a silent zero.
        let single = DiscriminatorLogits(match: real.match, real: nil)
        XCTAssertThrowsError(try GANLoss(config: config, head: .single).discriminator(real: single, wrong: single, fake: single))
    }

    func testHingeDiscriminatorAndGenerator() throws {
        var config = LossConfig()
        config.loss = .hinge
        let loss = GANLoss(config: config, head: .single)
        // relu(1 - [0.5, 2]) = [0.5, 0] -> 0.25; relu(1 + -0.5) = 0.5; relu(1 + 0.2) = 1.2.
        let d = try loss.discriminator(real: DiscriminatorLogits(match: try t([0.5, 2]), real: nil),
                                       wrong: DiscriminatorLogits(match: try t([-0.5]), real: nil),
                                       fake: DiscriminatorLogits(match: try t([0.2]), real: nil))
        XCTAssertEqual(d.total.item, 0.25 + 0.5 * (0.5 + 1.2), accuracy: 1e-6)
        let g = try GANLoss(config: config, head: .split).generator(fake: DiscriminatorLogits(match: try t([1, 3]), real: try t([-1, -1])), mu: nil, logVariance: nil)
        XCTAssertEqual(g.total.item, -2 + 1, accuracy: 1e-6)
    }

    func testGeneratorUsesBothHeadsAndKL() throws {
        // KL with mu = 1, logvar = 0: -0.5 (1 + 0 - 1 - 1) = 0.5, times the coefficient 2.
        let mu = try Tensor(shape: [1, 1], scalars: [1]), logVariance = try Tensor(shape: [1, 1], scalars: [0])
        let split = try GANLoss(head: .split).generator(fake: DiscriminatorLogits(match: try t([0]), real: try t([0])), mu: mu, logVariance: logVariance)
        XCTAssertEqual(split.total.item, 2 * ln2 + 1, accuracy: 1e-6)
        XCTAssertEqual(split.components.map(\.name), ["match", "realness", "kl"])
        XCTAssertEqual(try XCTUnwrap(split["kl"]), 0.5, accuracy: 1e-6)
        let single = try GANLoss(head: .single).generator(fake: DiscriminatorLogits(match: try t([Float(log(3.0))]), real: nil), mu: nil, logVariance: nil)
        XCTAssertEqual(single.total.item, ln43, accuracy: 1e-6)
    }

    func testInterpolation() throws {
        let e = try Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
        let mixed = try GANLoss.interpolatedEmbeddings(e, beta: 0.25)
        // row i = 0.25 row i + 0.75 row (i + 1) mod 3.
        XCTAssertEqual(mixed.scalars, [2.5, 3.5, 4.5, 5.5, 2, 3])
        var config = LossConfig()
        config.interpolationWeight = 0.5
        let term = try GANLoss(config: config, head: .single).interpolatedGenerator(fake: DiscriminatorLogits(match: try t([0, 0]), real: nil))
        XCTAssertEqual(term.total.item, 0.5 * ln2, accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(term["interpolated"]), ln2, accuracy: 1e-6)
    }
}

final class ConfigTests: XCTestCase {
    /// ModelConfig and LossConfig decode only through ConfigLoader (defaults filled, unknown keys
    /// rejected); Architecture checks the values.
    func testModelConfigDefaultsAndKeys() throws {
        func decode(_ text: String) throws -> ModelConfig {
            try ConfigLoader.load(ModelConfig.self, defaults: ModelConfig(), text: text, source: "test")
        }
        let defaults = try decode("{}")
        XCTAssertEqual(defaults, ModelConfig())
        XCTAssertEqual([defaults.embeddingDimension, defaults.noiseDimension, defaults.conditionDimension,
                        defaults.generatorWidth, defaults.discriminatorWidth, defaults.residualBlocks], [1024, 100, 128, 128, 64, 4])
        XCTAssertEqual(defaults.caActivation, .relu)
        XCTAssertEqual([defaults.stage1Head, defaults.stage2Head], [.single, .split])

        let c = try decode(#"{"embedding_dim": 384, "ca_activation": "leaky_relu", "stage1_head": "split", "gf_dim": 32}"#)
        XCTAssertEqual(c.embeddingDimension, 384)
        XCTAssertEqual(c.generatorWidth, 32)
        XCTAssertEqual(c.caActivation, .leakyRelu)
        XCTAssertEqual(c.stage1Head, .split)
        XCTAssertEqual(try decode(ConfigLoader.yaml(c)), c)

        XCTAssertThrowsError(try decode(#"{"gf_dims": 64}"#)) { error in
            XCTAssertTrue("\(error)".contains("gf_dims"), "\(error)")
        }
        XCTAssertThrowsError(try Architecture(ExperimentConfig.load(file: nil, overrides: ["model.gf_dim=30"]))) { error in
            XCTAssertEqual((error as? StackGANError)?.kind, .usage)
            XCTAssertTrue("\(error)".contains("model.gf_dim"), "\(error)")
        }
    }

    func testLossConfigDecoding() throws {
        let json = #"{"loss": "hinge", "split_preset": "stackgan_v2", "kl_coefficient": 1, "interpolation_weight": 0.5,"#
            + #" "weights": {"real_match": 1, "wrong_match": 0.5, "fake_match": 0.5, "real_realness": 0, "wrong_realness": 0, "fake_realness": 0}}"#
        let c = try ConfigLoader.load(LossConfig.self, defaults: LossConfig(), text: json, source: "test")
        XCTAssertEqual(c.loss, .hinge)
        XCTAssertEqual(c.splitPreset, .stackganV2)
        XCTAssertEqual(c.klCoefficient, 1)
        XCTAssertEqual(c.interpolationBeta, 0.5)
        XCTAssertEqual(c.discriminatorWeights(for: .split), .single())
        XCTAssertEqual(LossConfig().discriminatorWeights(for: .split), .stackganPytorch)
        XCTAssertEqual(LossConfig().discriminatorWeights(for: .single), .single(wrong: 0.5, fake: 0.5))
        XCTAssertNil(try ConfigLoader.load(LossConfig.self, defaults: LossConfig(), text: "kl_coefficient: 3", source: "test").weights)
        // `loss.weights` is a known key of a whole config too (the defaults carry it as null).
        let experiment = try ExperimentConfig.load(file: nil, overrides: ["loss.weights={real_match: 1, wrong_match: 1, fake_match: 1, real_realness: 0, wrong_realness: 0, fake_realness: 0}"])
        XCTAssertEqual(experiment.loss.weights, .single(wrong: 1, fake: 1))
    }

    /// Every key of LossConfig (its `weights` null when absent) must survive a round trip through
    /// the YAML a checkpoint stores, or old and new checkpoints stop loading.
    func testLossConfigRoundTripsEveryKey() throws {
        var c = LossConfig()
        c.loss = .hinge; c.wrongWeight = 0.25; c.fakeWeight = 0.75; c.splitPreset = .stackganV2
        c.weights = .single(wrong: 0.3, fake: 0.6); c.klCoefficient = 3; c.interpolationWeight = 0.4
        c.interpolationBeta = 0.6; c.contrastiveWeight = 2; c.contrastiveTemperature = 0.2; c.modeSeekingWeight = 5
        c.stageOneConsistencyWeight = 7
        let text = try ConfigLoader.yaml(c)
        XCTAssertEqual(try ConfigLoader.load(LossConfig.self, defaults: LossConfig(), text: text, source: "test"), c, text)
    }

    /// Cross-field checks live in `ExperimentConfig.check`, which Architecture runs: a head the family
    /// cannot carry, realness weights for a head without a realness logit, a load size below the
    /// image size, bad counts.
    func testArchitectureRejectsConfigsThatDoNotFit() throws {
        func rejects(_ overrides: [String], naming key: String, line: UInt = #line) {
            XCTAssertThrowsError(try Architecture(ExperimentConfig.load(file: nil, overrides: overrides)), line: line) { error in
                XCTAssertEqual((error as? StackGANError)?.kind, .usage, line: line)
                XCTAssertTrue("\(error)".contains(key), "\(error)", line: line)
            }
        }
        rejects(["family=gan_cls", "model.stage1_head=split"], naming: "model.stage1_head")
        rejects(["loss.weights={real_match: 1, wrong_match: 1, fake_match: 1, real_realness: 1, wrong_realness: 0, fake_realness: 0}"],
                naming: "loss.weights")
        rejects(["loss.weights={real_match: 0, wrong_match: 0, fake_match: 0, real_realness: 0, wrong_realness: 0, fake_realness: 0}"],
                naming: "loss.weights")
        rejects(["data.load_size=40"], naming: "data.load_size")
        rejects(["train.log_every=0"], naming: "train.log_every")
        rejects(["train.checkpoint_every=-1"], naming: "train.checkpoint_every")
        rejects(["data.prefetch=0"], naming: "data.prefetch")
        rejects(["stage=3"], naming: "stage")

        let split = try Architecture(ExperimentConfig.load(file: nil, overrides: ["model.stage1_head=split"]))
        XCTAssertEqual(split.head, .split)
        var rng = RandomGenerator(seed: 0)
        XCTAssertEqual(split.makeDiscriminator(using: &rng).head, .split)
        XCTAssertEqual(split.makeLoss(LossConfig()).weights, .stackganPytorch)
        let stageTwo = try Architecture(ExperimentConfig.load(file: nil, overrides: ["stage=2", "train.stage1_checkpoint=x"]))
        XCTAssertEqual(stageTwo.head, .split, "stage2_head")
        XCTAssertEqual(stageTwo.imageSize, 256)
    }

    /// Values that were accepted and ignored, or that asked for gigabytes (issue 13), are errors
    /// naming the key and its allowed range.
    func testOutOfRangeValuesNameTheKeyAndTheRange() throws {
        let cases: [(String, String)] = [
            ("model.z_dim=0", "`model.z_dim` must be in 1...4096, got 0"),
            ("model.gf_dim=1000000", "`model.gf_dim` must be a multiple of 4 in 4...512"),
            ("data.load_size=100000", "`data.load_size` must be 0 (automatic) or in 64...256"),
            ("train.beta1=1.5", "`train.beta1` must be in [0.0, 1.0)"),
            ("train.beta1=-0.1", "`train.beta1`"),
            ("train.beta2=1", "`train.beta2`"),
            ("train.samples_per_caption=-1", "`train.samples_per_caption` must be in 1...64, got -1"),
            ("train.samples_per_caption=0", "`train.samples_per_caption`"),
            ("train.sample_count=100000", "`train.sample_count` must be in 1...64"),
            ("train.max_epochs=9223372036854775807", "`train.max_epochs` must be in 0...1000000"),
            ("train.sample_every=-5", "`train.sample_every`"),
            ("data.workers=-1", "`data.workers` must be in 0...64"),
            ("data.prefetch=-1", "`data.prefetch`"),
            ("loss.kl_coefficient=-1", "`loss.kl_coefficient`"),
            ("loss.interpolation_beta=2", "`loss.interpolation_beta` must be in [0.0, 1.0]"),
            ("train.generator_lr=.inf", "`train.generator_lr`"),
            ("name=../../elsewhere", "`name`"),
        ]
        for (setting, expected) in cases {
            XCTAssertThrowsError(try Architecture(ExperimentConfig.load(file: nil, overrides: [setting])), setting) { error in
                XCTAssertEqual((error as? StackGANError)?.kind, .usage, setting)
                XCTAssertTrue("\(error)".contains(expected), "\(setting): \(error)")
            }
        }
    }

    /// YAML nested thousands of levels deep overflowed the stack inside the parser; aliases of
    /// aliases expand without end; a huge value is not printed whole.
    func testHostileYAMLIsRefusedBeforeParsing() throws {
        let deep = "model: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        let block = (0..<200).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n")
        let dashes = "name: x\ntrain:\n  augment:\n" + String(repeating: "- ", count: 5000) + "x\n"
        let quoted = "name: \"a\\\" [\"\nmodel: " + String(repeating: "{a: ", count: 3000)
        for text in [deep, block, dashes, quoted] {
            XCTAssertThrowsError(try ConfigLoader.load(ExperimentConfig.self, defaults: ExperimentConfig(), text: text, source: "deep.yml")) { error in
                XCTAssertTrue("\(error)".contains("deep.yml: is nested more than 64 levels"), "\(error)")
            }
        }
        XCTAssertThrowsError(try ExperimentConfig.load(file: nil, overrides: ["name=" + String(repeating: "[", count: 5000)])) { error in
            XCTAssertTrue("\(error)".contains("--set: is nested"), "\(error)")
        }
        var laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<9 { laughs += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        XCTAssertThrowsError(try ConfigLoader.load(ExperimentConfig.self, defaults: ExperimentConfig(), text: laughs, source: "laughs.yml")) { error in
            XCTAssertTrue("\(error)".contains("more than 100000 YAML nodes"), "\(error)")
        }
        let huge = String(repeating: "x", count: 1_000_000)
        XCTAssertThrowsError(try ExperimentConfig.load(file: nil, overrides: ["model.z_dim=" + huge])) { error in
            XCTAssertLessThan("\(error)".count, 400, "the value is abbreviated")
            XCTAssertTrue("\(error)".contains("model.z_dim"), "\(String("\(error)".prefix(300)))")
        }
        // Ordinary configs, with quotes and comments, still read.
        let fine = "name: \"it's [fine]\" # a comment with [[[\ntrain:\n  augment: [translation, cutout]\n"
        let config = try ConfigLoader.load(ExperimentConfig.self, defaults: ExperimentConfig(), text: fine, source: "fine.yml")
        XCTAssertEqual(config.name, "it's [fine]")
        XCTAssertEqual(config.train.augment.count, 2)
    }
}
