extension Tensor {
    /// Every pair of a's and b's examples summed: a [Na, ...] and b [Nb, ...] of the same trailing
    /// shape -> [Na * Nb, ...], example i * Nb + j = a_i + b_j. How a head scores every image of a
    /// batch against every caption when its score is a function of (image part + caption part).
    /// Backward: da_i = sum_j g_ij, db_j = sum_i g_ij.
    public static func pairwiseSum(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.rank >= 1, b.rank == a.rank, Array(a.shape.dropFirst()) == Array(b.shape.dropFirst()), a.shape[0] > 0, b.shape[0] > 0 else {
            throw ShapeError("pairwiseSum", "needs two non-empty batches of the same example shape, got \(a.shape) and \(b.shape)")
        }
        let (na, nb) = (a.shape[0], b.shape[0]), row = a.count / na
        let out = Tensor.uninitialized([na * nb] + a.shape.dropFirst())
        let (ap, bp, op) = (a.pointer, b.pointer, out.pointer)
        for i in 0..<na { for j in 0..<nb {
            let o = op + (i * nb + j) * row, x = ap + i * row, y = bp + j * row
            for k in 0..<row { o[k] = x[k] + y[k] }
        } }
        let (shapeA, shapeB) = (a.shape, b.shape)
        return out.recorded([a, b]) { g in
            let (da, db) = (Tensor(repeating: 0, shape: shapeA), Tensor(repeating: 0, shape: shapeB))
            let (gp, dap, dbp) = (g.pointer, da.pointer, db.pointer)
            for i in 0..<na { for j in 0..<nb {
                let s = gp + (i * nb + j) * row, x = dap + i * row, y = dbp + j * row
                for k in 0..<row { x[k] += s[k]; y[k] += s[k] }
            } }
            return [da, db]
        }
    }
}
