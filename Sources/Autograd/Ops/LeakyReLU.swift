extension Tensor {
    /// x for x > 0, slope * x otherwise (StackGAN's discriminators use slope 0.2). For slope >= 0
    /// the output has the input's sign, so the backward reads the output and the input can be freed.
    /// Explicit loops rather than `map`, as in `relu`.
    public func leakyRelu(slope: Float = 0.2) -> Tensor {
        let out = Tensor.uninitialized(shape)
        // Elementwise, so it runs in whatever layout the input is in (see `Storage`).
        let blocked = allBlocked(storage)
        let (x, y) = (blocked ? storage.data : pointer, out.pointer)
        parallelChunks(count) { range in for i in range { let v = x[i]; y[i] = v > 0 ? v : slope * v } }
        if blocked { out.storage.markBlocked(shape) }
        let saved = slope >= 0 ? out.storage : storage
        return out.recorded([self]) { g in
            let d = Tensor.uninitialized(g.shape)
            let blocked = d.allBlocked(g.storage, saved)
            let (gp, sp, dp) = blocked ? (g.storage.data, saved.data, d.pointer) : (g.pointer, saved.pointer, d.pointer)
            // One load of each before the test, as in `relu`'s backward.
            parallelChunks(d.count) { range in for i in range { let (g, s) = (gp[i], sp[i]); dp[i] = s > 0 ? g : slope * g } }
            if blocked { d.storage.markBlocked(d.shape) }
            return [d]
        }
    }
}
