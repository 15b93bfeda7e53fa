extension Tensor {
    /// Sum of all elements, as a one-element tensor of shape []. Accumulates in Double.
    public func sum() -> Tensor {
        let p = pointer
        var total: Double = 0
        for i in 0..<count { total += Double(p[i]) }
        let inputShape = shape
        return Tensor(repeating: Float(total), shape: []).recorded([self]) { g in
            [Tensor(repeating: g.item, shape: inputShape)]
        }
    }

    /// Mean of all elements, shape [].
    public func mean() -> Tensor {
        sum().scaled(by: 1 / Float(Swift.max(count, 1)))
    }
}
