import CDNNL
import Foundation

// Shape letters: N batch, C input channels, H x W input size, O output channels,
// KH x KW kernel, P x Q output size. Buffers are plain row-major: input NCHW, weight OCKhKw
// (PyTorch's Conv2d layout), output NOPQ.

/// The geometry of one 2-D convolution; also the cache key of its primitives.
public struct ConvGeometry: Hashable, CustomStringConvertible {
    public var batch, inChannels, height, width: Int
    public var outChannels, kernelHeight, kernelWidth: Int
    public var strideHeight, strideWidth, padHeight, padWidth: Int

    public init(batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int,
                kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0)) {
        self.batch = batch; self.inChannels = inChannels; self.height = height; self.width = width
        self.outChannels = outChannels
        kernelHeight = kernel.0; kernelWidth = kernel.1
        strideHeight = stride.0; strideWidth = stride.1
        padHeight = padding.0; padWidth = padding.1
    }

    public var outHeight: Int { (height + 2 * padHeight - kernelHeight) / strideHeight + 1 }
    public var outWidth: Int { (width + 2 * padWidth - kernelWidth) / strideWidth + 1 }
    public var inputDims: [Int] { [batch, inChannels, height, width] }
    public var weightDims: [Int] { [outChannels, inChannels, kernelHeight, kernelWidth] }
    public var outputDims: [Int] { [batch, outChannels, outHeight, outWidth] }
    /// Multiply-adds x 2 of one forward pass (backward data and backward weights cost the same).
    public var flops: Double {
        2 * Double(batch * outChannels * outHeight * outWidth) * Double(inChannels * kernelHeight * kernelWidth)
    }
    public var description: String {
        "conv \(inChannels)->\(outChannels) \(height)x\(width) k\(kernelHeight)x\(kernelWidth) s\(strideHeight) p\(padHeight) batch \(batch)"
    }
    /// The forward convolution whose output is this one's input gradient (gradOutput as input,
    /// `flippedTransposedWeight` as weight), for stride-1 convs with fewer than 16 output channels:
    /// oneDNN 2.6's backward-data kernel vectorises over those few channels (the generator's last
    /// conv, 8->3 at 64x64, batch 32: about 15 ms a call, 4 GFLOP/s), while its forward kernels
    /// handle few input channels well (first-layer shapes). Nil where that does not apply.
    var backwardDataAsForward: ConvGeometry? {
        guard strideHeight == 1, strideWidth == 1, outChannels < 16, inChannels > outChannels,
              padHeight < kernelHeight, padWidth < kernelWidth else { return nil }
        return ConvGeometry(batch: batch, inChannels: outChannels, height: outHeight, width: outWidth, outChannels: inChannels,
                            kernel: (kernelHeight, kernelWidth), padding: (kernelHeight - 1 - padHeight, kernelWidth - 1 - padWidth))
    }

    var isWinogradCandidate: Bool {
        // oneDNN's Winograd kernels work on blocks of 16 channels: with 3 (an RGB input or output)
        // most of the work is padding and its scratchpad is hundreds of MB at 256x256.
        kernelHeight == 3 && kernelWidth == 3 && strideHeight == 1 && strideWidth == 1
            && min(inChannels, outChannels) >= 16
    }

    /// Whether fp32 Winograd beats bf16 direct on this Winograd candidate. oneDNN has no bf16
    /// Winograd; its fp32 one does about 2.25x fewer multiply-adds, bf16 runs them 2x faster
    /// (AVX512-BF16), so which wins depends on how well Winograd's transformed-domain products
    /// fill the vector units: on maps of 8x8 and more from min(C, O) x P x Q = 16384 up (128
    /// channels at 16x16, 256 at 8x8, 64 at 32x32); not on smaller layers, nor on 4x4 maps (one
    /// 4x4 tile, 512 and 640 channels: bf16 1.1-1.2x faster), on one thread on AMD Zen 4
    /// (docs/performance.md).
    var winogradBeatsBF16: Bool {
        outHeight * outWidth >= 64 && min(inChannels, outChannels) * outHeight * outWidth >= 16384
    }

    /// This geometry with `batch` examples (a part of the batch).
    func withBatch(_ batch: Int) -> ConvGeometry {
        var g = self
        g.batch = batch
        return g
    }
}

