extension Tensor {
    /// max(x, 0). d/dx = g where x > 0 (0 at x == 0, as PyTorch). The backward reads the output
    /// (y > 0 exactly where x > 0), so the input can be freed, as PyTorch's in-place ReLU allows.
    /// Explicit loops rather than `map`: a closure passed to `map` stays an indirect call per element.
    public func relu() -> Tensor {
        let out = Tensor.uninitialized(shape)
        // Elementwise, so it runs in whatever layout the input is in (see `Storage`).
        let blocked = allBlocked(storage)
        let (x, y) = (blocked ? storage.data : pointer, out.pointer)
        parallelChunks(count) { range in for i in range { y[i] = Swift.max(x[i], 0) } }
        if blocked { out.storage.markBlocked(shape) }
        let saved = out.storage
        return out.recorded([self], backwardRecords: true, backward: { g in [g.gated(by: saved, slope: 0)] })
    }
}
