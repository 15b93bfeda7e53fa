extension Tensor {
    /// Examples `range` of the batch (dim 0). The gradient is zero outside the range.
    public func slicedBatch(_ range: Range<Int>) throws -> Tensor {
        guard rank >= 1, range.lowerBound >= 0, range.upperBound <= shape[0], !range.isEmpty else {
            throw ShapeError("slice", "batch range \(range) outside 0..<\(shape.first ?? 0) of \(shape)")
        }
        let row = count / shape[0], inputShape = shape
        let out = Tensor.uninitialized([range.count] + shape.dropFirst())
        out.pointer.update(from: pointer + range.lowerBound * row, count: out.count)
        return out.recorded([self]) { g in
            let d = Tensor(repeating: 0, shape: inputShape)
            (d.pointer + range.lowerBound * row).update(from: g.pointer, count: g.count)
            return [d]
        }
    }

    /// Rotates the batch: example i of the result is example (i + shift) mod N. With shift 1 each
    /// image meets the next example's caption, StackGAN-Pytorch's mismatched pairs.
    public func rolledBatch(by shift: Int) throws -> Tensor {
        guard rank >= 1, shape[0] > 0 else { throw ShapeError("roll", "needs a non-empty batch, got \(shape)") }
        let n = shape[0], row = count / n
        let out = Tensor.uninitialized(shape)
        for i in 0..<n { (out.pointer + i * row).update(from: pointer + ((i + shift) % n + n) % n * row, count: row) }
        return out.recorded([self]) { g in
            let d = Tensor.uninitialized(g.shape)
            for i in 0..<n { (d.pointer + ((i + shift) % n + n) % n * row).update(from: g.pointer + i * row, count: row) }
            return [d]
        }
    }
}