/// Which convolution algorithm oneDNN is asked for. `winograd` applies to 3x3 stride-1 convs and
/// falls back to direct where oneDNN has no Winograd implementation for the shape.
public enum ConvAlgorithm: String, CaseIterable, Sendable {
    case direct, winograd
}

/// Process-wide kernel choices. Benchmarks flip them; training reads them when a shape is first seen.
public enum KernelSettings {
    /// Let oneDNN pick blocked layouts inside a primitive (reordering at its edges) instead of
    /// running on plain NCHW. Measured faster for the StackGAN shapes (see docs/performance.md).
    public static var blockedLayouts = true
    public static var convAlgorithm: ConvAlgorithm = .winograd
    /// A Winograd pass whose scratchpad would exceed this uses the direct algorithm instead. The
    /// weight gradient of Stage-II's 2048->1024 conv at 4x4 asks for 878 MiB (per-thread copies of
    /// transformed weights) for no speed gain on a 4x4 map; every primitive shares one workspace,
    /// so the largest request is resident for the whole run. Stage-I's 1024->512 at 8x8 asks for
    /// ~320 MiB and runs 2.5x faster than direct (34 vs 86 ms per iteration), hence 512 MiB.
    public static var winogradScratchpadLimit = 512 << 20
    /// Let convolutions and batch norms hand activations to each other in nChw16c (see `Binding`)
    /// instead of reordering to NCHW and back at every edge. Off gives the same numbers, slower.
    public static var blockedActivations = true
    /// Set through `use(_:)`, which refuses bf16 on a CPU without bf16 instructions.
    public internal(set) static var precision: Precision = .fp32
}

/// Floating-point work done by the kernels (convolutions and matrix multiplies, 2 x multiply-adds),
/// so benchmarks can report achieved GFLOP/s. Winograd convs count their direct-conv FLOPs.
public enum KernelStatistics {
    public static var flops: Double = 0
    /// Size of the one workspace shared by all primitives (scratchpads and blocked copies).
    public internal(set) static var workspaceBytes = 0
}

/// 2-D convolution (cross-correlation, as PyTorch's Conv2d) through oneDNN.
public enum Conv2dKernel {
    private struct Key: Hashable {
        let geometry: ConvGeometry
        let pass: Int  // 0 forward, 1 backward data, 2 backward weights
        let bias: Bool
        let algorithm: ConvAlgorithm
        let blocked: Bool
        let precision: Precision
        /// The thread slot of a one-thread part of a bf16 weight gradient (`bf16BackwardWeights`).
        let slot: Int?
    }
    private static var plans: [Key: Plan] = [:]
    /// One-thread bf16 weight-gradient plans by part; nil where oneDNN has no JIT kernel for it.
    private static var partPlans: [Key: Plan?] = [:]
    private static var forwardDescriptors: [Key: PrimitiveDescriptor] = [:]
    private static let lock = NSLock()

    // Activation arguments may be nChw16c (see `Binding`): `...Blocked` says an input is, and
    // `blockedOutput` allows the output to be; the result says whether it was.

    /// output[N,O,P,Q] = sum_{c,kh,kw} input[N,c,P*s+kh-p,Q*s+kw-p] * weight[O,c,kh,kw] + bias[O]
    @discardableResult
    public static func forward(_ g: ConvGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                               inputBlocked: Bool = false, blockedOutput: Bool = false) throws -> Bool {
        let plan = try self.plan(g, pass: 0, bias: bias != nil)
        var buffers = [raw(input), raw(weight)], blocked = [inputBlocked, false]
        if let bias { buffers.append(raw(bias)); blocked.append(false) }
        buffers.append(UnsafeMutableRawPointer(output)); blocked.append(blockedOutput)
        let used = try plan.execute(buffers, blocked: blocked)
        KernelStatistics.flops += g.flops
        return used.last == true
    }

