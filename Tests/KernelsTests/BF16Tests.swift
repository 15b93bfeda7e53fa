import XCTest
@testable import Kernels

/// The bf16 convolutions (forward, backward data and weight gradients) against the plain fp32
/// loops. On a CPU without bf16 instructions the precision must be refused with an error that
/// says why.
///
/// Tolerances: a product of two bf16 numbers (8-bit mantissas) is exact in fp32, so a bf16 kernel
/// must equal the fp32 loop run on the bf16-rounded operands up to fp32 summation order (1e-5 of
/// the largest output). Against the loop on the original operands, each factor carries a rounding
/// error of at most 2^-9 relative, so each output is off by at most ~2^-8 of the sum of the
/// absolute products it adds (the loop run on |operands|); 2^-7 of that sum leaves a factor 2 for
/// fp32 accumulation.
final class BF16Tests: XCTestCase {
    private var rng = SystemRandomNumberGenerator()
    private func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &rng) } }

    /// Round to nearest even at 16 bits, as oneDNN's fp32 -> bf16 conversion does (no NaNs here).
    private func bf16(_ x: [Float]) -> [Float] {
        x.map { v in
            let bits = v.bitPattern
            return Float(bitPattern: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000)
        }
    }

    private let geometries = [
        ConvGeometry(batch: 3, inChannels: 5, height: 7, width: 7, outChannels: 4, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
        ConvGeometry(batch: 2, inChannels: 5, height: 8, width: 8, outChannels: 3, kernel: (4, 4), stride: (2, 2), padding: (1, 1)),
        ConvGeometry(batch: 2, inChannels: 3, height: 7, width: 5, outChannels: 5, kernel: (2, 3), stride: (1, 2), padding: (0, 1)),
        // Multiples of 16 channels: the blocked jit kernels; K = 32 * 16 = 512 products per output.
        ConvGeometry(batch: 2, inChannels: 16, height: 6, width: 6, outChannels: 32, kernel: (3, 3), padding: (1, 1)),
        ConvGeometry(batch: 2, inChannels: 32, height: 8, width: 8, outChannels: 16, kernel: (4, 4), stride: (2, 2), padding: (1, 1)),
        // An odd batch: the weight gradient's parts (one per thread) differ in size.
        ConvGeometry(batch: 5, inChannels: 16, height: 8, width: 8, outChannels: 16, kernel: (4, 4), stride: (2, 2), padding: (1, 1)),
        // The main job's last generator conv (8 -> 3 at 64x64), whose bf16 weight gradient oneDNN
        // 2.6 has only as a gemm: it must fall back to fp32.
        ConvGeometry(batch: 2, inChannels: 8, height: 64, width: 64, outChannels: 3, kernel: (3, 3), padding: (1, 1)),
    ]

    /// `got` against the loop on rounded operands (`exact`), and against the loop on the original
    /// operands (`reference`) within 2^-7 of the sum of absolute products (`magnitude`).
    private func check(_ got: [Float], exact: [Float], reference: [Float], magnitude: [Float], _ what: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        let scale = max(1, exact.map { abs($0) }.max() ?? 1)
        let worstExact = zip(got, exact).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worstExact / scale, 1e-5, "\(what): not the fp32 sum of bf16 products", file: file, line: line)
        var worstRatio: Float = 0
        for i in got.indices { worstRatio = max(worstRatio, abs(got[i] - reference[i]) / (magnitude[i] + 1e-6)) }
        XCTAssertLessThanOrEqual(worstRatio, 1.0 / 128, "\(what): error beyond bf16 rounding", file: file, line: line)
    }

    private func checkConv(_ g: ConvGeometry) throws {
        let x = random(g.inputDims.reduce(1, *)), w = random(g.weightDims.reduce(1, *)), b = random(g.outChannels)
        let dy = random(g.outputDims.reduce(1, *))
        let (rx, rw, rdy) = (bf16(x), bf16(w), bf16(dy))
        let (ax, aw, ady) = (x.map(abs), w.map(abs), dy.map(abs))

        var y = [Float](repeating: .nan, count: dy.count)
        try Conv2dKernel.forward(g, input: x, weight: w, bias: b, output: &y)
        check(y, exact: ReferenceKernels.convForward(g, input: rx, weight: rw, bias: b),
              reference: ReferenceKernels.convForward(g, input: x, weight: w, bias: b),
              magnitude: ReferenceKernels.convForward(g, input: ax, weight: aw, bias: nil), "forward \(g)")

        var dx = [Float](repeating: .nan, count: x.count)
        try Conv2dKernel.backwardData(g, gradOutput: dy, weight: w, gradInput: &dx)
        check(dx, exact: ReferenceKernels.convBackwardData(g, gradOutput: rdy, weight: rw),
              reference: ReferenceKernels.convBackwardData(g, gradOutput: dy, weight: w),
              magnitude: ReferenceKernels.convBackwardData(g, gradOutput: ady, weight: aw), "backward data \(g)")

        // Weight gradients: bf16 products of input and output gradient, summed in fp32, except
        // where oneDNN has no JIT bf16 kernel for the shape (then the fp32 loop's numbers).
        var dw = [Float](repeating: .nan, count: w.count), db = [Float](repeating: .nan, count: g.outChannels)
        try Conv2dKernel.backwardWeights(g, input: x, gradOutput: dy, gradWeight: &dw, gradBias: &db)
        let precision = try Conv2dKernel.weightGradientPrecision(g)
        if KernelSettings.blockedLayouts && g.inChannels % 16 == 0 && g.outChannels % 16 == 0 {
            XCTAssertEqual(precision, .bf16, "\(g): blocked layouts of 16-channel blocks should have a bf16 weight gradient")
        }
        let reference = ReferenceKernels.convBackwardWeights(g, input: x, gradOutput: dy)
        let magnitude = ReferenceKernels.convBackwardWeights(g, input: ax, gradOutput: ady)
        if precision == .bf16 {
            let exact = ReferenceKernels.convBackwardWeights(g, input: rx, gradOutput: rdy)
            check(dw, exact: exact.weight, reference: reference.weight, magnitude: magnitude.weight, "backward weights \(g)")
            check(db, exact: exact.bias, reference: reference.bias, magnitude: magnitude.bias, "backward bias \(g)")
        } else {
            for (got, expected, what) in [(dw, reference.weight, "weights"), (db, reference.bias, "bias")] {
                let scale = max(1, expected.map { abs($0) }.max() ?? 1)
                let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst / scale, 1e-4, "backward \(what) \(g) should be fp32")
            }
        }
    }

    func testLargeWinogradLayersStayFP32() throws {
        // In bf16, a 3x3 layer where fp32 Winograd is faster than bf16 direct (64 -> 64 channels at
        // 16x16: min(C, O) x P x Q = 16384) runs the fp32 plans: the same bits as in fp32, all passes.
        try XCTSkipUnless(CPUCapabilities.hasBF16, "refusal is asserted in testBF16ConvolutionsAreFP32SumsOfBF16Products")
        let g = ConvGeometry(batch: 1, inChannels: 64, height: 16, width: 16, outChannels: 64, kernel: (3, 3), padding: (1, 1))
        let small = ConvGeometry(batch: 1, inChannels: 32, height: 16, width: 16, outChannels: 32, kernel: (3, 3), padding: (1, 1))
        XCTAssertTrue(g.winogradBeatsBF16)
        XCTAssertFalse(small.winogradBeatsBF16, "8192 < 16384: bf16 direct")
        let x = random(g.inputDims.reduce(1, *)), w = random(g.weightDims.reduce(1, *)), dy = random(g.outputDims.reduce(1, *))
        func passes() throws -> [[Float]] {
            var y = [Float](repeating: .nan, count: dy.count), dx = x, dw = w
            try Conv2dKernel.forward(g, input: x, weight: w, bias: nil, output: &y)
            try Conv2dKernel.backwardData(g, gradOutput: dy, weight: w, gradInput: &dx)
            try Conv2dKernel.backwardWeights(g, input: x, gradOutput: dy, gradWeight: &dw, gradBias: nil)
            return [y, dx, dw]
        }
        let fp32 = try passes()
        try KernelSettings.use(.bf16)
        defer { try? KernelSettings.use(.fp32) }
        XCTAssertEqual(try passes(), fp32)
        XCTAssertEqual(try Conv2dKernel.weightGradientPrecision(g), .fp32)
    }

    func testBF16ConvolutionsAreFP32SumsOfBF16Products() throws {
        guard CPUCapabilities.hasBF16 else {
            XCTAssertThrowsError(try KernelSettings.use(.bf16)) { error in
                XCTAssertTrue("\(error)".contains("bf16 needs a CPU with AVX512-BF16 or AMX"), "\(error)")
            }
            XCTAssertEqual(KernelSettings.precision, .fp32, "a refused precision must not be half-applied")
            return
        }
        let saved = KernelSettings.blockedLayouts
        try KernelSettings.use(.bf16)
        defer { try? KernelSettings.use(.fp32); KernelSettings.blockedLayouts = saved }
        for blocked in [false, true] {
            KernelSettings.blockedLayouts = blocked
            for g in geometries { try checkConv(g) }
        }
    }

    func testTransposedConvolutionIsTheAdjointInBF16() throws {
        // ConvTranspose2d's forward is the adjoint conv's backward data, and its input gradient
        // that conv's forward: both in bf16, so an upsampling deconv (4x4, s2, p1, 32 -> 16
        // channels, 5x5 -> 10x10) must be the fp32 sum of bf16 products too.
        try XCTSkipUnless(CPUCapabilities.hasBF16, "refusal is asserted in testBF16ConvolutionsAreFP32SumsOfBF16Products")
        try KernelSettings.use(.bf16)
        defer { try? KernelSettings.use(.fp32) }
        let adjoint = ConvGeometry(batch: 2, inChannels: 16, height: 10, width: 10, outChannels: 32, kernel: (4, 4),
                                   stride: (2, 2), padding: (1, 1))
        let x = random(adjoint.outputDims.reduce(1, *)), w = random(adjoint.weightDims.reduce(1, *))
        var y = [Float](repeating: .nan, count: adjoint.inputDims.reduce(1, *))
        try Conv2dKernel.backwardData(adjoint, gradOutput: x, weight: w, gradInput: &y)
        check(y, exact: ReferenceKernels.convBackwardData(adjoint, gradOutput: bf16(x), weight: bf16(w)),
              reference: ReferenceKernels.convBackwardData(adjoint, gradOutput: x, weight: w),
              magnitude: ReferenceKernels.convBackwardData(adjoint, gradOutput: x.map(abs), weight: w.map(abs)),
              "transposed conv forward")
    }

    func testPrecisionsHaveTheirOwnPlans() throws {
        // Switching back to fp32 must give fp32 numbers again (plans are cached per precision).
        let g = ConvGeometry(batch: 2, inChannels: 16, height: 6, width: 6, outChannels: 16, kernel: (3, 3), padding: (1, 1))
        let x = random(g.inputDims.reduce(1, *)), w = random(g.weightDims.reduce(1, *))
        var before = [Float](repeating: 0, count: g.outputDims.reduce(1, *)), after = before, low = before
        try Conv2dKernel.forward(g, input: x, weight: w, bias: nil, output: &before)
        if CPUCapabilities.hasBF16 {
            try KernelSettings.use(.bf16)
            try Conv2dKernel.forward(g, input: x, weight: w, bias: nil, output: &low)
            try KernelSettings.use(.fp32)
            XCTAssertGreaterThan(zip(low, before).map { abs($0 - $1) }.max() ?? 0, 1e-4, "bf16 should round")
        }
        try Conv2dKernel.forward(g, input: x, weight: w, bias: nil, output: &after)
        XCTAssertEqual(after, before)
        XCTAssertEqual(KernelSettings.precision, .fp32)
    }
}
