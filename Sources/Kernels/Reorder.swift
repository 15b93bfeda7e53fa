import CDNNL
import Foundation

/// oneDNN's nChw16c layout of an [N,C,H,W] activation: channels in blocks of 16, the 16 of a block
/// adjacent in memory. Convolution and batch-norm kernels may hand activations back in it (see
/// `Binding`); whoever needs NCHW converts with `toPlain`.
public enum BlockedLayout {
    private static var reorders: [[Int]: (Primitive, Memory, Memory)] = [:]
    private static let lock = NSLock()

    /// nChw16c is used only where it is the same size as NCHW and differs from it.
    public static func isBlockable(_ dims: [Int]) -> Bool {
        dims.count == 4 && dims[1] % 16 == 0 && dims[2] * dims[3] > 1
    }

    /// Writes the NCHW form of the nChw16c buffer `from` into `to` (same element count).
    public static func toPlain(_ dims: [Int], from: UnsafePointer<Float>, to: UnsafeMutablePointer<Float>) throws {
        lock.lock(); defer { lock.unlock() }
        let what = "reorder nChw16c -> NCHW \(dims)"
        if reorders[dims] == nil {
            var blocked = try plainDescriptor(dims, dnnl_nChw16c), plain = try plainDescriptor(dims, dnnl_nchw)
            let engine = Engine.shared.engine
            var rpd: dnnl_primitive_desc_t?
            try check(dnnl_reorder_primitive_desc_create(&rpd, &blocked, engine, &plain, engine, nil), what)
            defer { dnnl_primitive_desc_destroy(rpd) }
            var r: dnnl_primitive_t?
            try check(dnnl_primitive_create(&r, rpd), what)
            reorders[dims] = (Primitive(owning: r!), try Memory(blocked, allocate: false, what: what),
                              try Memory(plain, allocate: false, what: what))
        }
        guard let (reorder, source, destination) = reorders[dims] else { return }
        try source.bind(UnsafeMutableRawPointer(mutating: from), what: what)
        try destination.bind(UnsafeMutableRawPointer(to), what: what)
        let args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: source.handle),
                    dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: destination.handle)]
        try check(dnnl_primitive_execute(reorder.handle, Engine.shared.stream, 2, args), what)
        try check(dnnl_stream_wait(Engine.shared.stream), what)
    }
}
