extension Tensor {
    /// Sum of all elements, as a one-element tensor of shape []. Accumulates in Double.
    /// The gradient is g copied to every element (`broadcast`).
    public func sum() -> Tensor {
        let p = pointer
        var total: Double = 0
        for i in 0..<count { total += Double(p[i]) }
        let inputShape = shape
        return Tensor(repeating: Float(total), shape: []).recorded([self], backwardRecords: true, backward: { g in
            [try g.broadcast(to: inputShape)]
        })
    }

    /// Mean of all elements, shape [].
    public func mean() -> Tensor {
        sum().scaled(by: 1 / Float(Swift.max(count, 1)))
    }

    /// A one-element tensor's value at every position of `shape` (its gradient is the sum).
    func broadcast(to shape: [Int]) throws -> Tensor {
        guard count == 1 else { throw ShapeError("broadcast", "expected one value, got \(self.shape)") }
        let n = shape.reduce(1, *)
        guard n > 0 else { return Tensor(repeating: 0, shape: shape) }
        return try reshaped([1]).repeatedInRows(n).reshaped(shape)
    }
}
