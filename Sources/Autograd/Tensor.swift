import Foundation
import Kernels

/// A shape mismatch, reported by the op that received it, with both shapes.
public struct ShapeError: Error, CustomStringConvertible {
    public let op: String
    public let message: String
    public init(_ op: String, _ message: String) { self.op = op; self.message = message }
    public var description: String { "\(op): \(message)" }
}

/// A 64-byte-aligned Float32 buffer. Reshaped tensors share it; only optimizers and running
/// statistics write into an existing storage, every op writes a fresh one.
///
/// A convolution or batch norm may leave its output in oneDNN's nChw16c layout (`blockedDims`), so
/// that the next kernel reads it without a reorder; the first read through `pointer` converts it
/// to row-major for good. Conversion happens on the calling thread: ops take `pointer` before they
/// fan out over cores.
public final class Storage {
    /// The buffer: row-major, or nChw16c of `blockedDims` while that is set.
    private(set) var data: UnsafeMutablePointer<Float>
    public let count: Int
    /// The [N,C,H,W] whose nChw16c layout `data` holds; nil when row-major.
    private(set) var blockedDims: [Int]?

    public init(count: Int) {
        self.count = count
        data = BufferPool.take(count)
    }

    public convenience init(repeating value: Float, count: Int) {
        self.init(count: count)
        data.initialize(repeating: value, count: count)
    }

    /// The row-major values (converted from the blocked layout on first use).
    public var pointer: UnsafeMutablePointer<Float> {
        if blockedDims != nil { convertToRowMajor() }
        return data
    }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }

    /// Records that a kernel wrote `data` in the nChw16c layout of `dims`.
    func markBlocked(_ dims: [Int]) {
        precondition(dims.reduce(1, *) == count, "internal: blocked dims \(dims) for \(count) values")
        blockedDims = dims
    }

    private func convertToRowMajor() {
        guard let dims = blockedDims else { return }
        let rowMajor = BufferPool.take(count)
        do {
            try BlockedLayout.toPlain(dims, from: data, to: rowMajor)
        } catch {
            // Only shapes a kernel itself produced get here; a failure is a broken oneDNN install.
            preconditionFailure("cannot convert a blocked activation \(dims) to row-major: \(error)")
        }
        BufferPool.give(data, count)
        data = rowMajor
        blockedDims = nil
    }

    deinit { BufferPool.give(data, count) }
}

/// Freed buffers kept by exact size for the next allocation of that size. A training iteration
/// allocates the same shapes every time; without reuse, every large buffer is a fresh mmap whose
/// pages the kernel must fault in and zero (a quarter of a Stage-I iteration's time, measured with
/// perf). The pool holds at most `limitBytes` of idle buffers.
public enum BufferPool {
    private static var idle: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private static var idleBytes = 0
    private static var liveBytes = 0
    /// The most bytes tensors held at once (benchmarks report it).
    public private(set) static var peakLiveBytes = 0
    private static let lock = NSLock()
    /// Idle bytes kept for reuse; beyond this, freed buffers go back to the system.
    public static var limitBytes = 4 << 30

    static func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let capacity = max(count, 1)
        lock.lock()
        liveBytes += capacity * 4
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        if let reused = idle[capacity]?.popLast() {
            idleBytes -= capacity * 4
            lock.unlock()
            return reused
        }
        lock.unlock()
        return UnsafeMutableRawPointer.allocate(byteCount: capacity * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: capacity)
    }

    static func give(_ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
        let capacity = max(count, 1)
        lock.lock()
        liveBytes -= capacity * 4
        if idleBytes + capacity * 4 <= limitBytes {
            idle[capacity, default: []].append(pointer)
            idleBytes += capacity * 4
            lock.unlock()
        } else {
            lock.unlock()
            pointer.deallocate()
        }
    }
}

/// An n-dimensional Float32 tensor, row-major; images are NCHW. A tensor made by an op while
/// gradients are recorded remembers the op (`node`) so that `backward()` can reach its inputs.
public final class Tensor {
    public let shape: [Int]
    public let storage: Storage
    /// Leaves with `requiresGrad` receive `grad` from `backward()`; op results inherit it.
    public var requiresGrad: Bool
    /// Accumulated gradient of a leaf (same shape); `nil` until a backward pass reaches it.
    public var grad: Tensor?
    var node: Node?

    public var count: Int { storage.count }
    public var rank: Int { shape.count }
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer }
    public var scalars: [Float] { Array(storage.buffer) }

    init(shape: [Int], storage: Storage, requiresGrad: Bool = false) {
        self.shape = shape
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// A tensor of the given shape holding `scalars` in row-major order.
    public convenience init(shape: [Int], scalars: [Float], requiresGrad: Bool = false) throws {
        let count = shape.reduce(1, *)
        guard scalars.count == count, shape.allSatisfy({ $0 >= 0 }) else {
            throw ShapeError("Tensor", "\(scalars.count) values do not fill shape \(shape)")
        }
        let storage = Storage(count: count)
        scalars.withUnsafeBufferPointer { if let base = $0.baseAddress { storage.pointer.update(from: base, count: count) } }
        self.init(shape: shape, storage: storage, requiresGrad: requiresGrad)
    }

    /// A tensor of `shape` filled with `value`.
    public convenience init(repeating value: Float, shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, storage: Storage(repeating: value, count: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    /// Uninitialised output of an op; the op writes every element.
    static func uninitialized(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: Storage(count: shape.reduce(1, *)))
    }

    /// The single value of a one-element tensor (a loss).
    public var item: Float { storage.pointer[0] }

    /// This tensor's buffer as a kernel argument: nChw16c when a kernel left it so (kernels read
    /// that layout where `BlockedLayout.isBlockable(shape)`), else row-major.
    var kernelArgument: (pointer: UnsafeMutablePointer<Float>, blocked: Bool) {
        storage.blockedDims == shape ? (storage.data, true) : (pointer, false)
    }

    /// Whether an elementwise op producing this shape from `storages` can run on their raw buffers:
    /// all hold the nChw16c layout of `shape`, so element i means the same position in each.
    func allBlocked(_ storages: Storage...) -> Bool {
        storages.allSatisfy { $0.blockedDims == shape }
    }

    /// The same values in a new tensor that is cut from the graph (for detached fakes, EMA).
    public func detached() -> Tensor {
        let copy = Tensor.uninitialized(shape)
        copy.pointer.update(from: pointer, count: count)
        return copy
    }

    /// A copy that is a leaf requiring a gradient (PyTorch's `x.detach().requires_grad_()`): an
    /// input to differentiate w.r.t. with `gradients(of:withRespectTo:)`.
    public func detachedRequiringGradient() -> Tensor {
        let copy = detached()
        copy.requiresGrad = true
        return copy
    }

    /// Overwrites this tensor's values (optimizers, loading checkpoints).
    public func assign(_ values: UnsafeBufferPointer<Float>) throws {
        guard values.count == count else { throw ShapeError("assign", "\(values.count) values for shape \(shape)") }
        if let base = values.baseAddress { pointer.update(from: base, count: count) }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(shown)\(count > 8 ? ", ..." : "")]"
    }
}
