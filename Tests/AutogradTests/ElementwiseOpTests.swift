import Foundation
import XCTest
@testable import Autograd

/// Elementwise ops and the losses: each against PyTorch's values (Fixtures/*.json, written by
/// scripts/make_torch_fixtures.py), central finite differences and, for the smooth ones, the exact
/// derivative evaluated in Double.
final class ElementwiseOpTests: XCTestCase {
    // Fixtures/add.json: scripts/make_torch_fixtures.py
    func testAddSubtractAndAddScalar() throws {
        let fixture = try Fixture("add")
        let add = try fixture.named("add")
        let (a, b) = (try add.tensor("a", requiresGrad: true), try add.tensor("b", requiresGrad: true))
        try add.check([("a", a), ("b", b)]) { try a.adding(b) }
        try gradCheck("add", [a, b]) { try a.adding(b) }

        let subtract = try fixture.named("subtract")
        let (c, d) = (try subtract.tensor("a", requiresGrad: true), try subtract.tensor("b", requiresGrad: true))
        try subtract.check([("a", c), ("b", d)]) { try c.subtracting(d) }
        try gradCheck("subtract", [c, d]) { try c.subtracting(d) }

        let scalar = try fixture.named("addScalar")
        let x = try scalar.tensor("x", requiresGrad: true), value = Float(try scalar.param("value"))
        try scalar.check([("x", x)]) { x.adding(value) }
        try gradCheck("addScalar", [x]) { x.adding(value) }
    }

    // Fixtures/multiply.json: scripts/make_torch_fixtures.py
    func testMultiplyAndScaled() throws {
        let fixture = try Fixture("multiply")
        let multiply = try fixture.named("multiply")
        let (a, b) = (try multiply.tensor("a", requiresGrad: true), try multiply.tensor("b", requiresGrad: true))
        try multiply.check([("a", a), ("b", b)]) { try a.multiplying(b) }
        try gradCheck("multiply", [a, b]) { try a.multiplying(b) }

        let scaled = try fixture.named("scaled")
        let x = try scaled.tensor("x", requiresGrad: true), value = Float(try scaled.param("value"))
        try scaled.check([("x", x)]) { x.scaled(by: value) }
        try gradCheck("scaled", [x]) { x.scaled(by: value) }
    }

    /// Fixture, finite differences and exact derivative for a smooth elementwise op.
    private func checkSmooth(_ op: String, _ f: @escaping (Tensor) -> Tensor, derivative: (Double) -> Double) throws {
        let c = try Fixture(op).named(op)
        let x = try c.tensor("x", requiresGrad: true)
        try c.check([("x", x)]) { f(x) }
        try gradCheck(op, [x]) { f(x) }
        let r = try backwardWithRandomSeed(f(x))
        let exact = zip(x.scalars, r).map { xi, ri in ri * derivative(Double(xi)) }
        assertClose(x.grad, Fixture.Entry(shape: x.shape, values: exact), tolerance: exactDerivativeTolerance,
                    "\(op) against its exact derivative")
    }

    // Fixtures/exp.json: scripts/make_torch_fixtures.py
    func testExp() throws {
        try checkSmooth("exp", { $0.exp() }, derivative: { Foundation.exp($0) })
    }

    // Fixtures/tanh.json: scripts/make_torch_fixtures.py
    func testTanh() throws {
        try checkSmooth("tanh", { $0.tanh() }, derivative: { 1 / (Foundation.cosh($0) * Foundation.cosh($0)) })
    }

    /// The 16-lane rational tanh against Double's over the float range that matters, both sides
    /// of the 4e-4 and 7.9 switches, lanes and the scalar tail alike (17 elements); NaN stays NaN.
    func testTanhAgainstDoubleEverywhere() throws {
        var worst = 0.0
        for start in stride(from: -12.0, to: 12.0, by: 0.0173) {
            let sweep: [Float] = (0..<17).map { (k: Int) -> Float in Float(start + Double(k * (k % 5)) * 1e-3) }
            let xs: [Float] = sweep + [1e-5, -3e-4, 4.1e-4, 7.9, -7.91, 20]
            let y = try Tensor(shape: [xs.count], scalars: xs).tanh().scalars
            for (x, v) in zip(xs, y) { worst = max(worst, abs(Double(v) - Foundation.tanh(Double(x)))) }
        }
        XCTAssertLessThan(worst, 5e-7)
        XCTAssertTrue(try Tensor(shape: [2], scalars: [.nan, 0.5]).tanh().scalars[0].isNaN)
    }

    /// The 16-lane exp against Double's, relative error, from -86.5 (below it 0) to past overflow,
    /// lanes and the scalar tail alike (17 elements); NaN stays NaN.
    func testExpAgainstDoubleEverywhere() throws {
        var worst = 0.0
        for start in stride(from: -86.5, to: 88.7, by: 0.0731) {
            let xs: [Float] = (0..<17).map { (k: Int) -> Float in Float(min(start + Double(k * (k % 5)) * 1e-3, 88.72)) }
            let y = try Tensor(shape: [xs.count], scalars: xs).exp().scalars
            for (x, v) in zip(xs, y) { worst = max(worst, abs(Double(v) / Foundation.exp(Double(x)) - 1)) }
        }
        XCTAssertLessThan(worst, 3e-7)
        let edges = try Tensor(shape: [5], scalars: [-87, -1000, 89, 1000, .nan]).exp().scalars
        XCTAssertEqual(Array(edges[0..<4]), [0, 0, .infinity, .infinity])
        XCTAssertTrue(edges[4].isNaN)
    }

