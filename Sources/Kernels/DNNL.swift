import CDNNL
import Foundation

/// A oneDNN call that returned a status other than success. The message names the call and the
/// shape it was made for, so that an unsupported configuration is traceable to the layer.
public struct KernelError: Error, CustomStringConvertible {
    public let call: String
    public let status: String
    public var description: String { "oneDNN \(call) failed: \(status)" }
}

@inline(__always)
func check(_ status: dnnl_status_t, _ call: @autoclosure () -> String) throws {
    guard status != dnnl_success else { return }
    let name: String
    switch status {
    case dnnl_out_of_memory: name = "out of memory"
    case dnnl_invalid_arguments: name = "invalid arguments"
    case dnnl_unimplemented: name = "unimplemented for this shape or layout"
    case dnnl_runtime_error: name = "runtime error"
    default: name = "status \(status.rawValue)"
    }
    throw KernelError(call: call(), status: name)
}

/// The CPU engine and the one stream every primitive runs on. oneDNN parallelises each primitive
/// internally (OpenMP, OMP_NUM_THREADS), so a single in-order stream is all we need.
final class Engine {
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    /// Primitive attributes asking for a caller-managed scratchpad (see `Scratchpad`).
    let attributes: dnnl_primitive_attr_t

    static let shared: Engine = {
        do { return try Engine() } catch {
            // Without a CPU engine nothing can run; this is a broken install, not user input.
            preconditionFailure("cannot create the oneDNN CPU engine: \(error)")
        }
    }()

    private init() throws {
        var e: dnnl_engine_t?
        try check(dnnl_engine_create(&e, dnnl_cpu, 0), "dnnl_engine_create")
        var s: dnnl_stream_t?
        try check(dnnl_stream_create(&s, e, dnnl_stream_default_flags.rawValue), "dnnl_stream_create")
        engine = e!
        stream = s!
        var a: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&a), "dnnl_primitive_attr_create")
        try check(dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user), "set_scratchpad_mode")
        attributes = a!
    }

    deinit {
        dnnl_primitive_attr_destroy(attributes)
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }
}

/// Owns a primitive descriptor.
final class PrimitiveDescriptor {
    let handle: dnnl_primitive_desc_t

    /// `opDesc` points at an op descriptor (convolution, batch norm, ...); `hint` is the forward
    /// descriptor that backward primitives must be created against.
    init(_ opDesc: UnsafeRawPointer, hint: PrimitiveDescriptor? = nil, what: String) throws {
        var pd: dnnl_primitive_desc_t?
        try check(dnnl_primitive_desc_create(&pd, opDesc, Engine.shared.attributes, Engine.shared.engine, hint?.handle), "primitive_desc_create for \(what)")
        handle = pd!
    }

    /// The memory descriptor the primitive expects for one execution argument (DNNL_ARG_*).
    func memoryDescriptor(arg: Int32) -> dnnl_memory_desc_t? {
        guard let md = dnnl_primitive_desc_query_md(handle, dnnl_query_exec_arg_md, arg) else { return nil }
        return md.pointee.ndims == 0 ? nil : md.pointee
    }

    /// The name of the implementation oneDNN picked (e.g. "jit:avx512_core"), for benchmarks.
    var implementation: String {
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(handle, dnnl_query_impl_info_str, 0, &name) == dnnl_success,
              let name else { return "?" }
        return String(cString: name)
    }

    deinit { dnnl_primitive_desc_destroy(handle) }
}

final class Primitive {
    let handle: dnnl_primitive_t
    init(owning handle: dnnl_primitive_t) { self.handle = handle }
    convenience init(_ pd: PrimitiveDescriptor, what: String) throws {
        var p: dnnl_primitive_t?
        try check(dnnl_primitive_create(&p, pd.handle), "primitive_create for \(what)")
        self.init(owning: p!)
    }
    deinit { dnnl_primitive_destroy(handle) }
}

final class Memory {
    let handle: dnnl_memory_t
    /// Memory whose buffer is supplied per call (`allocate == false`) or owned by oneDNN.
    init(_ md: dnnl_memory_desc_t, allocate: Bool, what: String) throws {
        var md = md
        var m: dnnl_memory_t?
        let buffer = allocate ? cdnnl_memory_allocate() : cdnnl_memory_none()
        try check(dnnl_memory_create(&m, &md, Engine.shared.engine, buffer), "memory_create for \(what)")
        handle = m!
    }
    func bind(_ pointer: UnsafeMutableRawPointer, what: String) throws {
        try check(dnnl_memory_set_data_handle(handle, pointer), what)
    }
    deinit { dnnl_memory_destroy(handle) }
}

/// A plain (row-major) memory descriptor: `nchw`, `oihw`, `iohw`, `nc`, `x`.
func plainDescriptor(_ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    let d = dims.map { Int64($0) }
    try check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, dnnl_f32, tag), "memory_desc_init \(dims)")
    return md
}

/// How one execution argument is wired: the caller's plain buffer, and, when the primitive
/// prefers another layout (blocked, Winograd), an internal buffer plus the reorder between them.
struct Binding {
    let arg: Int32
    let isOutput: Bool
    let user: Memory
    let inner: Memory?
    let reorder: Primitive?
    /// Where `inner` lives in the shared workspace.
    let innerOffset: Int
}

