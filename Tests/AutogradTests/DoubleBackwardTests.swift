import XCTest
@testable import Autograd

/// Second-order reverse mode: `Tensor.gradients(of:withRespectTo:createGraph:)` and every op's
/// create-graph backward, against values scripts/make_grad2_fixtures.py computed with PyTorch
/// (Fixtures/doubleBackward.json) and against central finite differences in Double.
final class DoubleBackwardTests: XCTestCase {
    // MARK: the API

    /// d/dx sum(x^3) = 3x^2 taken with createGraph is on the tape: its sum differentiates to 6x.
    func testCreateGraphGradientDifferentiatesAgain() throws {
        let x = try Tensor(shape: [3], scalars: [1, -2, 0.5], requiresGrad: true)
        let cube = try x.multiplying(x).multiplying(x).sum()
        let g = try Tensor.gradients(of: cube, withRespectTo: [x], createGraph: true)[0]
        XCTAssertEqual(g.scalars, [3, 12, 0.75])
        XCTAssertTrue(g.requiresGrad)
        XCTAssertNil(x.grad, "gradients() leaves .grad alone")
        try g.sum().backward()
        XCTAssertEqual(x.grad?.scalars, [6, -12, 3])
    }

    /// Without createGraph: the same numbers as backward(), nothing recorded, .grad untouched, and
    /// the graph kept for a backward() afterwards (as the D step does after its penalty).
    func testFirstOrderGradientsEqualBackwardAndKeepTheGraph() throws {
        var rng = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([2, 3, 6, 6], requiresGrad: true, using: &rng)
        let w = Tensor.randomNormal([4, 3, 4, 4], standardDeviation: 0.3, requiresGrad: true, using: &rng)
        let out = try x.conv2d(weight: w, stride: 2, padding: 1).leakyRelu().sum()
        let grads = try Tensor.gradients(of: out, withRespectTo: [x, w])
        XCTAssertFalse(grads[0].requiresGrad)
        XCTAssertNil(x.grad)
        try out.backward()
        XCTAssertEqual(grads[0].scalars, x.grad?.scalars)
        XCTAssertEqual(grads[1].scalars, w.grad?.scalars)
    }

    /// An intermediate result can be an input; an input the output does not read gets zeros.
    func testGradientsOfIntermediatesAndUnusedInputs() throws {
        let x = try Tensor(shape: [2], scalars: [1, 2], requiresGrad: true)
        let unused = try Tensor(shape: [3], scalars: [1, 1, 1], requiresGrad: true)
        let h = x.scaled(by: 3)
        let grads = try Tensor.gradients(of: h.multiplying(h).sum(), withRespectTo: [h, x, unused])
        XCTAssertEqual(grads[0].scalars, [6, 12])
        XCTAssertEqual(grads[1].scalars, [18, 36])
        XCTAssertEqual(grads[2].scalars, [0, 0, 0])
    }

    /// An op without a double backward refuses create-graph mode by name rather than return a
    /// gradient cut from the graph; first order still works through it.
    func testOpsWithoutDoubleBackwardSayWhich() throws {
        var rng = RandomGenerator(seed: 4)
        let x = Tensor.randomNormal([4, 3], requiresGrad: true, using: &rng)
        let (scale, shift) = (Tensor(repeating: 1, shape: [3], requiresGrad: true), Tensor(repeating: 0, shape: [3], requiresGrad: true))
        let normed = try x.batchNorm(scale: scale, shift: shift, runningMean: Tensor(repeating: 0, shape: [3]),
                                     runningVariance: Tensor(repeating: 1, shape: [3]), training: true).sum()
        XCTAssertThrowsError(try Tensor.gradients(of: normed, withRespectTo: [x], createGraph: true)) {
            XCTAssertEqual(($0 as? DoubleBackwardError)?.op, "batchNorm", "\($0)")
            XCTAssertTrue("\($0)".contains("batchNorm has no double backward"), "\($0)")
        }
        XCTAssertNoThrow(try Tensor.gradients(of: normed, withRespectTo: [x]))
        XCTAssertThrowsError(try Tensor.gradients(of: x.sigmoid().sum(), withRespectTo: [x], createGraph: true)) {
            XCTAssertEqual(($0 as? DoubleBackwardError)?.op, "sigmoid", "\($0)")
        }
    }

    // MARK: each op against PyTorch and finite differences