    /// gradInput = d(loss)/d(input) given gradOutput (overwrites gradInput).
    @discardableResult
    public static func backwardData(_ g: ConvGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                    gradInput: UnsafeMutablePointer<Float>,
                                    gradOutputBlocked: Bool = false, blockedGradInput: Bool = false) throws -> Bool {
        if let t = g.backwardDataAsForward {
            let flipped = flippedTransposedWeight(g, weight)
            return try forward(t, input: gradOutput, weight: flipped, bias: nil, output: gradInput,
                               inputBlocked: gradOutputBlocked, blockedOutput: blockedGradInput)
        }
        let plan = try self.plan(g, pass: 1, bias: false)
        let used = try plan.execute([raw(gradOutput), raw(weight), UnsafeMutableRawPointer(gradInput)],
                                    blocked: [gradOutputBlocked, false, blockedGradInput])
        KernelStatistics.flops += g.flops
        return used[2]
    }

    /// W'[c, o, KH-1-i, KW-1-j] = W[o, c, i, j]: the weight of `backwardDataAsForward`.
    private static func flippedTransposedWeight(_ g: ConvGeometry, _ weight: UnsafePointer<Float>) -> [Float] {
        let (o, c, kh, kw) = (g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth)
        var flipped = [Float](repeating: 0, count: o * c * kh * kw)
        for oc in 0..<o { for ic in 0..<c { for i in 0..<kh { for j in 0..<kw {
            flipped[((ic * o + oc) * kh + kh - 1 - i) * kw + kw - 1 - j] = weight[((oc * c + ic) * kh + i) * kw + j]
        } } } }
        return flipped
    }

    /// gradWeight (and gradBias when given) from the input and gradOutput (overwrites them).
    public static func backwardWeights(_ g: ConvGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                       gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?,
                                       inputBlocked: Bool = false, gradOutputBlocked: Bool = false) throws {
        if arithmetic(g).precision == .bf16,
           try bf16BackwardWeights(g, input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias,
                                   inputBlocked: inputBlocked, gradOutputBlocked: gradOutputBlocked) {
            KernelStatistics.flops += g.flops
            return
        }
        let plan = try self.plan(g, pass: 2, bias: gradBias != nil)
        var buffers = [raw(input), raw(gradOutput), UnsafeMutableRawPointer(gradWeight)]
        if let gradBias { buffers.append(UnsafeMutableRawPointer(gradBias)) }
        var blocked = [inputBlocked, gradOutputBlocked, false]
        if gradBias != nil { blocked.append(false) }
        try plan.execute(buffers, blocked: blocked)
        KernelStatistics.flops += g.flops
    }

    /// The oneDNN implementation used for a shape's forward pass, e.g. "jit_wino_4x3:avx512_core".
    public static func implementation(_ g: ConvGeometry) throws -> String {
        try plan(g, pass: 0, bias: false).descriptor.implementation
    }

    /// The arithmetic and algorithm of a layer's passes under the current settings: in bf16, bf16
    /// direct except on the Winograd candidates where fp32 Winograd is faster (`winogradBeatsBF16`).
    static func arithmetic(_ g: ConvGeometry) -> (precision: Precision, algorithm: ConvAlgorithm) {
        let winograd = g.isWinogradCandidate && KernelSettings.convAlgorithm == .winograd
        if KernelSettings.precision == .bf16 && !(winograd && g.winogradBeatsBF16) { return (.bf16, .direct) }
        return (.fp32, winograd ? .winograd : .direct)
    }

