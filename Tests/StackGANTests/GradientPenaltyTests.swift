import Autograd
import Foundation
import NN
@testable import StackGAN
import XCTest

/// R1 and DF-GAN's MA-GP (`loss.r1_weight`, `loss.ma_gp_weight`): their values and parameter
/// gradients on a tiny spectrally normalised Stage-I discriminator with each head, against
/// PyTorch (Fixtures/penalties, written by scripts/make_grad2_fixtures.py), and how the D step
/// applies them.
final class GradientPenaltyTests: XCTestCase {
    private static func url(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "penalties/\(name)", withExtension: "safetensors", subdirectory: "Fixtures"))
    }

    /// The fixture's discriminator: df_dim 1, condition 4, embedding 6 (scaled by 2), spectral norm.
    private func config(head: DiscriminatorHead) -> ExperimentConfig {
        var c = ExperimentConfig()
        (c.model.embeddingDimension, c.model.conditionDimension, c.model.discriminatorWidth) = (6, 4, 1)
        (c.model.embeddingScale, c.model.spectralNorm, c.model.discriminatorCondition) = (2, true, .embedding)
        c.model.stage1Head = head
        return c
    }

    /// Gradients of the penalty by PyTorch are within 1e-3 of the largest (float64 there, float32
    /// here through four spectrally normalised convs and a sixth power); the values within 1e-4.
    func testPenaltiesAndTheirGradientsMatchPyTorch() throws {
        let expected = try SafeTensors.read(Self.url("expected")).tensors
        func entry(_ name: String) throws -> SafeTensors.Entry { try XCTUnwrap(expected[name], "fixture has no \(name)") }
        let n = 2, count = n * 3 * 64 * 64
        let images = try Tensor(shape: [n, 3, 64, 64], scalars: (0..<count).map { Float(0.9 * sin(0.61 * Double($0))) })
        let e = try entry("embedding")
        for head in [DiscriminatorHead.projection, .single, .split] {
            for penalty in ["r1", "ma_gp"] {
                var c = config(head: head)
                if penalty == "r1" { c.loss.r1Weight = 1 } else { c.loss.maGPWeight = 1 }
                let architecture = try Architecture(c)
                var rng = RandomGenerator(seed: 0)
                let d = architecture.makeDiscriminator(using: &rng)
                let file = try SafeTensors.read(Self.url("weights")), wanted = Set(d.namedTensors.map(\.name))
                // The file holds every head's tensors: this head's are assigned, all of them checked.
                try SafeTensors.assign(file.tensors.filter { wanted.contains($0.key) }, into: d.namedTensors, path: Self.url("weights").path)
                XCTAssertEqual(file.metadata["script"], "scripts/make_grad2_fixtures.py")
                let x = images.detachedRequiringGradient()
                let embedding = try Tensor(shape: e.shape, scalars: e.values, requiresGrad: true)
                let real = try d(image: x.translated(dx: [3, -2], dy: [-1, 4]), condition: embedding, training: true)
                let name = "\(head.rawValue).\(penalty)"
                try assertClose(real.match, entry(name + ".match"), tolerance: 1e-4, name + " logits")
                let loss = architecture.makeLoss(c.loss)
                let terms = try loss.gradientPenalties(real: real, images: x, condition: embedding, due: loss.penalties(afterSteps: 0))
                XCTAssertEqual(terms.map(\.name), [penalty])
                let term = try XCTUnwrap(terms.first)
                XCTAssertEqual(term.weight, penalty == "r1" ? 0.5 : 1, "R1 is gamma / 2")
                try assertClose(term.term.reshaped([1]), entry(name), tolerance: 1e-4, name)
                try term.term.backward()
                var compared = 0
                for p in d.parameters {
                    guard let e = expected["\(name).grad.\(p.name)"] else { continue }
                    try assertClose(p.tensor.grad ?? Tensor(repeating: 0, shape: p.tensor.shape), e, tolerance: 1e-3, "\(name) d/d\(p.name)")
                    compared += 1
                }
                XCTAssertEqual(compared, d.parameters.count, "\(name): every parameter's gradient is in the fixture")
            }
        }
    }

    /// MA-GP takes the condition's gradient w.r.t. the vector the discriminator's layers read:
    /// with the embedding read at s times, |d/de|^2 / s^2.
    func testMatchingAwarePenaltyTakesTheConditionGradientAtTheScaleDReadsIt() throws {
        var c = config(head: .projection)
        c.loss.maGPWeight = 1
        let architecture = try Architecture(c)
        var rng = RandomGenerator(seed: 3)
        let d = architecture.makeDiscriminator(using: &rng)
        let x = Tensor.randomNormal([2, 3, 64, 64], using: &rng).detachedRequiringGradient()
        let e = Tensor.randomNormal([2, 6], using: &rng).detachedRequiringGradient()
        let real = try d(image: x, condition: e, training: false)
        let norms = try withoutGradients { try gradientSquaredNorms(of: real.match, withRespectTo: [x, e]) }
        let loss = architecture.makeLoss(c.loss)
        for scale: Float in [1, 2, 19.6] {
            let term = try XCTUnwrap(try loss.gradientPenalties(real: real, images: x, condition: e, conditionScale: scale,
                                                                due: (false, true)).first).term.item
            let expected = (0..<2).map { i -> Double in
                Foundation.pow(Double(norms[0].scalars[i]) + Double(norms[1].scalars[i]) / Double(scale * scale), 3) }.reduce(0, +) / 2
            XCTAssertEqual(Double(term), expected, accuracy: 1e-4 * expected, "scale \(scale)")
        }
    }

    /// |actual - expected| <= tolerance * max |expected| elementwise.
    private func assertClose(_ actual: Tensor, _ expected: SafeTensors.Entry, tolerance: Float, _ what: String,
                             line: UInt = #line) throws {
        XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", line: line)
        let scale = expected.values.map(abs).max() ?? 0
        let worst = zip(actual.scalars, expected.values).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance * max(scale, 1e-30), "\(what): error \(worst) of \(scale)", line: line)
    }

    /// `r1_every: k` puts R1 on discriminator steps k, 2k, ... (StyleGAN2's lazy regularisation),
    /// weighted k times; MA-GP is on every step.
    func testLazyR1Schedule() throws {
        var c = config(head: .projection)
        (c.loss.r1Weight, c.loss.r1Every) = (10, 4)
        let loss = try Architecture(c).makeLoss(c.loss)
        XCTAssertEqual((0..<9).map { loss.penalties(afterSteps: $0).r1 }, [false, false, false, true, false, false, false, true, false])
        XCTAssertFalse(loss.penalties(afterSteps: 3).matchingAware)
        c.loss.maGPWeight = 2
        XCTAssertTrue(try Architecture(c).makeLoss(c.loss).penalties(afterSteps: 0).matchingAware)
        let off = try Architecture(config(head: .projection)).makeLoss(LossConfig())
        XCTAssertFalse((0..<4).contains { off.penalties(afterSteps: $0).r1 || off.penalties(afterSteps: $0).matchingAware })
    }

    /// Training steps with both penalties log them as D loss components, finite, R1 only on its
    /// steps; the discriminator trains.
    func testTrainingStepsLogThePenalties() throws {
        var c = config(head: .projection)
        (c.model.noiseDimension, c.model.generatorWidth) = (4, 4)
        (c.loss.loss, c.loss.r1Weight, c.loss.r1Every, c.loss.maGPWeight) = (.hinge, 1, 2, 2)
        c.train.augment = [.translation]
        let architecture = try Architecture(c)
        var rng = RandomGenerator(seed: 6)
        let (g, d) = (architecture.makeGenerator(using: &rng), architecture.makeDiscriminator(using: &rng))
        let step = GANStep(generator: g, discriminator: d, architecture: architecture, config: c)
        let real = Tensor.randomNormal([3, 3, 64, 64], using: &rng), embeddings = Tensor.randomNormal([3, 6], using: &rng)
        var logged: [[String: Float]] = []
        for _ in 0..<2 {
            let before = d.parameters.map { $0.tensor.scalars }
            logged.append(try step(real: real, wrong: nil, embeddings: embeddings, using: &rng))
            XCTAssertNotEqual(d.parameters.map { $0.tensor.scalars }, before, "the discriminator trained")
        }
        XCTAssertNil(logged[0]["d_r1"], "R1 every 2nd step: not the first")
        XCTAssertGreaterThan(try XCTUnwrap(logged[1]["d_r1"]), 0)
        for values in logged {
            let maGP = try XCTUnwrap(values["d_ma_gp"])
            XCTAssertTrue(maGP.isFinite && maGP > 0, "\(maGP)")
            XCTAssertTrue(try XCTUnwrap(values["d_loss"]).isFinite)
        }
    }

    /// Bad settings are one-line config errors naming the key; a batch-norm discriminator has no
    /// double backward, so the penalties need spectral norm.
    func testPenaltySettingsAreChecked() throws {
        func error(_ edit: (inout ExperimentConfig) -> Void) -> String? {
            var c = config(head: .projection)
            edit(&c)
            do { _ = try Architecture(c); return nil } catch { return "\(error)" }
        }
        XCTAssertNil(error { $0.loss.r1Weight = 10; $0.loss.r1Every = 16; $0.loss.maGPWeight = 2 })
        for (key, edit) in [("loss.r1_weight", { (c: inout ExperimentConfig) in c.loss.r1Weight = -1 }),
                            ("loss.ma_gp_weight", { $0.loss.maGPWeight = .nan }),
                            ("loss.r1_every", { $0.loss.r1Every = 0 }),
                            ("loss.ma_gp_power", { $0.loss.maGPPower = 5 }),
                            ("loss.r1_weight", { $0.loss.r1Weight = 1; $0.model.spectralNorm = false }),
                            ("loss.ma_gp_weight", { $0.loss.maGPWeight = 1; $0.model.spectralNorm = false })] {
            let message = try XCTUnwrap(error(edit), key)
            XCTAssertTrue(message.contains(key), message)
        }
        XCTAssertTrue(error { $0.loss.r1Weight = 1; $0.model.spectralNorm = false }?.contains("spectral_norm") == true)
    }
}