    // Fixtures/sigmoid.json: scripts/make_torch_fixtures.py (|x| up to ~10: both tails)
    func testSigmoid() throws {
        try checkSmooth("sigmoid", { $0.sigmoid() }, derivative: { x in
            let e = Foundation.exp(-abs(x))
            return e / ((1 + e) * (1 + e))
        })
    }

    // Fixtures/relu.json: scripts/make_torch_fixtures.py (inputs >= 0.1 away from the kink)
    func testRelu() throws {
        let c = try Fixture("relu").named("relu")
        let x = try c.tensor("x", requiresGrad: true)
        XCTAssertTrue(x.scalars.allSatisfy { abs($0) >= 0.1 } && x.scalars.contains { $0 < 0 })
        try c.check([("x", x)]) { x.relu() }
        try gradCheck("relu", [x]) { x.relu() }
    }

    // Fixtures/leakyRelu.json: scripts/make_torch_fixtures.py (inputs >= 0.1 away from the kink)
    func testLeakyRelu() throws {
        let c = try Fixture("leakyRelu").named("leakyRelu")
        let x = try c.tensor("x", requiresGrad: true), slope = Float(try c.param("slope"))
        XCTAssertTrue(x.scalars.allSatisfy { abs($0) >= 0.1 } && x.scalars.contains { $0 < 0 })
        try c.check([("x", x)]) { x.leakyRelu(slope: slope) }
        try gradCheck("leakyRelu", [x]) { x.leakyRelu(slope: slope) }
    }

    // Fixtures/bceWithLogits.json: scripts/make_torch_fixtures.py (targets 1, 0, 0.25; logits up to
    // +-100, where a naive log(sigmoid) would give inf)
    func testBinaryCrossEntropyWithLogits() throws {
        for c in try Fixture("bceWithLogits").cases {
            let x = try c.tensor("x", requiresGrad: true), target = Float(try c.param("target"))
            try c.check([("x", x)]) { x.binaryCrossEntropyWithLogits(target: target) }
            try gradCheck("bce \(c.name)", [x]) { x.binaryCrossEntropyWithLogits(target: target) }
            // Exact: d/dx_i = g * (sigmoid(x_i) - t) / count.
            let g = try backwardWithRandomSeed(x.binaryCrossEntropyWithLogits(target: target))[0]
            let exact = x.scalars.map { xi -> Double in
                let v = Double(xi), s = v >= 0 ? 1 / (1 + Foundation.exp(-v)) : Foundation.exp(v) / (1 + Foundation.exp(v))
                return g * (s - Double(target)) / Double(x.count)
            }
            assertClose(x.grad, Fixture.Entry(shape: x.shape, values: exact), tolerance: exactDerivativeTolerance,
                        "bce \(c.name) against its exact derivative")
        }
    }

    // Fixtures/klDivergence.json: scripts/make_torch_fixtures.py
    func testKLDivergence() throws {
        let c = try Fixture("klDivergence").named("kl")
        let mu = try c.tensor("mu", requiresGrad: true), logVariance = try c.tensor("logVariance", requiresGrad: true)
        try c.check([("mu", mu), ("logVariance", logVariance)]) { try Tensor.klDivergence(mu: mu, logVariance: logVariance) }
        try gradCheck("kl", [mu, logVariance]) { try Tensor.klDivergence(mu: mu, logVariance: logVariance) }
        // Exact: d/dmu = g mu / n, d/dlogvar = g (e^logvar - 1) / (2n).
        let g = try backwardWithRandomSeed(Tensor.klDivergence(mu: mu, logVariance: logVariance))[0]
        let n = Double(mu.count)
        assertClose(mu.grad, Fixture.Entry(shape: mu.shape, values: mu.scalars.map { g * Double($0) / n }),
                    tolerance: exactDerivativeTolerance, "kl d/dmu against its exact derivative")
        assertClose(logVariance.grad, Fixture.Entry(shape: mu.shape, values: logVariance.scalars.map { g * (Foundation.exp(Double($0)) - 1) / (2 * n) }),
                    tolerance: exactDerivativeTolerance, "kl d/dlogvar against its exact derivative")
    }

    // Fixtures/gaussianSample.json: scripts/make_torch_fixtures.py (the noise is given, not drawn)
    func testGaussianSample() throws {
        let c = try Fixture("gaussianSample").named("sample")
        let mu = try c.tensor("mu", requiresGrad: true), logVariance = try c.tensor("logVariance", requiresGrad: true)
        let noise = try c.tensor("noise")
        let sample = { try Tensor.gaussianSample(mu: mu, logVariance: logVariance, noise: noise) }
        try c.check([("mu", mu), ("logVariance", logVariance)], sample)
        try gradCheck("gaussianSample", [mu, logVariance], sample)
        XCTAssertNil(noise.grad, "the noise is a constant")
        // Exact: d/dmu = r, d/dlogvar = r * noise * e^(logvar/2) / 2.
        let r = try backwardWithRandomSeed(sample())
        assertClose(mu.grad, Fixture.Entry(shape: mu.shape, values: r), tolerance: exactDerivativeTolerance,
                    "gaussianSample d/dmu against its exact derivative")
        let (z, lv) = (noise.scalars, logVariance.scalars)
        let exact: [Double] = (0..<r.count).map { i -> Double in
            let std: Double = Foundation.exp(Double(lv[i]) / 2)
            return r[i] * Double(z[i]) * std / 2
        }
        assertClose(logVariance.grad, Fixture.Entry(shape: mu.shape, values: exact), tolerance: exactDerivativeTolerance,
                    "gaussianSample d/dlogvar against its exact derivative")
    }
}
