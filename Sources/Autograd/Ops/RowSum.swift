extension Tensor {
    /// Sums each row: [N, K] -> [N] (a row-wise dot product is `multiplying` then this; a spatial
    /// sum is [N*C, H*W] then this). d/dx[n, k] = g[n].
    public func rowSums() throws -> Tensor {
        guard rank == 2 else { throw ShapeError("rowSums", "expected [N, K], got \(shape)") }
        let (n, k) = (shape[0], shape[1])
        let out = Tensor.uninitialized([n])
        for r in 0..<n {
            var s: Float = 0
            for c in 0..<k { s += pointer[r * k + c] }
            out.pointer[r] = s
        }
        return out.recorded([self]) { g in
            let d = Tensor.uninitialized([n, k])
            for r in 0..<n { (d.pointer + r * k).initialize(repeating: g.pointer[r], count: k) }
            return [d]
        }
    }
}