    /// The precision `backwardWeights` computes a layer's weight gradient in: fp32 where the layer
    /// runs fp32 or where oneDNN has no JIT bf16 weight-gradient kernel for the shape (its gemm
    /// fallback ran 7x slower than fp32 on the 8->3 64x64 conv).
    public static func weightGradientPrecision(_ g: ConvGeometry) throws -> Precision {
        guard arithmetic(g).precision == .bf16 else { return .fp32 }
        return try weightGradientParts(g).enumerated().allSatisfy { slot, rows in
            try partPlan(g.withBatch(rows.count), slot: slot, bias: false) != nil
        } ? .bf16 : .fp32
    }

    /// The plan of one pass on all threads. Weight gradients here are fp32: bf16 ones run as
    /// one-thread parts (`bf16BackwardWeights`).
    private static func plan(_ g: ConvGeometry, pass: Int, bias: Bool) throws -> Plan {
        var (precision, algorithm) = arithmetic(g)
        if pass == 2 && precision == .bf16 {
            (precision, algorithm) = (.fp32, g.isWinogradCandidate ? KernelSettings.convAlgorithm : .direct)
        }
        let key = Key(geometry: g, pass: pass, bias: bias, algorithm: algorithm, blocked: KernelSettings.blockedLayouts,
                      precision: precision, slot: nil)
        lock.lock(); defer { lock.unlock() }
        if let plan = plans[key] { return plan }
        // Where Winograd cannot run, direct: in bf16 when that is the setting (weight gradients: fp32).
        let direct = Key(geometry: g, pass: pass, bias: bias, algorithm: .direct, blocked: key.blocked,
                         precision: pass == 2 ? .fp32 : KernelSettings.precision, slot: nil)
        var plan: Plan
        do {
            plan = try makePlan(key)
            if algorithm == .winograd && plan.scratchpadBytes > KernelSettings.winogradScratchpadLimit {
                plan = try makePlan(direct)
            }
        } catch let error as KernelError where algorithm == .winograd && error.status.hasPrefix("unimplemented") {
            // No Winograd kernel for this shape on this CPU: direct is always available.
            plan = try makePlan(direct)
        }
        plans[key] = plan
        return plan
    }

    /// The parts of the batch that `bf16BackwardWeights` gives its threads: one per thread, at
    /// most one per example.
    static func weightGradientParts(_ g: ConvGeometry) -> [Range<Int>] {
        let parts = max(1, min(parallelThreads, g.batch))
        return (0..<parts).map { i in (i * g.batch / parts)..<((i + 1) * g.batch / parts) }
    }

