import Foundation

extension Tensor {
    /// The weight W [O, ...] divided by its largest singular value, estimated as in Miyato et al.
    /// 2018 (and PyTorch's spectral_norm) from the persistent vector `u` [O]: v = normalise(W^T u),
    /// with `powerIteration` u <- normalise(W v) (written back into `u`, one step per training
    /// update), then sigma = u^T W v. u and v are constants for the gradient:
    /// dW = g / sigma - (sum(g * W) / sigma^2) u v^T.
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
        for r in 0..<o { for c in 0..<m { v[c] += w[r * m + c] * uValues[r] } }
        normalised(&v)
        var wv = [Float](repeating: 0, count: o)
        for r in 0..<o {
            var s: Float = 0
            for c in 0..<m { s += w[r * m + c] * v[c] }
            wv[r] = s
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
        return out.recorded([self]) { [self] g in
            var dot: Double = 0
            for i in 0..<count { dot += Double(g.pointer[i]) * Double(pointer[i]) }
            let coefficient = Float(dot) / (sigma * sigma)
            let d = Tensor.uninitialized(shape)
            for r in 0..<o {
                for c in 0..<m {
                    d.pointer[r * m + c] = g.pointer[r * m + c] / sigma - coefficient * uFixed[r] * v[c]
                }
            }
            return [d]
        }
    }
}
