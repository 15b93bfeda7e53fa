import Kernels
import XCTest
@testable import Autograd

/// The parameterised ops (linear, conv2d, convTranspose2d, batchNorm) against PyTorch's values
/// (Fixtures/*.json, written by scripts/make_torch_fixtures.py) and central finite differences.
final class LayerOpTests: XCTestCase {
    // Fixtures/linear.json: scripts/make_torch_fixtures.py (with and without bias)
    func testLinear() throws {
        for c in try Fixture("linear").cases {
            let x = try c.tensor("x", requiresGrad: true), weight = try c.tensor("weight", requiresGrad: true)
            let bias = c.tensors["bias"] == nil ? nil : try c.tensor("bias", requiresGrad: true)
            try c.check([("x", x), ("weight", weight), ("bias", bias)]) { try x.linear(weight: weight, bias: bias) }
            try gradCheck("linear \(c.name)", [x, weight] + (bias.map { [$0] } ?? [])) { try x.linear(weight: weight, bias: bias) }
        }
    }

    // Fixtures/conv2d.json: scripts/make_torch_fixtures.py (batch 3, 5 -> 4 channels; 4x4 s2 p1 and
    // 3x3 s2 p1 on 7x7, 4x4 s4 p0 on 9x9 (a row and column left over), 3x3 s1 p1 without bias)
    func testConv2d() throws {
        let fixture = try Fixture("conv2d")
        XCTAssertEqual(fixture.cases.count, 4)
        for c in fixture.cases {
            let x = try c.tensor("x", requiresGrad: true), weight = try c.tensor("weight", requiresGrad: true)
            let bias = c.tensors["bias"] == nil ? nil : try c.tensor("bias", requiresGrad: true)
            let (stride, padding) = (Int(try c.param("stride")), Int(try c.param("padding")))
            let conv = { try x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding) }
            try c.check([("x", x), ("weight", weight), ("bias", bias)], conv)
            try gradCheck("conv2d \(c.name)", [x, weight] + (bias.map { [$0] } ?? []), conv)
        }
    }

    // Fixtures/convTranspose2d.json: scripts/make_torch_fixtures.py (batch 3, 5 -> 3 channels; 4x4 s2 p1
    // on 3x3, 3x3 s1 p1 on 4x4 without bias, 4x4 s1 p0 on 2x2)
    func testConvTranspose2d() throws {
        let fixture = try Fixture("convTranspose2d")
        XCTAssertEqual(fixture.cases.count, 3)
        for c in fixture.cases {
            let x = try c.tensor("x", requiresGrad: true), weight = try c.tensor("weight", requiresGrad: true)
            let bias = c.tensors["bias"] == nil ? nil : try c.tensor("bias", requiresGrad: true)
            let (stride, padding) = (Int(try c.param("stride")), Int(try c.param("padding")))
            let deconv = { try x.convTranspose2d(weight: weight, bias: bias, stride: stride, padding: padding) }
            try c.check([("x", x), ("weight", weight), ("bias", bias)], deconv)
            try gradCheck("convTranspose2d \(c.name)", [x, weight] + (bias.map { [$0] } ?? []), deconv)
        }
    }

    // Fixtures/upsampledConv3x3.json: scripts/make_torch_fixtures.py (conv2d(interpolate(x, 2), W, padding 1),
    // batch 3, 5 -> 4 channels, 3x4 -> 6x8)
    func testUpsampledConv3x3() throws {
        let c = try Fixture("upsampledConv3x3").named("up2conv3x3")
        let x = try c.tensor("x", requiresGrad: true), weight = try c.tensor("weight", requiresGrad: true)
        try c.check([("x", x), ("weight", weight)]) { try x.upsampledConv3x3(weight: weight) }
        try gradCheck("upsampledConv3x3", [x, weight]) { try x.upsampledConv3x3(weight: weight) }
        try gradCheck("nearestUpsampledKernel", [weight]) { try weight.nearestUpsampledKernel() }
    }

    /// The transposed-conv form equals upsampling then convolving, at sizes where oneDNN uses its
    /// blocked and Winograd kernels for the 3x3 conv (32 -> 48 channels, 9x7), values and gradients.
    func testUpsampledConv3x3MatchesUpsampleThenConv() throws {
        var rng = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal([2, 32, 9, 7], using: &rng), weight = Tensor.randomNormal([48, 32, 3, 3], standardDeviation: 0.1, using: &rng)
        let upstream = Tensor.randomNormal([2, 48, 18, 14], using: &rng)
        x.requiresGrad = true; weight.requiresGrad = true
        func run(_ f: () throws -> Tensor) throws -> (Tensor, Tensor, Tensor) {
            x.zeroGrad(); weight.zeroGrad()
            let y = try f()
            try y.backward(seed: upstream)
            return (y.detached(), try XCTUnwrap(x.grad), try XCTUnwrap(weight.grad))
        }
        let fused = try run { try x.upsampledConv3x3(weight: weight) }
        let plain = try run { try x.upsampleNearest2x().conv2d(weight: weight, padding: 1) }
        for (name, a, b) in [("output", fused.0, plain.0), ("input gradient", fused.1, plain.1), ("weight gradient", fused.2, plain.2)] {
            XCTAssertEqual(a.shape, b.shape, name)
            assertClose(a.scalars.map(Double.init), b.scalars.map(Double.init), tolerance: 1e-4, name)
        }
    }

    /// Only the weight needs a gradient (a frozen input): backward must still give the weight's.
    func testConv2dWeightGradientWithConstantInput() throws {
        let c = try Fixture("conv2d").named("k4s2p1")
        let x = try c.tensor("x"), weight = try c.tensor("weight", requiresGrad: true), bias = try c.tensor("bias")
        try c.check([("weight", weight)]) { try x.conv2d(weight: weight, bias: bias, stride: 2, padding: 1) }
        XCTAssertNil(x.grad)
        XCTAssertNil(bias.grad)
    }

    // Fixtures/batchNorm.json: scripts/make_torch_fixtures.py (1d [5,4] and 2d [3,5,3,3], train and
    // eval; train also checks the running statistics after the update, momentum 0.1, unbiased variance)
    func testBatchNorm() throws {
        let fixture = try Fixture("batchNorm")
        XCTAssertEqual(fixture.cases.count, 4)
        for c in fixture.cases {
            let x = try c.tensor("x", requiresGrad: true)
            let scale = try c.tensor("scale", requiresGrad: true), shift = try c.tensor("shift", requiresGrad: true)
            let runningMean = try c.tensor("runningMean"), runningVariance = try c.tensor("runningVariance")
            let training = try c.param("training") != 0
            try c.check([("x", x), ("scale", scale), ("shift", shift)]) {
                try x.batchNorm(scale: scale, shift: shift, runningMean: runningMean, runningVariance: runningVariance,
                                training: training)
            }
            assertClose(runningMean, try c.entry("runningMean.after"), "\(c.name) running mean")
            assertClose(runningVariance, try c.entry("runningVariance.after"), "\(c.name) running variance")
            // Finite differences on copies of the statistics: training updates them at every call.
            let (mean, variance) = (runningMean.detached(), runningVariance.detached())
            try gradCheck("batchNorm \(c.name)", [x, scale, shift]) {
                try x.batchNorm(scale: scale, shift: shift, runningMean: mean, runningVariance: variance, training: training)
            }
        }
    }

    /// A 16-channel conv output stays in nChw16c through BN and ReLU (no reorder between them),
    /// and reading it converts it: the values and gradients equal those of the row-major path.
    func testBlockedActivationsReadAsRowMajor() throws {
        var rng = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([2, 16, 6, 6], requiresGrad: true, using: &rng)
        let w = Tensor.randomNormal([32, 16, 3, 3], standardDeviation: 0.2, requiresGrad: true, using: &rng)
        let (scale, shift) = (Tensor(repeating: 1.5, shape: [32], requiresGrad: true), Tensor(repeating: 0.1, shape: [32]))
        func run(blocked: Bool) throws -> (y: [Float], dx: [Float], dw: [Float], leftBlocked: Bool) {
            let saved = KernelSettings.blockedActivations
            defer { KernelSettings.blockedActivations = saved }
            KernelSettings.blockedActivations = blocked
            let h = try x.conv2d(weight: w, padding: 1)
            let y = try h.batchNorm(scale: scale, shift: shift, runningMean: Tensor(repeating: 0, shape: [32]),
                                    runningVariance: Tensor(repeating: 1, shape: [32]), training: true).relu()
            let leftBlocked = h.storage.blockedDims != nil && y.storage.blockedDims == [2, 32, 6, 6]
            let weights = try Tensor(shape: y.shape, scalars: (0..<y.count).map { Float($0 % 7) - 3 })
            x.grad = nil; w.grad = nil
            try y.multiplying(weights).sum().backward()
            return (y.scalars, try XCTUnwrap(x.grad).scalars, try XCTUnwrap(w.grad).scalars, leftBlocked)
        }
        let plain = try run(blocked: false), blocked = try run(blocked: true)
        XCTAssertFalse(plain.leftBlocked)
        XCTAssertTrue(blocked.leftBlocked, "conv, BN and ReLU outputs stay nChw16c")
        XCTAssertEqual(blocked.y, plain.y)
        XCTAssertEqual(blocked.dx, plain.dx)
        XCTAssertEqual(blocked.dw, plain.dw)
    }
}