    /// The weight gradient in bf16 (bf16 input and output gradient, fp32 accumulation and result),
    /// or false where oneDNN has no JIT bf16 kernel for the shape (the caller computes it in fp32).
    ///
    /// oneDNN 2.6's bf16 weight-gradient kernel on several threads meets them at spinning
    /// barriers: on 2 shared cores a call that takes 0.5 ms alone took 5-800 ms whenever the
    /// partner thread was descheduled (D's 16->32 conv at batch 32), the "5-50x slower" that kept
    /// weight gradients fp32 until now. On one thread it runs 1.2-2.5x faster than fp32. So each
    /// OpenMP thread runs a one-thread primitive on its part of the batch (`weightGradientParts`),
    /// on its own stream and workspace, and the parts' fp32 gradients are summed in slot order.
    private static func bf16BackwardWeights(_ g: ConvGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                            gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?,
                                            inputBlocked: Bool, gradOutputBlocked: Bool) throws -> Bool {
        let parts = weightGradientParts(g)
        var plans: [Plan] = []
        for (slot, rows) in parts.enumerated() {
            guard let plan = try partPlan(g.withBatch(rows.count), slot: slot, bias: gradBias != nil) else { return false }
            plans.append(plan)
        }
        // Workspace: each part's, then the gradients of parts 1... (part 0 writes the caller's).
        let weights = g.weightDims.reduce(1, *), gradients = (weights + (gradBias == nil ? 0 : g.outChannels) + 15) / 16 * 16
        var offsets: [Int] = [], total = 0
        for plan in plans { offsets.append(total); total += (plan.workspaceBytes + 63) / 64 * 64 }
        let partialsOffset = total
        total += (parts.count - 1) * gradients * MemoryLayout<Float>.stride
        let workspace = Workspace.shared.buffer(bytes: total)
        let partials = (workspace + partialsOffset).bindMemory(to: Float.self, capacity: (parts.count - 1) * gradients)
        let streams = try parts.indices.map { try Engine.shared.stream(slot: $0) }
        let (inputPlane, outputPlane) = (g.inputDims.dropFirst().reduce(1, *), g.outputDims.dropFirst().reduce(1, *))

        func run(_ slot: Int) throws {
            let rows = parts[slot]
            let weight = slot == 0 ? gradWeight : partials + (slot - 1) * gradients
            var buffers = [raw(input + rows.lowerBound * inputPlane), raw(gradOutput + rows.lowerBound * outputPlane),
                           UnsafeMutableRawPointer(weight)]
            var blocked = [inputBlocked, gradOutputBlocked, false]
            if let gradBias {
                buffers.append(UnsafeMutableRawPointer(slot == 0 ? gradBias : weight + weights))
                blocked.append(false)
            }
            try plans[slot].execute(buffers, blocked: blocked, workspace: workspace + offsets[slot], stream: streams[slot])
        }
        if parts.count == 1 {
            try run(0)
            return true
        }
        let failure = FirstError()
        parallelFor(parts.count) { slot in
            do { try run(slot) } catch { failure.record(error) }
        }
        if let error = failure.error { throw error }
        for slot in 1..<parts.count {
            let partial = partials + (slot - 1) * gradients
            for i in 0..<weights { gradWeight[i] += partial[i] }
            if let gradBias { for o in 0..<g.outChannels { gradBias[o] += partial[weights + o] } }
        }
        return true
    }

    /// The one-thread bf16 weight-gradient plan of a part of the batch run in thread slot `slot`;
    /// nil (remembered) where oneDNN would fall back to a gemm or reference implementation.
    private static func partPlan(_ g: ConvGeometry, slot: Int, bias: Bool) throws -> Plan? {
        let key = Key(geometry: g, pass: 2, bias: bias, algorithm: .direct, blocked: KernelSettings.blockedLayouts,
                      precision: .bf16, slot: slot)
        lock.lock(); defer { lock.unlock() }
        if let plan = partPlans[key] { return plan }
        // oneDNN fixes a primitive's thread count when it creates it.
        let threads = omp_get_max_threads()
        omp_set_num_threads(1)
        defer { omp_set_num_threads(threads) }
        let plan = try makePlan(key)
        let name = plan.descriptor.implementation
        let usable = !(name.contains("gemm") || name.hasPrefix("ref"))
        partPlans[key] = usable ? plan : nil
        return usable ? plan : nil
    }

