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

/// The CPU engine and the stream primitives run on. oneDNN parallelises each primitive internally
/// (OpenMP, OMP_NUM_THREADS), so one in-order stream is all we need, except where we split a
/// pass over threads ourselves (bf16 weight gradients): each thread then runs its part on a
/// stream of its own (`stream(slot:)`), as oneDNN streams are not thread-safe.
final class Engine {
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    private var extraStreams: [dnnl_stream_t] = []
    private let lock = NSLock()
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

    /// The stream of thread slot `slot` (0: `stream`); made on first use, before threads fan out.
    func stream(slot: Int) throws -> dnnl_stream_t {
        guard slot > 0 else { return stream }
        lock.lock(); defer { lock.unlock() }
        while extraStreams.count < slot {
            var s: dnnl_stream_t?
            try check(dnnl_stream_create(&s, engine, dnnl_stream_default_flags.rawValue), "dnnl_stream_create")
            extraStreams.append(s!)
        }
        return extraStreams[slot - 1]
    }

    deinit {
        for s in extraStreams { dnnl_stream_destroy(s) }
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

/// A read-only caller buffer as oneDNN's untyped execution argument.
func raw(_ p: UnsafePointer<Float>) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(mutating: p) }

/// A plain (row-major) memory descriptor: `nchw`, `oihw`, `iohw`, `nc`, `x`.
func plainDescriptor(_ dims: [Int], _ tag: dnnl_format_tag_t, _ type: dnnl_data_type_t = dnnl_f32) throws -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    let d = dims.map { Int64($0) }
    try check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, type, tag), "memory_desc_init \(dims)")
    return md
}

/// How one execution argument is wired: the caller's buffer, and, when the primitive prefers
/// another layout (blocked, Winograd), an internal buffer plus the reorder between them.
///
/// An activation (source, destination or their gradients; 4-D, channels a multiple of 16, more
/// than one pixel) may also arrive or leave in oneDNN's nChw16c layout, the one its AVX-512
/// kernels compute in: such a buffer is the same size, is bound directly when the primitive wants
/// nChw16c, and saves the reorder at this edge and at the neighbouring primitive's.
struct Binding {
    let arg: Int32
    let isOutput: Bool
    /// The caller's buffer as NCHW (or as the plain layout of a weight or statistic).
    let user: Memory
    /// The caller's buffer as nChw16c; nil where the argument cannot be blocked.
    let blockedUser: Memory?
    /// The layout the primitive wants, in the shared workspace at `innerOffset`; nil when it wants
    /// the plain layout and no blocked caller buffer must be converted for it.
    let inner: Memory?
    let innerOffset: Int
    /// plain <-> inner (direction by `isOutput`); nil when inner is the plain layout.
    let reorder: Primitive?
    /// nChw16c -> inner, for a blocked input where the primitive wants another layout.
    let blockedReorder: Primitive?
    /// The primitive wants exactly nChw16c: a blocked caller buffer is bound as is.
    let wantsBlocked: Bool
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
    let workspaceBytes: Int

