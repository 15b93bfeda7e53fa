import Autograd
import Foundation
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
        var c = config
        c.stage1Head = .split
        let d = StackGANDiscriminator(stage: .one, config: c, using: &rng)
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
}