    private static func makePlan(_ key: Key) throws -> Plan {
        let g = key.geometry
        let what = "\(["forward", "backward data", "backward weights"][key.pass]) of \(g) in \(key.precision.rawValue)"
        let src = try plainDescriptor(g.inputDims, dnnl_nchw)
        let weights = try plainDescriptor(g.weightDims, dnnl_oihw)
        let dst = try plainDescriptor(g.outputDims, dnnl_nchw)
        let biasMD = try plainDescriptor([g.outChannels], dnnl_a)
        // What the primitive computes on: the caller's plain fp32 layout, or any layout oneDNN
        // prefers; in bf16 the two factors of each pass are bf16 and the result fp32 (`Precision`),
        // and `Plan` reorders (and converts) the caller's fp32 buffers to that.
        let low = key.precision == .bf16 ? dnnl_bf16 : dnnl_f32
        func operand(_ dims: [Int], _ tag: dnnl_format_tag_t, isFactor: Bool) throws -> dnnl_memory_desc_t {
            try plainDescriptor(dims, key.blocked ? dnnl_format_tag_any : tag, isFactor ? low : dnnl_f32)
        }
        var s = try operand(g.inputDims, dnnl_nchw, isFactor: key.pass != 1)
        var w = try operand(g.weightDims, dnnl_oihw, isFactor: key.pass != 2)
        var d = try operand(g.outputDims, dnnl_nchw, isFactor: key.pass != 0)
        var b = biasMD
        let strides = [Int64(g.strideHeight), Int64(g.strideWidth)]
        let pads = [Int64(g.padHeight), Int64(g.padWidth)]
        let rightPads = [Int64((g.outHeight - 1) * g.strideHeight + g.kernelHeight - g.height - g.padHeight),
                         Int64((g.outWidth - 1) * g.strideWidth + g.kernelWidth - g.width - g.padWidth)]
        let alg = key.algorithm == .winograd ? dnnl_convolution_winograd : dnnl_convolution_direct

        // Backward primitives need the forward descriptor of the same shape as a hint.
        let forwardKey = Key(geometry: g, pass: 0, bias: key.bias, algorithm: key.algorithm, blocked: key.blocked,
                             precision: key.precision, slot: key.slot)
        let forward: PrimitiveDescriptor
        if let cached = forwardDescriptors[forwardKey] {
            forward = cached
        } else {
            var desc = dnnl_convolution_desc_t()
            var fs = try operand(g.inputDims, dnnl_nchw, isFactor: true)
            var fw = try operand(g.weightDims, dnnl_oihw, isFactor: true)
            var fd = try operand(g.outputDims, dnnl_nchw, isFactor: false)
            let status = withUnsafePointer(to: &b) { bias in
                dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, alg, &fs, &fw, key.bias ? bias : nil,
                                                   &fd, strides, pads, rightPads)
            }
            try check(status, what)
            forward = try PrimitiveDescriptor(&desc, what: what)
            forwardDescriptors[forwardKey] = forward
        }
        switch key.pass {
        case 0:
            var args: [(Int32, dnnl_memory_desc_t, Bool)] = [(DNNL_ARG_SRC, src, false), (DNNL_ARG_WEIGHTS, weights, false)]
            if key.bias { args.append((DNNL_ARG_BIAS, biasMD, false)) }
            args.append((DNNL_ARG_DST, dst, true))
            return try Plan(forward, arguments: args, what: what)
        case 1:
            var desc = dnnl_convolution_desc_t()
            try check(dnnl_convolution_backward_data_desc_init(&desc, alg, &s, &w, &d, strides, pads, rightPads), what)
            let pd = try PrimitiveDescriptor(&desc, hint: forward, what: what)
            return try Plan(pd, arguments: [(DNNL_ARG_DIFF_DST, dst, false), (DNNL_ARG_WEIGHTS, weights, false),
                                            (DNNL_ARG_DIFF_SRC, src, true)], what: what)
        default:
            var desc = dnnl_convolution_desc_t()
            let status = withUnsafePointer(to: &b) { bias in
                dnnl_convolution_backward_weights_desc_init(&desc, alg, &s, &w, key.bias ? bias : nil, &d,
                                                            strides, pads, rightPads)
            }
            try check(status, what)
            let pd = try PrimitiveDescriptor(&desc, hint: forward, what: what)
            var args: [(Int32, dnnl_memory_desc_t, Bool)] = [(DNNL_ARG_SRC, src, false), (DNNL_ARG_DIFF_DST, dst, false),
                                                            (DNNL_ARG_DIFF_WEIGHTS, weights, true)]
            if key.bias { args.append((DNNL_ARG_DIFF_BIAS, biasMD, true)) }
            return try Plan(pd, arguments: args, what: what)
        }
    }
}

/// The first error thrown by the bodies of a `parallelFor`, which cannot throw themselves.
private final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var error: Error?
    func record(_ error: Error) {
        lock.lock(); defer { lock.unlock() }
        if self.error == nil { self.error = error }
    }
}
