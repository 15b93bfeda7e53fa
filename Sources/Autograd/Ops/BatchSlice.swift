extension Tensor {
    /// Examples `range` of the batch (dim 0). The gradient is zero outside the range (`paddedBatch`).
    public func slicedBatch(_ range: Range<Int>) throws -> Tensor {
        guard rank >= 1, range.lowerBound >= 0, range.upperBound <= shape[0], !range.isEmpty else {
            throw ShapeError("slice", "batch range \(range) outside 0..<\(shape.first ?? 0) of \(shape)")
        }
        let row = count / shape[0], batch = shape[0]
        let out = Tensor.uninitialized([range.count] + shape.dropFirst())
        out.pointer.update(from: pointer + range.lowerBound * row, count: out.count)
        return out.recorded([self], backwardRecords: true, backward: { g in [try g.paddedBatch(at: range.lowerBound, to: batch)] })
    }

    /// This batch as examples `offset..<offset + N` of a batch of `size`, zeros elsewhere:
    /// `slicedBatch`'s backward, whose own backward is `slicedBatch`.
    func paddedBatch(at offset: Int, to size: Int) throws -> Tensor {
        guard rank >= 1, offset >= 0, offset + shape[0] <= size else {
            throw ShapeError("padBatch", "\(shape) at \(offset) does not fit a batch of \(size)")
        }
        let row = shape[0] > 0 ? count / shape[0] : 0
        let out = Tensor(repeating: 0, shape: [size] + shape.dropFirst())
        (out.pointer + offset * row).update(from: pointer, count: count)
        let range = offset..<(offset + shape[0])
        return out.recorded([self], backwardRecords: true, backward: { g in [try g.slicedBatch(range)] })
    }

    /// Rotates the batch: example i of the result is example (i + shift) mod N. With shift 1 each
    /// image meets the next example's caption, StackGAN-Pytorch's mismatched pairs. The gradient
    /// is g rotated back.
    public func rolledBatch(by shift: Int) throws -> Tensor {
        guard rank >= 1, shape[0] > 0 else { throw ShapeError("roll", "needs a non-empty batch, got \(shape)") }
        let n = shape[0], row = count / n
        let out = Tensor.uninitialized(shape)
        for i in 0..<n { (out.pointer + i * row).update(from: pointer + ((i + shift) % n + n) % n * row, count: row) }
        return out.recorded([self], backwardRecords: true, backward: { g in [try g.rolledBatch(by: -shift)] })
    }
}