    /// `arguments`: (DNNL_ARG_*, plain descriptor of the caller's buffer, is it written).
    init(_ descriptor: PrimitiveDescriptor, arguments: [(Int32, dnnl_memory_desc_t, Bool)], what: String) throws {
        self.descriptor = descriptor
        self.what = what
        primitive = try Primitive(descriptor, what: what)
        var bindings: [Binding] = []
        var offset = 0
        func reorder(_ from: inout dnnl_memory_desc_t, _ to: inout dnnl_memory_desc_t) throws -> Primitive {
            let engine = Engine.shared.engine
            var rpd: dnnl_primitive_desc_t?
            try check(dnnl_reorder_primitive_desc_create(&rpd, &from, engine, &to, engine, nil), "reorder \(what)")
            defer { dnnl_primitive_desc_destroy(rpd) }
            var r: dnnl_primitive_t?
            try check(dnnl_primitive_create(&r, rpd), "reorder \(what)")
            return Primitive(owning: r!)
        }
        for (arg, plainMD, isOutput) in arguments {
            var plain = plainMD
            let user = try Memory(plain, allocate: false, what: what)
            var blocked = try Plan.blockedDescriptor(arg: arg, plain)
            let blockedUser = try blocked.map { try Memory($0, allocate: false, what: what) }
            guard var wanted = descriptor.memoryDescriptor(arg: arg) else {
                bindings.append(Binding(arg: arg, isOutput: isOutput, user: user, blockedUser: nil, inner: nil, innerOffset: 0,
                                        reorder: nil, blockedReorder: nil, wantsBlocked: false))
                continue
            }
            let wantsPlain = dnnl_memory_desc_equal(&wanted, &plain) != 0
            let wantsBlocked = blocked.map { var b = $0; return dnnl_memory_desc_equal(&wanted, &b) != 0 } ?? false
            // A workspace copy in the wanted layout, unless the caller's buffer can always be bound:
            // owning it would keep a copy of every activation shape alive (gigabytes at training sizes).
            let needsInner = !wantsPlain || (blocked != nil && !wantsBlocked && !isOutput)
            let inner = needsInner ? try Memory(wanted, allocate: false, what: what) : nil
            let innerOffset = offset
            if needsInner { offset += alignedSize(&wanted) }
            let toOrFrom = wantsPlain ? nil : (isOutput ? try reorder(&wanted, &plain) : try reorder(&plain, &wanted))
            let fromBlocked = (blocked != nil && !wantsBlocked && !isOutput) ? try reorder(&blocked!, &wanted) : nil
            bindings.append(Binding(arg: arg, isOutput: isOutput, user: user, blockedUser: blockedUser, inner: inner,
                                    innerOffset: innerOffset, reorder: toOrFrom, blockedReorder: fromBlocked,
                                    wantsBlocked: wantsBlocked))
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

    /// nChw16c for an activation argument whose plain layout is NCHW of blockable dims.
    private static func blockedDescriptor(arg: Int32, _ plain: dnnl_memory_desc_t) throws -> dnnl_memory_desc_t? {
        guard [DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_DST].contains(arg), plain.ndims == 4 else { return nil }
        let dims = (0..<4).map { i in Int(withUnsafeBytes(of: plain.dims) { $0.load(fromByteOffset: i * 8, as: Int64.self) }) }
        guard BlockedLayout.isBlockable(dims) else { return nil }
        var nchw = try plainDescriptor(dims, dnnl_nchw), given = plain
        guard dnnl_memory_desc_equal(&nchw, &given) != 0 else { return nil }
        return try plainDescriptor(dims, dnnl_nChw16c)
    }

    /// Bytes of the primitive's own scratchpad (without the blocked copies).
    var scratchpadBytes: Int { workspaceBytes - scratchpadOffset }

    /// Runs the primitive on the caller's buffers, given in the order of `arguments`. `blocked[i]`:
    /// for an input, buffer i holds nChw16c; for an output, the caller accepts nChw16c there.
    /// Returns, per argument, whether the buffer was written (outputs) or read (inputs) as nChw16c.
    /// Plans that run at the same time on several threads each need their own `workspace` (of
    /// `workspaceBytes`) and `stream`; by default the shared ones.
    @discardableResult
    func execute(_ buffers: [UnsafeMutableRawPointer], blocked: [Bool]? = nil,
                 workspace: UnsafeMutableRawPointer? = nil, stream: dnnl_stream_t? = nil) throws -> [Bool] {
        precondition(buffers.count == bindings.count, "internal: \(what) bound with the wrong argument count")
        let stream = stream ?? Engine.shared.stream
        var args: [dnnl_exec_arg_t] = []
        args.reserveCapacity(bindings.count + 1)
        var usedBlocked = [Bool](repeating: false, count: bindings.count)
        let workspace = workspace ?? Workspace.shared.buffer(bytes: workspaceBytes)
        for (i, (binding, buffer)) in zip(bindings, buffers).enumerated() {
            let isBlocked = blocked?[i] == true && binding.blockedUser != nil
            if let inner = binding.inner { try inner.bind(workspace + binding.innerOffset, what: what) }
            let memory: Memory
            if isBlocked, let blockedUser = binding.blockedUser, binding.wantsBlocked || !binding.isOutput {
                try blockedUser.bind(buffer, what: what)
                usedBlocked[i] = true
                if binding.wantsBlocked {
                    memory = blockedUser
                } else {
                    // An input blocked for some other primitive: convert it to what this one wants.
                    guard let inner = binding.inner, let convert = binding.blockedReorder else {
                        preconditionFailure("internal: \(what) has no conversion for a blocked input")
                    }
                    try runReorder(convert, from: blockedUser, to: inner, on: stream)
                    memory = inner
                }
            } else {
                if blocked?[i] == true && !binding.isOutput {
                    preconditionFailure("internal: \(what) was given a blocked buffer it cannot read")
                }
                try binding.user.bind(buffer, what: what)
                if let inner = binding.inner, let reorder = binding.reorder {
                    if !binding.isOutput { try runReorder(reorder, from: binding.user, to: inner, on: stream) }
                    memory = inner
                } else {
                    memory = binding.user
                }
            }
            args.append(dnnl_exec_arg_t(arg: binding.arg, memory: memory.handle))
        }
        if let scratchpad {
            try scratchpad.bind(workspace + scratchpadOffset, what: what)
            args.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratchpad.handle))
        }
        try check(dnnl_primitive_execute(primitive.handle, stream, Int32(args.count), args), "execute \(what)")
        for (i, binding) in bindings.enumerated() where binding.isOutput && !usedBlocked[i] {
            if let inner = binding.inner, let reorder = binding.reorder {
                try runReorder(reorder, from: inner, to: binding.user, on: stream)
            }
        }
        try check(dnnl_stream_wait(stream), what)
        return usedBlocked
    }

    private func runReorder(_ reorder: Primitive, from: Memory, to: Memory, on stream: dnnl_stream_t) throws {
        let args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: from.handle),
                    dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: to.handle)]
        try check(dnnl_primitive_execute(reorder.handle, stream, 2, args), "reorder \(what)")
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
