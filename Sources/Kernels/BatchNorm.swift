import CDNNL
import Foundation

// Shape letters: N batch, C channels, H x W spatial (1 x 1 for BatchNorm1d). Buffers plain NCHW;
// scale, shift, mean and variance have C entries.

/// Batch normalisation through oneDNN. Training normalises with the batch statistics and returns
/// them (variance biased, as used for normalising); eval normalises with given running statistics.
public enum BatchNormKernel {
    public struct Geometry: Hashable {
        public var batch, channels, height, width: Int
        public var epsilon: Float
        public init(batch: Int, channels: Int, height: Int = 1, width: Int = 1, epsilon: Float = 1e-5) {
            self.batch = batch; self.channels = channels; self.height = height; self.width = width
            self.epsilon = epsilon
        }
        var dims: [Int] { [batch, channels, height, width] }
    }
    /// `layout`: the one `innerLayout` chose, so that flipping `KernelSettings.blockedLayouts`
    /// takes effect for shapes already seen, as it does for convolutions.
    private struct Key: Hashable { let geometry: Geometry; let pass: Int; let layout: UInt32 }  // pass 0 train, 1 eval, 2 backward
    private static var plans: [Key: Plan] = [:]
    private static var trainingDescriptors: [Key: PrimitiveDescriptor] = [:]
    private static let lock = NSLock()

    // `inputBlocked`/`gradOutputBlocked`: that input is nChw16c; `blockedOutput`/`blockedGradInput`:
    // the output may be, and the result says whether it is (see `Binding`).

    /// Training forward: y = scale * (x - mean_batch) / sqrt(var_batch + eps) + shift; writes mean and
    /// (biased) variance of the batch.
    @discardableResult
    public static func forwardTraining(_ g: Geometry, input: UnsafePointer<Float>, scale: UnsafePointer<Float>,
                                       shift: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                                       mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
                                       inputBlocked: Bool = false, blockedOutput: Bool = false) throws -> Bool {
        try plan(g, pass: 0).execute([raw(input), raw(scale), raw(shift), UnsafeMutableRawPointer(output),
                                      UnsafeMutableRawPointer(mean), UnsafeMutableRawPointer(variance)],
                                     blocked: [inputBlocked, false, false, blockedOutput, false, false])[3]
    }

    /// Eval forward with the given (running) mean and variance.
    @discardableResult
    public static func forwardInference(_ g: Geometry, input: UnsafePointer<Float>, scale: UnsafePointer<Float>,
                                        shift: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                        variance: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                                        inputBlocked: Bool = false, blockedOutput: Bool = false) throws -> Bool {
        try plan(g, pass: 1).execute([raw(input), raw(scale), raw(shift), raw(mean), raw(variance),
                                      UnsafeMutableRawPointer(output)],
                                     blocked: [inputBlocked, false, false, false, false, blockedOutput])[5]
    }

    /// Backward of the training forward, given the batch mean and variance it produced.
    @discardableResult
    public static func backward(_ g: Geometry, input: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                variance: UnsafePointer<Float>, scale: UnsafePointer<Float>,
                                gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>,
                                gradScale: UnsafeMutablePointer<Float>, gradShift: UnsafeMutablePointer<Float>,
                                inputBlocked: Bool = false, gradOutputBlocked: Bool = false,
                                blockedGradInput: Bool = false) throws -> Bool {
        // oneDNN 2.6 validates that a shift buffer is bound when use_shift is set, though backward never reads it.
        try plan(g, pass: 2).execute([raw(input), raw(mean), raw(variance), raw(scale), raw(scale), raw(gradOutput),
                                      UnsafeMutableRawPointer(gradInput), UnsafeMutableRawPointer(gradScale),
                                      UnsafeMutableRawPointer(gradShift)],
                                     blocked: [inputBlocked, false, false, false, false, gradOutputBlocked,
                                               blockedGradInput, false, false])[6]
    }

