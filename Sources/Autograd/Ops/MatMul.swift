import Kernels

extension Tensor {
    /// op(self) [M, K] times op(other) [K, N] -> [M, N], op a transpose where its flag is set.
    /// Backward, for C = A B: dA = G B^T, dB = A^T G (the transposed cases follow); each is a
    /// matmul itself, so it differentiates again. Linear's create-graph backward is made of these.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) throws -> Tensor {
        guard rank == 2, other.rank == 2 else { throw ShapeError("matmul", "expected two matrices, got \(shape) and \(other.shape)") }
        let (m, k) = transposeSelf ? (shape[1], shape[0]) : (shape[0], shape[1])
        let (k2, n) = transposeOther ? (other.shape[1], other.shape[0]) : (other.shape[0], other.shape[1])
        guard k == k2, m > 0, n > 0, k > 0 else {
            throw ShapeError("matmul", "\(shape)\(transposeSelf ? "^T" : "") does not multiply \(other.shape)\(transposeOther ? "^T" : "")")
        }
        let out = Tensor.uninitialized([m, n])
        try Gemm.multiply(transposeA: transposeSelf, transposeB: transposeOther, m: m, n: n, k: k, a: pointer, b: other.pointer,
                          c: out.pointer)
        return out.recorded([self, other], backwardRecords: true, backward: { [self] g in
            let (a, b) = (self, other)
            switch (transposeSelf, transposeOther) {
            case (false, false):  // C = A B
                return [a.requiresGrad ? try g.matmul(b, transposeOther: true) : nil,
                        b.requiresGrad ? try a.matmul(g, transposeSelf: true) : nil]
            case (false, true):  // C = A B^T
                return [a.requiresGrad ? try g.matmul(b) : nil,
                        b.requiresGrad ? try g.matmul(a, transposeSelf: true) : nil]
            case (true, false):  // C = A^T B
                return [a.requiresGrad ? try b.matmul(g, transposeOther: true) : nil,
                        b.requiresGrad ? try a.matmul(g) : nil]
            case (true, true):  // C = A^T B^T
                return [a.requiresGrad ? try b.matmul(g, transposeSelf: true, transposeOther: true) : nil,
                        b.requiresGrad ? try g.matmul(a, transposeSelf: true, transposeOther: true) : nil]
            }
        })
    }

    /// Column sums of x [N, K] -> [K] as a matmul with ones, on the tape (a bias's gradient in
    /// create-graph mode).
    func summedOverBatch() throws -> Tensor {
        guard rank == 2 else { throw ShapeError("summedOverBatch", "expected [N, K], got \(shape)") }
        return try Tensor(repeating: 1, shape: [1, shape[0]]).matmul(self).reshaped([shape[1]])
    }
}
