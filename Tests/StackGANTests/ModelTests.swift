import Autograd
import Foundation
import Kernels
import NN
@testable import StackGAN
import XCTest

/// Structure checks that need no fixture: names, parameter lists, shapes, seeded sampling.
final class ModelTests: XCTestCase {
    private var config: ModelConfig {
        var c = ModelConfig()
        (c.embeddingDimension, c.noiseDimension, c.conditionDimension) = (6, 4, 3)
        (c.generatorWidth, c.discriminatorWidth, c.residualBlocks) = (4, 2, 2)
        return c
    }

    func testStageTwoListsFrozenStageOneAsBuffers() throws {
        var rng = RandomGenerator(seed: 0)
        let g = Stage2Generator(config: config, stageOne: Stage1Generator(config: config, using: &rng), using: &rng)
        let names = g.namedTensors.map(\.name)
        XCTAssertEqual(Set(names).count, names.count, "names are unique")
        XCTAssertTrue(names.contains("STAGE1_G.fc.1.running_var"))
        XCTAssertTrue(names.contains("residual.1.block.4.weight"))
        XCTAssertTrue(names.contains("hr_joint.0.weight"))
        XCTAssertFalse(g.parameters.contains { $0.name.hasPrefix("STAGE1_G.") }, "the optimizer never sees Stage-I")
        XCTAssertTrue(g.stageOne.parameters.allSatisfy { !$0.tensor.requiresGrad })
    }

    func testHeadsFollowTheConfig() throws {
        var rng = RandomGenerator(seed: 0)
        var experiment = ExperimentConfig()
        experiment.model = config
        experiment.model.stage1Head = .split
        let d = try XCTUnwrap(try Architecture(experiment).makeDiscriminator(using: &rng) as? StackGANDiscriminator)
        XCTAssertEqual(d.head, .split)
        XCTAssertTrue(d.namedTensors.map(\.name).contains("get_uncond_logits.outlogits.0.bias"))
        let image = Tensor.randomNormal([2, 3, 64, 64], using: &rng)
        let logits = try d(image: image, condition: Tensor.randomNormal([2, 3], using: &rng), training: true)
        XCTAssertEqual(logits.match.shape, [2])
        XCTAssertEqual(logits.real?.shape, [2])
        XCTAssertThrowsError(try d(image: Tensor.randomNormal([2, 3, 32, 32], using: &rng),
                                   condition: Tensor.randomNormal([2, 3], using: &rng), training: true), "a 32x32 image gives 2x2 features")
    }

    func testSeededSamplingReproduces() throws {
        var rng = RandomGenerator(seed: 7)
        let g = Stage1Generator(config: config, using: &rng)
        let embedding = Tensor.randomNormal([2, 6], using: &rng), noise = Tensor.randomNormal([2, 4], using: &rng)
        var a = RandomGenerator(seed: 11), b = RandomGenerator(seed: 11)
        let first = try g(embedding: embedding, noise: noise, training: false, using: &a)
        let second = try g(embedding: embedding, noise: noise, training: false, using: &b)
        XCTAssertEqual(first.image.scalars, second.image.scalars)
        let third = try g(embedding: embedding, noise: noise, training: false, using: &a)
        XCTAssertNotEqual(first.image.scalars, third.image.scalars, "the CA eps is drawn afresh")
        XCTAssertEqual(first.condition.scalars, try XCTUnwrap(first.mu).scalars)
        XCTAssertFalse(first.condition.requiresGrad)
    }

    func testGANCLSShapes() throws {
        var rng = RandomGenerator(seed: 3)
        let g = GANCLSGenerator(config: config, using: &rng), d = GANCLSDiscriminator(config: config, using: &rng)
        let embedding = Tensor.randomNormal([2, 6], using: &rng)
        let out = try g(embedding: embedding, noise: Tensor.randomNormal([2, 4], using: &rng), training: true, using: &rng)
        XCTAssertEqual(out.image.shape, [2, 3, 64, 64])
        XCTAssertEqual(out.condition.scalars, embedding.scalars)
        XCTAssertEqual(try d(image: out.image, condition: out.condition, training: true).match.shape, [2])
        XCTAssertEqual(g.namedTensors.last?.name, "netG.12.weight")
    }