    private static func plan(_ g: Geometry, pass: Int) throws -> Plan {
        let key = Key(geometry: g, pass: pass, layout: innerLayout(g).rawValue)
        lock.lock(); defer { lock.unlock() }
        if let plan = plans[key] { return plan }
        // Batch norm runs on the calling thread: oneDNN's `bnorm_jit` waits for its threads at
        // spinning barriers, several per call, so when the OS takes a core away from one thread
        // (another process, our loader) the other spins out that time slice. On 2 shared cores
        // (load ~8) the main job's batch norms took 150 of the 410 ms a step spent in oneDNN on 2
        // threads, about 8 ms on one (ONEDNN_VERBOSE). The kernel fixes its thread count when it
        // is created, hence the setting around creation rather than execution.
        let threads = omp_get_max_threads()
        omp_set_num_threads(1)
        defer { omp_set_num_threads(threads) }
        let what = "batch norm \(["training", "eval", "backward"][pass]) \(g.dims)"
        var inner = try innerDescriptor(g)
        let data = try userDescriptor(g)
        let stat = try plainDescriptor([g.channels], dnnl_a)
        let flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
        var desc = dnnl_batch_normalization_desc_t()
        let plan: Plan
        switch pass {
        case 0:
            let pd = try trainingDescriptor(g, what: what)
            plan = try Plan(pd, arguments: [(DNNL_ARG_SRC, data, false), (DNNL_ARG_SCALE, stat, false),
                                             (DNNL_ARG_SHIFT, stat, false), (DNNL_ARG_DST, data, true),
                                             (DNNL_ARG_MEAN, stat, true), (DNNL_ARG_VARIANCE, stat, true)], what: what)
        case 1:
            try check(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_inference, &inner, g.epsilon,
                                                                 flags | dnnl_use_global_stats.rawValue), what)
            let pd = try PrimitiveDescriptor(&desc, what: what)
            plan = try Plan(pd, arguments: [(DNNL_ARG_SRC, data, false), (DNNL_ARG_SCALE, stat, false),
                                             (DNNL_ARG_SHIFT, stat, false), (DNNL_ARG_MEAN, stat, false),
                                             (DNNL_ARG_VARIANCE, stat, false), (DNNL_ARG_DST, data, true)], what: what)
        default:
            let hint = try trainingDescriptor(g, what: what)
            try check(dnnl_batch_normalization_backward_desc_init(&desc, dnnl_backward, &inner, &inner, g.epsilon, flags), "desc_init for \(what)")
            let pd = try PrimitiveDescriptor(&desc, hint: hint, what: what)
            plan = try Plan(pd, arguments: [(DNNL_ARG_SRC, data, false), (DNNL_ARG_MEAN, stat, false),
                                             (DNNL_ARG_VARIANCE, stat, false), (DNNL_ARG_SCALE, stat, false),
                                             (DNNL_ARG_SHIFT, stat, false), (DNNL_ARG_DIFF_DST, data, false), (DNNL_ARG_DIFF_SRC, data, true),
                                             (DNNL_ARG_DIFF_SCALE, stat, true), (DNNL_ARG_DIFF_SHIFT, stat, true)],
                            what: what)
        }
        plans[key] = plan
        return plan
    }

    private static func trainingDescriptor(_ g: Geometry, what: String) throws -> PrimitiveDescriptor {
        let key = Key(geometry: g, pass: 0, layout: innerLayout(g).rawValue)
        if let pd = trainingDescriptors[key] { return pd }
        var data = try innerDescriptor(g)
        var desc = dnnl_batch_normalization_desc_t()
        let flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
        try check(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_training, &data, g.epsilon, flags), what)
        let pd = try PrimitiveDescriptor(&desc, what: what)
        trainingDescriptors[key] = pd
        return pd
    }

    /// Whether the primitive runs on 16-channel blocks: oneDNN 2.6 has JIT batch norm only for
    /// blocked and channels-last data; on plain NCHW it runs a generic loop 6-10x slower (64x64x64x64:
    /// 14 ms forward vs 2.2 ms blocked plus 2 ms per reorder).
    private static func isBlocked(_ g: Geometry) -> Bool { KernelSettings.blockedLayouts && g.channels % 16 == 0 }

    /// The layout the primitive computes in: nChw16c where the channels fill 16-blocks, else
    /// channels-last, where oneDNN 2.6 also has a JIT kernel (`bnorm_tbb_jit`) instead of the
    /// plain-NCHW loop (the generator's last 8-channel 64x64 map at batch 32, one thread, ONEDNN_VERBOSE:
    /// forward 18 -> 1.7 ms, backward 6.6 -> 1.2 ms, plus a reorder each way).
    private static func innerLayout(_ g: Geometry) -> dnnl_format_tag_t {
        guard KernelSettings.blockedLayouts else { return dnnl_nchw }
        return isBlocked(g) ? dnnl_nChw16c : g.height * g.width > 1 ? dnnl_nhwc : dnnl_nchw
    }

    private static func innerDescriptor(_ g: Geometry) throws -> dnnl_memory_desc_t {
        try plainDescriptor(g.dims, innerLayout(g))
    }

    /// The layout of the caller's buffer: NCHW, described as nChw16c when 1x1 spatial makes the two
    /// the same bytes (BatchNorm1d), so that no reorder is made.
    private static func userDescriptor(_ g: Geometry) throws -> dnnl_memory_desc_t {
        try plainDescriptor(g.dims, isBlocked(g) && g.height * g.width == 1 ? dnnl_nChw16c : dnnl_nchw)
    }
}
