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
        return out.recorded([self], backwardRecords: true, backward: { g in [try g.repeatedInRows(k)] })
    }

    /// [N] -> [N, K] with row n all g[n]: `rowSums`'s backward, whose own backward is `rowSums`.
    func repeatedInRows(_ k: Int) throws -> Tensor {
        guard rank == 1 else { throw ShapeError("repeatedInRows", "expected [N], got \(shape)") }
        let n = shape[0]
        guard k > 0 else { return Tensor(repeating: 0, shape: [n, 0]) }
        return try reshaped([n, 1]).tiled(height: 1, width: k).reshaped([n, k])
    }
}