    /// `embedding_scale` s: the model on caption e equals the unscaled model (same init) on s * e,
    /// in the CA of Stage-I and both GAN-CLS projections; the config key decodes and must be > 0.
    func testEmbeddingScaleMultipliesTheCaptionWhereItEnters() throws {
        var scaled = config
        scaled.embeddingScale = 2.5
        var rng = RandomGenerator(seed: 5)
        let embedding = Tensor.randomNormal([2, 6], using: &rng), noise = Tensor.randomNormal([2, 4], using: &rng)
        let eps = Tensor.randomNormal([2, 3], using: &rng)
        let times = embedding.scaled(by: 2.5)
        var a = RandomGenerator(seed: 9), b = RandomGenerator(seed: 9)
        let g = Stage1Generator(config: scaled, using: &a), plain = Stage1Generator(config: config, using: &b)
        let out = try g(embedding: embedding, noise: noise, conditioningNoise: eps, training: false)
        let reference = try plain(embedding: times, noise: noise, conditioningNoise: eps, training: false)
        XCTAssertEqual(out.image.scalars, reference.image.scalars)
        XCTAssertEqual(try XCTUnwrap(out.mu).scalars, try XCTUnwrap(reference.mu).scalars)
        let unscaled = try plain(embedding: embedding, noise: noise, conditioningNoise: eps, training: false)
        XCTAssertNotEqual(try XCTUnwrap(out.mu).scalars, try XCTUnwrap(unscaled.mu).scalars)

        var c = RandomGenerator(seed: 4), d = RandomGenerator(seed: 4)
        let clsG = GANCLSGenerator(config: scaled, using: &c), clsD = GANCLSDiscriminator(config: scaled, using: &c)
        let plainG = GANCLSGenerator(config: config, using: &d), plainD = GANCLSDiscriminator(config: config, using: &d)
        let image = try clsG(embedding: embedding, noise: noise, training: false, using: &c).image
        XCTAssertEqual(image.scalars, try plainG(embedding: times, noise: noise, training: false, using: &d).image.scalars)
        XCTAssertEqual(try clsD(image: image, condition: embedding, training: false).match.scalars,
                       try plainD(image: image, condition: times, training: false).match.scalars)

        let decoded = try ConfigLoader.load(ModelConfig.self, defaults: ModelConfig(), text: "embedding_scale: 19.6", source: "test")
        XCTAssertEqual(decoded.embeddingScale, 19.6)
        XCTAssertEqual(ModelConfig().embeddingScale, 1, "published behaviour by default")
        XCTAssertThrowsError(try Architecture(ExperimentConfig.load(file: nil, overrides: ["model.embedding_scale=0"])), "Architecture checks it")
    }

