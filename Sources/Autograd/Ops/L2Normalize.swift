import Foundation

extension Tensor {
    /// Each row divided by its Euclidean norm (floored at `epsilon`): [N, K] -> [N, K], for cosine
    /// similarities. With y = x / |x|: dx = (g - y (g . y)) / |x|.
    public func l2NormalizedRows(epsilon: Float = 1e-8) throws -> Tensor {
        guard rank == 2 else { throw ShapeError("l2Normalize", "expected [N, K], got \(shape)") }
        let (n, k) = (shape[0], shape[1])
        let out = Tensor.uninitialized([n, k])
        var norms = [Float](repeating: 0, count: n)
        for r in 0..<n {
            var s: Double = 0
            for c in 0..<k { s += Double(pointer[r * k + c]) * Double(pointer[r * k + c]) }
            norms[r] = Swift.max(Float(s.squareRoot()), epsilon)
            for c in 0..<k { out.pointer[r * k + c] = pointer[r * k + c] / norms[r] }
        }
        return out.recorded([self]) { [out] g in
            let d = Tensor.uninitialized([n, k])
            for r in 0..<n {
                var dot: Float = 0
                for c in 0..<k { dot += g.pointer[r * k + c] * out.pointer[r * k + c] }
                for c in 0..<k { d.pointer[r * k + c] = (g.pointer[r * k + c] - out.pointer[r * k + c] * dot) / norms[r] }
            }
            return [d]
        }
    }
}
