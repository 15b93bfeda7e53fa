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
        return out.recorded([self]) { g in
            let d = Tensor.uninitialized(g.shape)
            let blocked = d.allBlocked(g.storage, saved)
            let (gp, yp, dp) = blocked ? (g.storage.data, saved.data, d.pointer) : (g.pointer, saved.pointer, d.pointer)
            // SIMD: as a plain loop this was a branch per element, 3-5% of an iteration.
            parallelChunks(d.count) { range in
                simdLoop(range, vector: { i in store16(SIMD16().replacing(with: load16(gp, i), where: load16(yp, i) .> 0), dp, i) },
                         scalar: { i in dp[i] = yp[i] > 0 ? gp[i] : 0 })
            }
            if blocked { d.storage.markBlocked(d.shape) }
            return [d]
        }
    }
}
