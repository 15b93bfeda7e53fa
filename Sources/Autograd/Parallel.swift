import Dispatch
import Foundation

/// Splits `0..<count` into one contiguous chunk per core for elementwise loops. Small tensors run
/// inline: a dispatch costs more than a few thousand multiply-adds.
public func parallelChunks(_ count: Int, minimumPerChunk: Int = 1 << 15, _ body: (Range<Int>) -> Void) {
    let chunks = min(ProcessInfo.processInfo.activeProcessorCount, max(1, count / minimumPerChunk))
    guard chunks > 1 else { body(0..<count); return }
    let size = (count + chunks - 1) / chunks
    DispatchQueue.concurrentPerform(iterations: chunks) { i in
        let start = i * size
        body(start..<min(count, start + size))
    }
}

extension Tensor {
    /// A new tensor of the same shape with `f` applied to every element.
    func map(_ f: (Float) -> Float) -> Tensor {
        let out = Tensor.uninitialized(shape)
        let (src, dst) = (pointer, out.pointer)
        parallelChunks(count) { range in for i in range { dst[i] = f(src[i]) } }
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
