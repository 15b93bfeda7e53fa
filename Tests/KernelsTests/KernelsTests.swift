import CDNNL
import XCTest
@testable import Kernels

/// Every oneDNN kernel against the plain loops of ReferenceKernels, on odd shapes.
final class KernelsTests: XCTestCase {
    private var rng = SystemRandomNumberGenerator()
    private func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &rng) } }

    private func assertClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-4, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let scale = max(1, b.map { abs($0) }.max() ?? 1)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst / scale, tolerance, "\(what): max abs difference \(worst)", file: file, line: line)
    }

    /// The shapes the issue names (batch 3, 5 channels, 7x7, stride 2) and the StackGAN kernel shapes.
    private let geometries = [
        ConvGeometry(batch: 3, inChannels: 5, height: 7, width: 7, outChannels: 4, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
        ConvGeometry(batch: 3, inChannels: 5, height: 7, width: 7, outChannels: 6, kernel: (3, 3), stride: (1, 1), padding: (1, 1)),
        ConvGeometry(batch: 2, inChannels: 5, height: 8, width: 8, outChannels: 3, kernel: (4, 4), stride: (2, 2), padding: (1, 1)),
        ConvGeometry(batch: 3, inChannels: 5, height: 8, width: 8, outChannels: 1, kernel: (4, 4), stride: (4, 4), padding: (0, 0)),
        ConvGeometry(batch: 2, inChannels: 3, height: 7, width: 5, outChannels: 5, kernel: (2, 3), stride: (1, 2), padding: (0, 1)),
        // Backward data as a forward conv (few output channels, stride 1): the generator's last conv, and unequal padding.
        ConvGeometry(batch: 2, inChannels: 8, height: 9, width: 7, outChannels: 3, kernel: (3, 3), padding: (1, 1)),
        ConvGeometry(batch: 2, inChannels: 6, height: 6, width: 7, outChannels: 2, kernel: (3, 2), padding: (0, 1)),
        // Multiples of 16 channels: the blocked (nChw16c) and Winograd paths.
        ConvGeometry(batch: 2, inChannels: 16, height: 6, width: 6, outChannels: 32, kernel: (3, 3), padding: (1, 1)),
        ConvGeometry(batch: 2, inChannels: 32, height: 8, width: 8, outChannels: 16, kernel: (4, 4), stride: (2, 2), padding: (1, 1)),
    ]

    private func checkConv(_ g: ConvGeometry, bias: Bool) throws {
        let x = random(g.inputDims.reduce(1, *)), w = random(g.weightDims.reduce(1, *)), b = random(g.outChannels)
        let dy = random(g.outputDims.reduce(1, *))
        var y = [Float](repeating: .nan, count: dy.count)
        try Conv2dKernel.forward(g, input: x, weight: w, bias: bias ? b : nil, output: &y)
        assertClose(y, ReferenceKernels.convForward(g, input: x, weight: w, bias: bias ? b : nil), "forward \(g)")

        var dx = [Float](repeating: .nan, count: x.count)
        try Conv2dKernel.backwardData(g, gradOutput: dy, weight: w, gradInput: &dx)
        assertClose(dx, ReferenceKernels.convBackwardData(g, gradOutput: dy, weight: w), "backward data \(g)")

        var dw = [Float](repeating: .nan, count: w.count), db = [Float](repeating: .nan, count: g.outChannels)
        let expected = ReferenceKernels.convBackwardWeights(g, input: x, gradOutput: dy)
        if bias {
            try Conv2dKernel.backwardWeights(g, input: x, gradOutput: dy, gradWeight: &dw, gradBias: &db)
            assertClose(db, expected.bias, "backward bias \(g)")
        } else {
            try Conv2dKernel.backwardWeights(g, input: x, gradOutput: dy, gradWeight: &dw, gradBias: nil)
        }
        assertClose(dw, expected.weight, "backward weights \(g)")
    }

    func testParallelForVisitsEveryIndexOnceOnOpenMPThreads() {
        for count in [0, 1, 2, 3, 17, 1000] {
            var visits = [Int](repeating: 0, count: count)
            var threads = Set<Int>()
            let lock = NSLock()
            visits.withUnsafeMutableBufferPointer { v in
                parallelFor(count) { i in
                    v[i] += 1
                    lock.lock(); threads.insert(Int(omp_get_thread_num())); lock.unlock()
                }
            }
            XCTAssertEqual(visits, [Int](repeating: 1, count: count), "count \(count)")
            XCTAssertEqual(threads.count, min(count, parallelThreads), "threads used for \(count) items")
        }
        // Inside a parallel region a nested call runs on the calling thread, all of it.
        var inner = [Int](repeating: 0, count: 2 * 50)
        inner.withUnsafeMutableBufferPointer { v in
            parallelFor(2) { outer in
                parallelFor(50) { i in v[outer * 50 + i] = omp_get_thread_num() == 0 && omp_get_num_threads() == 1 ? 1 : 0 }
            }
        }
        XCTAssertEqual(inner, [Int](repeating: 1, count: 100))
    }

    func testConvolutionMatchesLoopsInEveryLayoutAndAlgorithm() throws {
        let saved = (KernelSettings.blockedLayouts, KernelSettings.convAlgorithm)
        defer { (KernelSettings.blockedLayouts, KernelSettings.convAlgorithm) = saved }
        for blocked in [false, true] {
            for algorithm in ConvAlgorithm.allCases {
                KernelSettings.blockedLayouts = blocked
                KernelSettings.convAlgorithm = algorithm
                for g in geometries {
                    try checkConv(g, bias: false)
                    try checkConv(g, bias: true)
                }
            }
        }
    }

    func testWinogradOnAStackGANShapeMatchesDirect() throws {
        // Winograd changes the arithmetic, so compare it with direct on a realistic 3x3 layer.
        let saved = KernelSettings.convAlgorithm
        defer { KernelSettings.convAlgorithm = saved }
        let g = ConvGeometry(batch: 4, inChannels: 64, height: 16, width: 16, outChannels: 32, kernel: (3, 3), padding: (1, 1))
        let x = random(g.inputDims.reduce(1, *)), w = random(g.weightDims.reduce(1, *))
        var direct = [Float](repeating: 0, count: g.outputDims.reduce(1, *)), wino = direct
        KernelSettings.convAlgorithm = .direct
        try Conv2dKernel.forward(g, input: x, weight: w, bias: nil, output: &direct)
        KernelSettings.convAlgorithm = .winograd
        try Conv2dKernel.forward(g, input: x, weight: w, bias: nil, output: &wino)
        assertClose(wino, direct, tolerance: 1e-4, "winograd vs direct")
    }

    func testBatchNormMatchesLoopsInEveryLayout() throws {
        let saved = KernelSettings.blockedLayouts
        defer { KernelSettings.blockedLayouts = saved }
        for blocked in [true, false] {
            KernelSettings.blockedLayouts = blocked  // nChw16c or channels-last, then plain NCHW for the same shapes
            try checkBatchNorm()
        }
    }

    private func checkBatchNorm() throws {
        for g in [BatchNormKernel.Geometry(batch: 3, channels: 5, height: 7, width: 7),  // channels-last JIT (plain when not blocked)
                  BatchNormKernel.Geometry(batch: 2, channels: 8, height: 6, width: 6),
                  BatchNormKernel.Geometry(batch: 5, channels: 3),
                  BatchNormKernel.Geometry(batch: 3, channels: 32, height: 5, width: 5),  // JIT kernel on nChw16c
                  BatchNormKernel.Geometry(batch: 5, channels: 32)] {
            let count = g.batch * g.channels * g.height * g.width
            let x = random(count).map { $0 * 3 + 0.5 }, scale = random(g.channels), shift = random(g.channels)
            let dy = random(count)
            var y = [Float](repeating: .nan, count: count), mean = [Float](repeating: .nan, count: g.channels), variance = mean
            try BatchNormKernel.forwardTraining(g, input: x, scale: scale, shift: shift, output: &y, mean: &mean, variance: &variance)
            let ref = ReferenceKernels.batchNormForward(g, input: x, scale: scale, shift: shift)
            assertClose(y, ref.output, "bn forward"); assertClose(mean, ref.mean, "bn mean"); assertClose(variance, ref.variance, "bn variance")

            var dx = [Float](repeating: .nan, count: count), dscale = [Float](repeating: .nan, count: g.channels), dshift = dscale
            try BatchNormKernel.backward(g, input: x, mean: mean, variance: variance, scale: scale, gradOutput: dy,
                                         gradInput: &dx, gradScale: &dscale, gradShift: &dshift)
            let refBack = ReferenceKernels.batchNormBackward(g, input: x, scale: scale, gradOutput: dy)
            assertClose(dx, refBack.gradInput, "bn grad input"); assertClose(dscale, refBack.gradScale, "bn grad scale")
            assertClose(dshift, refBack.gradShift, "bn grad shift")

            // Eval mode normalises with the statistics it is given, not the batch's.
            let runningMean = random(g.channels), runningVar = random(g.channels).map { abs($0) + 0.5 }
            try BatchNormKernel.forwardInference(g, input: x, scale: scale, shift: shift, mean: runningMean,
                                                 variance: runningVar, output: &y)
            let plane = g.height * g.width
            let expected = x.indices.map { i -> Float in
                let c = (i / plane) % g.channels
                return (x[i] - runningMean[c]) / (runningVar[c] + g.epsilon).squareRoot() * scale[c] + shift[c]
            }
            assertClose(y, expected, "bn eval")
        }
    }

    func testGemmMatchesLoopsForEveryTranspose() throws {
        let (m, n, k) = (3, 5, 7)
        let a = random(m * k), b = random(k * n)
        var expected = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { expected[i * n + j] += a[i * k + p] * b[p * n + j] } } }
        // Transposed copies: A^T stored (k, m), B^T stored (n, k).
        let at = (0..<(k * m)).map { a[($0 % m) * k + $0 / m] }, bt = (0..<(n * k)).map { b[($0 % k) * n + $0 / k] }
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            var c = [Float](repeating: .nan, count: m * n)
            try Gemm.multiply(transposeA: ta, transposeB: tb, m: m, n: n, k: k, a: ta ? at : a, b: tb ? bt : b, c: &c)
            assertClose(c, expected, "gemm transposeA \(ta) transposeB \(tb)")
        }
    }

    // MARK: - Activations handed over in nChw16c

    /// x[N,C,H,W] row-major -> nChw16c, written out from the layout's definition (C % 16 == 0):
    /// element (n, c, h, w) sits at (((n * C/16 + c/16) * H + h) * W + w) * 16 + c % 16.
    private func blocked(_ x: [Float], _ dims: [Int]) -> [Float] {
        let (n, c, h, w) = (dims[0], dims[1], dims[2], dims[3])
        var out = [Float](repeating: .nan, count: x.count)
        for i in 0..<n { for j in 0..<c { for y in 0..<h { for z in 0..<w {
            out[(((i * c / 16 + j / 16) * h + y) * w + z) * 16 + j % 16] = x[((i * c + j) * h + y) * w + z]
        } } } }
        return out
    }

    private func toPlain(_ x: [Float], _ dims: [Int]) throws -> [Float] {
        var out = [Float](repeating: .nan, count: x.count)
        try BlockedLayout.toPlain(dims, from: x, to: &out)
        return out
    }

    func testBlockedLayoutConversionFollowsItsDefinition() throws {
        let dims = [2, 32, 3, 5]
        let x = random(dims.reduce(1, *))
        XCTAssertEqual(try toPlain(blocked(x, dims), dims), x)
        XCTAssertTrue(BlockedLayout.isBlockable(dims))
        XCTAssertFalse(BlockedLayout.isBlockable([2, 24, 3, 5]), "channels not a multiple of 16")
        XCTAssertFalse(BlockedLayout.isBlockable([2, 32, 1, 1]), "at 1x1 the layouts are the same bytes")
    }

    /// Every pass of a 16-multiple conv and batch norm with blocked inputs and outputs allowed: the
    /// results, converted back where the kernel says it wrote nChw16c, equal the plain loops. With
    /// blocked layouts off the primitives compute in NCHW, so blocked inputs are converted for them.
    func testKernelsReadAndWriteBlockedActivations() throws {
        let saved = (KernelSettings.blockedLayouts, KernelSettings.convAlgorithm)
        defer { (KernelSettings.blockedLayouts, KernelSettings.convAlgorithm) = saved }
        for (blockedLayouts, algorithm) in [(true, ConvAlgorithm.direct), (true, .winograd), (false, .direct)] {
            (KernelSettings.blockedLayouts, KernelSettings.convAlgorithm) = (blockedLayouts, algorithm)
            for g in geometries where g.inChannels % 16 == 0 && g.outChannels % 16 == 0 {
                let what = "\(g) \(algorithm) blocked layouts \(blockedLayouts)"
                let x = random(g.inputDims.reduce(1, *)), w = random(g.weightDims.reduce(1, *))
                let dy = random(g.outputDims.reduce(1, *))
                let (xb, dyb) = (blocked(x, g.inputDims), blocked(dy, g.outputDims))
                var y = [Float](repeating: .nan, count: dy.count)
                let yBlocked = try Conv2dKernel.forward(g, input: xb, weight: w, bias: nil, output: &y, inputBlocked: true, blockedOutput: true)
                XCTAssertEqual(yBlocked, blockedLayouts, "forward output layout, \(what)")
                assertClose(yBlocked ? try toPlain(y, g.outputDims) : y, ReferenceKernels.convForward(g, input: x, weight: w, bias: nil),
                            "blocked forward \(what)")
                var dx = [Float](repeating: .nan, count: x.count)
                let dxBlocked = try Conv2dKernel.backwardData(g, gradOutput: dyb, weight: w, gradInput: &dx,
                                                              gradOutputBlocked: true, blockedGradInput: true)
                XCTAssertEqual(dxBlocked, blockedLayouts, "backward data output layout, \(what)")
                assertClose(dxBlocked ? try toPlain(dx, g.inputDims) : dx, ReferenceKernels.convBackwardData(g, gradOutput: dy, weight: w),
                            "blocked backward data \(what)")
                var dw = [Float](repeating: .nan, count: w.count)
                try Conv2dKernel.backwardWeights(g, input: xb, gradOutput: dyb, gradWeight: &dw, gradBias: nil,
                                                 inputBlocked: true, gradOutputBlocked: true)
                assertClose(dw, ReferenceKernels.convBackwardWeights(g, input: x, gradOutput: dy).weight,
                            "blocked backward weights \(what)")
                // A blocked input with a plain output asked for: the output is NCHW.
                XCTAssertFalse(try Conv2dKernel.forward(g, input: xb, weight: w, bias: nil, output: &y, inputBlocked: true))
                assertClose(y, ReferenceKernels.convForward(g, input: x, weight: w, bias: nil), "plain output \(what)")
            }
        }

        KernelSettings.blockedLayouts = true
        let g = BatchNormKernel.Geometry(batch: 3, channels: 32, height: 5, width: 5)
        let count = g.batch * g.channels * g.height * g.width
        let x = random(count).map { $0 * 3 + 0.5 }, scale = random(g.channels), shift = random(g.channels), dy = random(count)
        let ref = ReferenceKernels.batchNormForward(g, input: x, scale: scale, shift: shift)
        var y = [Float](repeating: .nan, count: count), mean = [Float](repeating: .nan, count: g.channels), variance = mean
        XCTAssertTrue(try BatchNormKernel.forwardTraining(g, input: blocked(x, g.dims), scale: scale, shift: shift, output: &y,
                                                          mean: &mean, variance: &variance, inputBlocked: true, blockedOutput: true))
        assertClose(try toPlain(y, g.dims), ref.output, "blocked bn forward")
        assertClose(mean, ref.mean, "blocked bn mean")
        var dx = y, dscale = mean, dshift = mean
        XCTAssertTrue(try BatchNormKernel.backward(g, input: blocked(x, g.dims), mean: mean, variance: variance, scale: scale,
                                                   gradOutput: blocked(dy, g.dims), gradInput: &dx, gradScale: &dscale,
                                                   gradShift: &dshift, inputBlocked: true, gradOutputBlocked: true,
                                                   blockedGradInput: true))
        let refBack = ReferenceKernels.batchNormBackward(g, input: x, scale: scale, gradOutput: dy)
        assertClose(try toPlain(dx, g.dims), refBack.gradInput, "blocked bn grad input")
        assertClose(dscale, refBack.gradScale, "blocked bn grad scale")
    }
}
