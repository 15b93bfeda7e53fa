extension Tensor {
    /// The transpose of a matrix: [R, C] -> [C, R]. Its backward is the transpose of the gradient.
    public func transposed() throws -> Tensor {
        guard rank == 2 else { throw ShapeError("transpose", "needs a matrix, got \(shape)") }
        let (r, c) = (shape[0], shape[1])
        func transpose(_ x: Tensor, rows r: Int, columns c: Int) -> Tensor {
            let out = Tensor.uninitialized([c, r])
            let (xp, op) = (x.pointer, out.pointer)
            for i in 0..<r { for j in 0..<c { op[j * r + i] = xp[i * c + j] } }
            return out
        }
        return transpose(self, rows: r, columns: c).recorded([self]) { g in [transpose(g, rows: c, columns: r)] }
    }
}