    /// The Swift side of each case in Fixtures/doubleBackward.json: its differentiable inputs (in
    /// the fixture's order) and f.
    private func op(_ c: Fixture.Case) throws -> (inputs: [(String, Tensor)], f: () throws -> Tensor)? {
        func t(_ name: String) throws -> (String, Tensor) { (name, try c.tensor(name, requiresGrad: true)) }
        func square(_ y: Tensor) throws -> Tensor { try y.multiplying(y) }
        let hasBias = c.tensors["bias"] != nil
        switch c.name {
        case let name where name.hasPrefix("conv"):
            let (x, w) = (try t("x"), try t("weight")), b = hasBias ? try t("bias") : nil
            let (stride, padding) = (Int(try c.param("stride")), Int(try c.param("padding")))
            return ([x, w] + (b.map { [$0] } ?? []), { try x.1.conv2d(weight: w.1, bias: b?.1, stride: stride, padding: padding) })
        case let name where name.hasPrefix("deconv"):
            let (x, w) = (try t("x"), try t("weight")), b = hasBias ? try t("bias") : nil
            let (stride, padding) = (Int(try c.param("stride")), Int(try c.param("padding")))
            return ([x, w] + (b.map { [$0] } ?? []), { try x.1.convTranspose2d(weight: w.1, bias: b?.1, stride: stride, padding: padding) })
        case "linear", "linearNoBias":
            let (x, w) = (try t("x"), try t("weight")), b = hasBias ? try t("bias") : nil
            return ([x, w] + (b.map { [$0] } ?? []), { try x.1.linear(weight: w.1, bias: b?.1) })
        case let name where name.hasPrefix("matmul"):
            let (a, b) = (try t("a"), try t("b"))
            let (ta, tb) = (try c.param("transposeA") == 1, try c.param("transposeB") == 1)
            return ([a, b], { try a.1.matmul(b.1, transposeSelf: ta, transposeOther: tb) })
        case "leakyRelu": let x = try t("x"); return ([x], { x.1.leakyRelu(slope: 0.2) })
        case "relu": let x = try t("x"); return ([x], { x.1.relu() })
        case "multiply": let (a, b) = (try t("a"), try t("b")); return ([a, b], { try a.1.multiplying(b.1) })
        case "add": let (a, b) = (try t("a"), try t("b")); return ([a, b], { try a.1.adding(b.1) })
        case "subtract": let (a, b) = (try t("a"), try t("b")); return ([a, b], { try a.1.subtracting(b.1) })
        case "scaledPlus": let x = try t("x"); return ([x], { x.1.scaled(by: -1.5).adding(0.75) })
        case "sumSquares": let x = try t("x"); return ([x], { try square(x.1).sum() })
        case "meanSquares": let x = try t("x"); return ([x], { try square(x.1).mean() })
        case "rowSums": let x = try t("x"); return ([x], { try x.1.rowSums() })
        case "reshapeSquare": let x = try t("x"); return ([x], { try square(x.1.reshaped([6, 4])) })
        case "tile": let x = try t("x"); return ([x], { try square(x.1.tiled(height: 2, width: 3)) })
        case "concat":
            let (a, b) = (try t("a"), try t("b"))
            return ([a, b], { try Tensor.concatChannels([a.1, b.1]).multiplying(Tensor.concatChannels([b.1, a.1])) })
        case "batchSlice": let x = try t("x"); return ([x], { try x.1.slicedBatch(1..<3).multiplying(x.1.slicedBatch(0..<2)) })
        case "roll": let x = try t("x"); return ([x], { try x.1.rolledBatch(by: 1).multiplying(x.1) })
        case "translate":
            let x = try t("x")
            let (dx, dy) = (try [c.param("dx0"), c.param("dx1")].map { Int($0) }, try [c.param("dy0"), c.param("dy1")].map { Int($0) })
            return ([x], { try square(x.1.translated(dx: dx, dy: dy)) })
        case "colorJitter":
            let x = try t("x")
            let f = { (keys: [String]) in try keys.map { Float(try c.param($0)) } }
            let (b, s, k) = (try f(["b0", "b1"]), try f(["s0", "s1"]), try f(["k0", "k1"]))
            return ([x], { try square(x.1.colorJittered(brightness: b, saturation: s, contrast: k)) })
        case "spectralNorm":
            // A fresh u each call: the power-iteration step writes it.
            let (w, u) = (try t("weight"), try c.tensor("u"))
            return ([w], { try w.1.spectralNormalized(u: u.detached(), powerIteration: true) })
        case "reciprocal": let x = try t("x"); return ([x], { x.1.reciprocal() })
        default: return nil
        }
    }