/// One primitive for one shape, with its argument wiring. Plans are created once per shape and
/// cached by the caller, because primitive creation costs milliseconds and execution microseconds.
final class Plan {
    let descriptor: PrimitiveDescriptor
    let primitive: Primitive
    private let bindings: [Binding]
    private let what: String
    private let scratchpad: Memory?
    private let scratchpadOffset: Int
    /// Bytes of shared workspace one execution needs: the blocked copies, then the scratchpad.
    private let workspaceBytes: Int

    /// `arguments`: (DNNL_ARG_*, plain descriptor of the caller's buffer, is it written).
    init(_ descriptor: PrimitiveDescriptor, arguments: [(Int32, dnnl_memory_desc_t, Bool)], what: String) throws {
        self.descriptor = descriptor
        self.what = what
        primitive = try Primitive(descriptor, what: what)
        var bindings: [Binding] = []
        var offset = 0
        for (arg, plainMD, isOutput) in arguments {
            var plain = plainMD
            let user = try Memory(plain, allocate: false, what: what)
            guard var wanted = descriptor.memoryDescriptor(arg: arg), dnnl_memory_desc_equal(&wanted, &plain) == 0 else {
                bindings.append(Binding(arg: arg, isOutput: isOutput, user: user, inner: nil, reorder: nil, innerOffset: 0))
                continue
            }
            // The blocked copy lives in the shared workspace only while this primitive runs: owning
            // it would keep a copy of every activation shape alive (gigabytes at training sizes).
            let inner = try Memory(wanted, allocate: false, what: what)
            let innerOffset = offset
            offset += alignedSize(&wanted)
            var rpd: dnnl_primitive_desc_t?
            let engine = Engine.shared.engine
            if isOutput {
                try check(dnnl_reorder_primitive_desc_create(&rpd, &wanted, engine, &plain, engine, nil), "reorder \(what)")
            } else {
                try check(dnnl_reorder_primitive_desc_create(&rpd, &plain, engine, &wanted, engine, nil), "reorder \(what)")
            }
            var r: dnnl_primitive_t?
            defer { dnnl_primitive_desc_destroy(rpd) }
            try check(dnnl_primitive_create(&r, rpd), "reorder \(what)")
            bindings.append(Binding(arg: arg, isOutput: isOutput, user: user, inner: inner, reorder: Primitive(owning: r!),
                                    innerOffset: innerOffset))
        }
        self.bindings = bindings
        scratchpadOffset = offset
        if var md = descriptor.memoryDescriptor(arg: DNNL_ARG_SCRATCHPAD) {
            offset += alignedSize(&md)
            scratchpad = try Memory(md, allocate: false, what: what)
        } else {
            scratchpad = nil
        }
        workspaceBytes = offset
    }

    /// Bytes of the primitive's own scratchpad (without the blocked copies).
    var scratchpadBytes: Int { workspaceBytes - scratchpadOffset }

    /// Runs the primitive on the caller's buffers, given in the order of `arguments`.
    func execute(_ buffers: [UnsafeMutableRawPointer]) throws {
        precondition(buffers.count == bindings.count, "internal: \(what) bound with the wrong argument count")
        let stream = Engine.shared.stream
        var args: [dnnl_exec_arg_t] = []
        args.reserveCapacity(bindings.count + 1)
        let workspace = Workspace.shared.buffer(bytes: workspaceBytes)
        for (binding, buffer) in zip(bindings, buffers) {
            try binding.user.bind(buffer, what: what)
            try binding.inner?.bind(workspace + binding.innerOffset, what: what)
            if let inner = binding.inner, let reorder = binding.reorder, !binding.isOutput {
                try runReorder(reorder, from: binding.user, to: inner)
            }
            args.append(dnnl_exec_arg_t(arg: binding.arg, memory: (binding.inner ?? binding.user).handle))
        }
        if let scratchpad {
            try scratchpad.bind(workspace + scratchpadOffset, what: what)
            args.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratchpad.handle))
        }
        try check(dnnl_primitive_execute(primitive.handle, stream, Int32(args.count), args), "execute \(what)")
        for binding in bindings where binding.isOutput {
            if let inner = binding.inner, let reorder = binding.reorder {
                try runReorder(reorder, from: inner, to: binding.user)
            }
        }
        try check(dnnl_stream_wait(stream), what)
    }

    private func runReorder(_ reorder: Primitive, from: Memory, to: Memory) throws {
        let args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: from.handle),
                    dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: to.handle)]
        try check(dnnl_primitive_execute(reorder.handle, Engine.shared.stream, 2, args), "reorder \(what)")
    }
}

/// One buffer shared by every primitive for its scratchpad and its blocked copies of arguments.
/// Primitives run one at a time on one stream, so they can share it; the library-managed default
/// keeps a scratchpad per primitive (hundreds of MB for im2col and Winograd convs at training
/// sizes). It grows to the largest request and stays.
final class Workspace {
    static let shared = Workspace()
    private var pointer: UnsafeMutableRawPointer?
    private var capacity = 0

    func buffer(bytes: Int) -> UnsafeMutableRawPointer {
        if let pointer, bytes <= capacity { return pointer }
        pointer?.deallocate()
        capacity = max(bytes, 64)
        KernelStatistics.workspaceBytes = capacity
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        pointer = fresh
        return fresh
    }
}

/// A descriptor's byte size rounded up to 64 so the next buffer after it stays aligned.
func alignedSize(_ md: inout dnnl_memory_desc_t) -> Int {
    (dnnl_memory_desc_get_size(&md) + 63) / 64 * 64
}
