import Foundation
import Kernels

/// Splits `0..<count` into one contiguous chunk per thread for elementwise loops, on the threads
/// oneDNN uses (`parallelFor`). Small tensors run inline: waking a thread costs more than a few
/// thousand multiply-adds.
public func parallelChunks(_ count: Int, minimumPerChunk: Int = 1 << 15, _ body: (Range<Int>) -> Void) {
    let chunks = min(parallelThreads, max(1, count / minimumPerChunk))
    guard chunks > 1 else { body(0..<count); return }
    let size = (count + chunks - 1) / chunks
    parallelFor(chunks) { i in
        let start = i * size
        body(start..<min(count, start + size))
    }
}

/// `vector(i)` for each whole block of 16 elements from `range.lowerBound`, `scalar(i)` for the
/// rest. For select-style loops (`x > 0 ? a : b`), which the compiler leaves as a branch per
/// element, mispredicted on half of the values, unless written with SIMD types.
@inline(__always)
public func simdLoop(_ range: Range<Int>, vector: (Int) -> Void, scalar: (Int) -> Void) {
    var i = range.lowerBound
    while i + 16 <= range.upperBound { vector(i); i += 16 }
    while i < range.upperBound { scalar(i); i += 1 }
}

/// 16 floats from `p + i`, any alignment.
@inline(__always)
public func load16(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD16<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
}

/// Stores 16 floats at `p + i`, any alignment.
@inline(__always)
public func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD16<Float>.self)
}

extension Tensor {
    /// A new tensor of the same shape with `f` applied to every element.
    func map(_ f: (Float) -> Float) -> Tensor {
        let out = Tensor.uninitialized(shape)
        let (src, dst) = (pointer, out.pointer)
        parallelChunks(count) { range in for i in range { dst[i] = f(src[i]) } }
        return out
    }

    /// A new tensor with `f` applied 16 elements at a time (the tail through lane 0 of a splat), for
    /// functions written on 16 lanes (`tanh16`, `exp16`).
    @inline(__always)
    func map16(_ f: (SIMD16<Float>) -> SIMD16<Float>) -> Tensor {
        let out = Tensor.uninitialized(shape)
        let (x, y) = (pointer, out.pointer)
        parallelChunks(count) { range in
            simdLoop(range, vector: { i in store16(f(load16(x, i)), y, i) }, scalar: { i in y[i] = f(SIMD16(repeating: x[i]))[0] })
        }
        return out
    }

    /// A new tensor with `f(self[i], other[i])`; shapes must already agree.
    func zipMap(_ other: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        let out = Tensor.uninitialized(shape)
        let (a, b, dst) = (pointer, other.pointer, out.pointer)
        parallelChunks(count) { range in for i in range { dst[i] = f(a[i], b[i]) } }
        return out
    }

    func checkSameShape(_ other: Tensor, _ op: String) throws {
        guard shape == other.shape else { throw ShapeError(op, "shapes \(shape) and \(other.shape) differ") }
    }
}
