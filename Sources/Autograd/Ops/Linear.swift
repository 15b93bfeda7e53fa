import Kernels

extension Tensor {
    /// y[N,O] = x[N,I] * weight[O,I]^T + bias[O] (PyTorch's nn.Linear layout).
    /// Backward: dx = g * W, dW = g^T * x, db = column sums of g (as `matmul`s for create-graph).
    public func linear(weight: Tensor, bias: Tensor?) throws -> Tensor {
        guard rank == 2, weight.rank == 2, weight.shape[1] == shape[1] else {
            throw ShapeError("linear", "input \(shape) does not fit weight \(weight.shape) (expected input [N, \(weight.rank == 2 ? weight.shape[1] : -1)])")
        }
        let (n, i, o) = (shape[0], shape[1], weight.shape[0])
        if let bias, bias.shape != [o] { throw ShapeError("linear", "bias \(bias.shape) for \(o) outputs") }
        let out = Tensor.uninitialized([n, o])
        if let bias {
            for r in 0..<n { out.pointer.advanced(by: r * o).update(from: bias.pointer, count: o) }
        }
        try Gemm.multiply(transposeA: false, transposeB: true, m: n, n: o, k: i, a: pointer, b: weight.pointer,
                          beta: bias == nil ? 0 : 1, c: out.pointer)
        var inputs = [self, weight]
        if let bias { inputs.append(bias) }
        return out.recorded(inputs, backward: { [self] g in
            let dx = self.requiresGrad ? Tensor.uninitialized([n, i]) : nil
            let dw = weight.requiresGrad ? Tensor.uninitialized([o, i]) : nil
            if let dx { try Gemm.multiply(transposeA: false, transposeB: false, m: n, n: i, k: o, a: g.pointer, b: weight.pointer, c: dx.pointer) }
            if let dw { try Gemm.multiply(transposeA: true, transposeB: false, m: o, n: i, k: n, a: g.pointer, b: self.pointer, c: dw.pointer) }
            var grads: [Tensor?] = [dx, dw]
            if bias != nil {
                let db = Tensor(repeating: 0, shape: [o])
                for r in 0..<n { for c in 0..<o { db.pointer[c] += g.pointer[r * o + c] } }
                grads.append(db)
            }
            return grads
        }, differentiable: { [self] g, needs in
            [needs[0] ? try g.matmul(weight) : nil, needs[1] ? try g.matmul(self, transposeSelf: true) : nil]
                + (bias == nil ? [] : [needs[2] ? try g.summedOverBatch() : nil])
        })
    }
}
