import Foundation

extension Tensor {
    /// The weight W [O, ...] divided by its largest singular value, estimated as in Miyato et al.
    /// 2018 (and PyTorch's spectral_norm) from the persistent vector `u` [O]: v = normalise(W^T u),
    /// with `powerIteration` u <- normalise(W v) (written back into `u`, one step per training
    /// update), then sigma = u^T W v. u and v are constants for the gradient:
    /// dW = g / sigma - (sum(g * W) / sigma^2) u v^T (create-graph: the same in recorded ops).
    public func spectralNormalized(u: Tensor, powerIteration: Bool) throws -> Tensor {
        guard rank >= 2, u.shape == [shape[0]] else {
            throw ShapeError("spectralNorm", "weight \(shape) needs u of shape [\(shape.first ?? 0)], got \(u.shape)")
        }
        let o = shape[0], m = count / o
        let w = pointer
        func normalised(_ x: inout [Float]) {
            var s: Double = 0
            for value in x { s += Double(value) * Double(value) }
            let norm = Swift.max(Float(s.squareRoot()), 1e-12)
            for i in x.indices { x[i] /= norm }
        }
        var uValues = Array(UnsafeBufferPointer(start: u.pointer, count: o))
        var v = [Float](repeating: 0, count: m)
        v.withUnsafeMutableBufferPointer { v in
            for r in 0..<o { let ur = uValues[r]; for c in 0..<m { v[c] += w[r * m + c] * ur } }
        }
        normalised(&v)
        var wv = [Float](repeating: 0, count: o)
        v.withUnsafeBufferPointer { v in
            for r in 0..<o {
                var s: Float = 0
                for c in 0..<m { s += w[r * m + c] * v[c] }
                wv[r] = s
            }
        }
        if powerIteration {
            uValues = wv
            normalised(&uValues)
            try u.assign(uValues.withUnsafeBufferPointer { $0 })
        }
        var sigma: Float = 0
        for r in 0..<o { sigma += uValues[r] * wv[r] }
        sigma = Swift.max(sigma, 1e-12)
        let out = map { $0 / sigma }
        let uFixed = uValues
        return out.recorded([self], backward: { [self] g in
            // Pointers taken once: `Tensor.pointer` inside the loops checked the layout and the
            // exclusivity of every element's access (3% of a small model's step, perf).
            let (gp, wp, n) = (g.pointer, pointer, count)
            var dot: Double = 0
            for i in 0..<n { dot += Double(gp[i]) * Double(wp[i]) }
            let coefficient = Float(dot) / (sigma * sigma)
            let d = Tensor.uninitialized(shape)
            let dp = d.pointer
            v.withUnsafeBufferPointer { v in
                for r in 0..<o {
                    let ur = uFixed[r]
                    for c in 0..<m { dp[r * m + c] = gp[r * m + c] / sigma - coefficient * ur * v[c] }
                }
            }
            return [d]
        }, differentiable: { [self] g, _ in
            // The same formula in recorded ops, with sigma = <W, u v^T> on the tape.
            let uv = Tensor.uninitialized(shape)
            for r in 0..<o { for c in 0..<m { uv.pointer[r * m + c] = uFixed[r] * v[c] } }
            let inverse = try multiplying(uv).sum().reciprocal()
            let coefficient = try g.multiplying(self).sum().multiplying(inverse.multiplying(inverse))
            return [try g.multiplying(inverse.broadcast(to: shape)).subtracting(uv.multiplying(coefficient.broadcast(to: shape)))]
        })
    }
}