    /// For each case: the first gradients G_k = d<u, f>/d input_k with createGraph against
    /// PyTorch's ("grad.<k>"), then dS/d(u, inputs) for S = sum_k <r_k, G_k> against PyTorch's
    /// ("grad2.<name>"; an input S does not depend on gets no gradient here, zeros there); and the
    /// same second derivatives against finite differences (`secondOrderGradCheck`).
    func testEveryOpAgainstPyTorchAndFiniteDifferences() throws {
        let fixture = try Fixture("doubleBackward")
        var checked: [String] = []
        for c in fixture.cases where c.name != "net" {
            let op = try XCTUnwrap(try op(c), "no Swift op for fixture case \(c.name)")
            let upstream = try c.tensor("upstream", requiresGrad: true)
            let first = op.inputs.filter { c.params["first.\($0.0)"] == 1 }
            let grads = try Tensor.gradients(of: op.f(), withRespectTo: first.map(\.1), seed: upstream, createGraph: true)
            var s: Tensor?
            for ((name, _), g) in zip(first, grads) {
                assertClose(g, try c.entry("grad." + name), "\(c.name) d/d\(name)")
                let term = try g.multiplying(c.tensor("upstream2." + name)).sum()
                s = try s.map { try $0.adding(term) } ?? term
            }
            try XCTUnwrap(s).backward()
            for (name, x) in [("upstream", upstream)] + op.inputs {
                let expected = try c.entry("grad2." + name)
                assertClose(x.grad ?? Tensor(repeating: 0, shape: x.shape), expected, "\(c.name) second order d/d\(name)")
            }
            for (_, x) in op.inputs { x.zeroGrad() }
            // Spectral norm's gradient treats u and v as constants (as PyTorch's) though its forward
            // computes them from W, so differences in W cannot check its second derivative: only
            // PyTorch's values above do; differences check it in the seed.
            try secondOrderGradCheck(c.name, c.name == "spectralNorm" ? [] : op.inputs.map(\.1), first: first.map(\.1), op.f)
            checked.append(c.name)
        }
        XCTAssertEqual(checked.count, fixture.cases.count - 1, "every op case ran: \(checked)")
    }

    /// The small net conv(4x4 s2 p1, bias) LReLU conv(3x3 p1) linear: P = |d sum(out)/dx|^2 and
    /// dP/d(weights), the gradient penalty's shape, against PyTorch.
    func testPenaltyOfASmallNetAgainstPyTorch() throws {
        let c = try Fixture("doubleBackward").named("net")
        let names = ["x", "w1", "b1", "w2", "wl", "bl"]
        let t = try names.map { try c.tensor($0, requiresGrad: true) }
        let (x, w1, b1, w2, wl, bl) = (t[0], t[1], t[2], t[3], t[4], t[5])
        let h = try x.conv2d(weight: w1, bias: b1, stride: 2, padding: 1).leakyRelu(slope: 0.2)
        let out = try h.conv2d(weight: w2, padding: 1).reshaped([2, 80]).linear(weight: wl, bias: bl)
        assertClose(out, try c.entry("out"), "net forward")
        let gx = try Tensor.gradients(of: out, withRespectTo: [x], createGraph: true)[0]
        assertClose(gx, try c.entry("grad.x"), "net d sum(out)/dx")
        let penalty = try gx.multiplying(gx).sum()
        assertClose(try penalty.reshaped([1]), try c.entry("penalty"), "net penalty")
        try penalty.backward()
        for (name, v) in zip(names, t) {
            assertClose(v.grad ?? Tensor(repeating: 0, shape: v.shape), try c.entry("grad2." + name), "net dP/d\(name)")
        }
    }

    /// Third order through a strided conv, by finite differences: the create-graph backwards of
    /// the backward ops themselves (`conv2dWeightGradient`, the transposed conv of the input
    /// gradient), which the second-order cases only run first-order.
    func testThirdOrderThroughAConv() throws {
        var rng = RandomGenerator(seed: 8)
        let x = Tensor.randomNormal([2, 2, 5, 5], requiresGrad: true, using: &rng)
        let w = Tensor.randomNormal([3, 2, 3, 3], standardDeviation: 0.3, requiresGrad: true, using: &rng)
        // G_w = conv2dWeightGradient(x, u): its create-graph backward is what this differentiates.
        try secondOrderGradCheck("conv2dWeightGradient", [x, w], first: [x]) {
            let gw = try Tensor.gradients(of: x.conv2d(weight: w, stride: 2), withRespectTo: [w], createGraph: true)[0]
            return try gw.multiplying(gw).sum()
        }
    }

    // MARK: helpers

    /// Checks the create-graph backward of f by finite differences: with a seed u that is itself
    /// a leaf, the first gradients G_k = d<u, f>/d first_k are made with `createGraph`, and
    /// `gradCheck` compares the tape's gradients of <r, G_k> w.r.t. u and every input with central
    /// differences of G_k (recomputed by the same pass). An input G_k does not depend on must get
    /// no gradient or a zero one, and its differences must be zero.
    private func secondOrderGradCheck(_ what: String, _ inputs: [Tensor], first: [Tensor],
                                      file: StaticString = #filePath, line: UInt = #line, _ f: @escaping () throws -> Tensor) throws {
        let shape = try withoutGradients(f).shape
        var rng = RandomGenerator(seed: 29)
        let u = Tensor.randomNormal(shape, requiresGrad: true, using: &rng)
        for (k, x) in first.enumerated() {
            try gradCheck("\(what): second derivatives of d/d input \(k)", [u] + inputs, independentInputs: true,
                          file: file, line: line) {
                try recording { try Tensor.gradients(of: f(), withRespectTo: [x], seed: u, createGraph: true)[0] }
            }
        }
    }

    /// Runs `body` recording the graph even inside `withoutGradients` (gradCheck's probe).
    private func recording<T>(_ body: () throws -> T) rethrows -> T {
        let saved = GradientMode.isEnabled
        GradientMode.isEnabled = true
        defer { GradientMode.isEnabled = saved }
        return try body()
    }
}
