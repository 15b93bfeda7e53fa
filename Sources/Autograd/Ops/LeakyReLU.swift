extension Tensor {
    /// x for x > 0, slope * x otherwise (StackGAN's discriminators use slope 0.2). For slope >= 0
    /// the output has the input's sign, so the backward reads the output and the input can be freed.
    /// Explicit SIMD loops rather than `map`, as in `relu`.
    public func leakyRelu(slope: Float = 0.2) -> Tensor {
        let out = Tensor.uninitialized(shape)
        // Elementwise, so it runs in whatever layout the input is in (see `Storage`).
        let blocked = allBlocked(storage)
        let (x, y) = (blocked ? storage.data : pointer, out.pointer)
        parallelChunks(count) { range in
            simdLoop(range, vector: { i in let v = load16(x, i); store16((slope * v).replacing(with: v, where: v .> 0), y, i) },
                     scalar: { i in y[i] = x[i] > 0 ? x[i] : slope * x[i] })
        }
        if blocked { out.storage.markBlocked(shape) }
        let saved = slope >= 0 ? out.storage : storage
        return out.recorded([self], backwardRecords: true, backward: { g in [g.gated(by: saved, slope: slope)] })
    }

    /// g where `sign` (a saved activation of g's shape) is > 0, slope * g elsewhere: the backward
    /// of leakyRelu and of relu (slope 0). Linear in g with a mask that is constant almost
    /// everywhere, so it is its own backward (the activations' second derivative is 0, as PyTorch's).
    func gated(by sign: Storage, slope: Float) -> Tensor {
        let d = Tensor.uninitialized(shape)
        let blocked = d.allBlocked(storage, sign)
        let (gp, sp, dp) = blocked ? (storage.data, sign.data, d.pointer) : (pointer, sign.pointer, d.pointer)
        // SIMD: as a plain loop this was a branch per element, 3-5% of an iteration.
        parallelChunks(d.count) { range in
            if slope == 0 {
                simdLoop(range, vector: { i in store16(SIMD16().replacing(with: load16(gp, i), where: load16(sp, i) .> 0), dp, i) },
                         scalar: { i in dp[i] = sp[i] > 0 ? gp[i] : 0 })
            } else {
                simdLoop(range, vector: { i in let g = load16(gp, i); store16((slope * g).replacing(with: g, where: load16(sp, i) .> 0), dp, i) },
                         scalar: { i in dp[i] = sp[i] > 0 ? gp[i] : slope * gp[i] })
            }
        }
        if blocked { d.storage.markBlocked(d.shape) }
        return d.recorded([self], backwardRecords: true, backward: { h in [h.gated(by: sign, slope: slope)] })
    }
}