    /// `discriminator_condition: embedding` (TF original): both generators hand D the caption
    /// embedding (detached), D owns `get_cond_logits.projection.0` Linear(E, c) applied to the caption
    /// times `embedding_scale`; `ca_mu` stays the default, with no projection and mu as the condition.
    func testDiscriminatorConditionEmbedding() throws {
        var c = config
        c.discriminatorCondition = .embedding
        c.stage1Head = .split
        c.embeddingScale = 2.5
        var rng = RandomGenerator(seed: 6)
        let g1 = Stage1Generator(config: c, using: &rng)
        let g2 = Stage2Generator(config: c, stageOne: g1, using: &rng)
        let d1 = StackGANDiscriminator(stage: .one, head: .split, config: c, using: &rng)
        let d2 = StackGANDiscriminator(stage: .two, head: .split, config: c, using: &rng)
        let embedding = Tensor.randomNormal([2, 6], using: &rng), noise = Tensor.randomNormal([2, 4], using: &rng)
        let out1 = try g1(embedding: embedding, noise: noise, training: true, using: &rng)
        XCTAssertEqual(out1.condition.shape, [2, 6])
        XCTAssertEqual(out1.condition.scalars, embedding.scalars)
        XCTAssertFalse(out1.condition.requiresGrad)
        let logits1 = try d1(image: out1.image, condition: out1.condition, training: true)
        XCTAssertEqual(logits1.match.shape, [2])
        XCTAssertEqual(logits1.real?.shape, [2])
        let out2 = try g2(embedding: embedding, noise: noise, training: true, using: &rng)
        XCTAssertEqual(out2.condition.scalars, embedding.scalars)
        let logits2 = try d2(image: out2.image, condition: out2.condition, training: true)
        XCTAssertEqual(logits2.match.shape, [2])
        XCTAssertEqual(logits2.real?.shape, [2])

        for d in [d1, d2] {
            let names = d.namedTensors.map(\.name)
            XCTAssertEqual(Set(names).count, names.count, "names are unique")
            XCTAssertTrue(names.contains("get_cond_logits.projection.0.weight"))
            XCTAssertTrue(names.contains("get_cond_logits.projection.0.bias"))
            XCTAssertTrue(d.parameters.contains { $0.name == "get_cond_logits.projection.0.weight" }, "D's loss trains it")
            XCTAssertEqual(d.projection?.weight.shape, [3, 6])
        }

        // The projection sees the caption times embedding_scale: with scale 1 and the caption
        // pre-multiplied, D (same init) gives the same logits.
        var unit = c
        unit.embeddingScale = 1
        var a = RandomGenerator(seed: 8), b = RandomGenerator(seed: 8)
        let scaledD = StackGANDiscriminator(stage: .one, head: .single, config: c, using: &a)
        let plainD = StackGANDiscriminator(stage: .one, head: .single, config: unit, using: &b)
        let image = Tensor.randomNormal([2, 3, 64, 64], using: &rng)
        XCTAssertEqual(try scaledD(image: image, condition: embedding, training: false).match.scalars,
                       try plainD(image: image, condition: embedding.scaled(by: 2.5), training: false).match.scalars)

        // Default: ca_mu, no projection, mu [N, c] as the condition, and the same init as before.
        XCTAssertEqual(ModelConfig().discriminatorCondition, .caMu, "StackGAN-Pytorch by default")
        var e = RandomGenerator(seed: 2), f = RandomGenerator(seed: 2)
        let published = StackGANDiscriminator(stage: .one, head: .single, config: config, using: &e)
        XCTAssertNil(published.projection)
        XCTAssertFalse(published.namedTensors.contains { $0.name.hasPrefix("get_cond_logits.projection") })
        let withProjection = StackGANDiscriminator(stage: .one, head: .single, config: c, using: &f)
        let firstHeadWeight = { (d: StackGANDiscriminator) in d.namedTensors.first { $0.name == "get_cond_logits.outlogits.0.weight" }?.tensor.scalars }
        XCTAssertEqual(firstHeadWeight(published), firstHeadWeight(withProjection),
                       "the projection is drawn after the published layers")
        let muOut = try Stage1Generator(config: config, using: &e)(embedding: embedding, noise: noise, training: false, using: &e)
        XCTAssertEqual(muOut.condition.shape, [2, 3])
        XCTAssertEqual(muOut.condition.scalars, try XCTUnwrap(muOut.mu).scalars)

        let decoded = try ConfigLoader.load(ModelConfig.self, defaults: ModelConfig(),
                                            text: "discriminator_condition: embedding", source: "test")
        XCTAssertEqual(decoded.discriminatorCondition, .embedding)
        XCTAssertEqual(try ConfigLoader.load(ModelConfig.self, defaults: ModelConfig(), text: "discriminator_condition: ca_mu",
                                             source: "test").discriminatorCondition, .caMu)
        XCTAssertThrowsError(try ConfigLoader.load(ModelConfig.self, defaults: ModelConfig(),
                                                   text: "discriminator_condition: mu", source: "test"))
    }

    /// Convolutions and batch norms pass 16-channel-multiple activations to each other in oneDNN's
    /// nChw16c layout; the same primitives run either way, so two Stage-I training iterations must
    /// give bit-identical losses and weights with the hand-over on and off.
    func testBlockedActivationsChangeNoNumber() throws {
        let settings = ["stage=1", "model.embedding_dim=16", "model.z_dim=8", "model.condition_dim=8",
                        "model.gf_dim=16", "model.df_dim=16", "train.batch_size=4", "train.stage1_checkpoint=none"]
        let experiment = try ExperimentConfig.load(file: nil, overrides: settings)
        func train(blocked: Bool) throws -> (losses: [[String: Float]], weights: [[Float]]) {
            let saved = KernelSettings.blockedActivations
            defer { KernelSettings.blockedActivations = saved }
            KernelSettings.blockedActivations = blocked
            var rng = RandomGenerator(seed: 9)
            let g = Stage1Generator(config: experiment.model, using: &rng)
            let architecture = try Architecture(experiment)
            let d = architecture.makeDiscriminator(using: &rng)
            let step = GANStep(generator: g, discriminator: d, architecture: architecture, config: experiment)
            let real = Tensor.randomNormal([4, 3, 64, 64], standardDeviation: 0.5, using: &rng)
            let embeddings = Tensor.randomNormal([4, 16], using: &rng)
            let losses = try (0..<2).map { _ in try step(real: real, wrong: nil, embeddings: embeddings, using: &rng) }
            return (losses, (g.namedTensors + d.namedTensors).map(\.tensor.scalars))
        }
        let plain = try train(blocked: false), blocked = try train(blocked: true)
        XCTAssertEqual(blocked.losses, plain.losses)
        XCTAssertEqual(blocked.weights, plain.weights)
        XCTAssertTrue(plain.losses.allSatisfy { $0["d_loss"]?.isFinite == true })
    }
}
