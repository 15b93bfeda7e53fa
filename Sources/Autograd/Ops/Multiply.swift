extension Tensor {
    /// Elementwise product. d/da = g * b, d/db = g * a.
    public func multiplying(_ other: Tensor) throws -> Tensor {
        try checkSameShape(other, "multiply")
        return zipMap(other, *).recorded([self, other], backwardRecords: true, backward: { [self] g in [try g.multiplying(other), try g.multiplying(self)] })
    }

    /// self * value everywhere.
    public func scaled(by value: Float) -> Tensor {
        map { $0 * value }.recorded([self], backwardRecords: true, backward: { g in [g.scaled(by: value)] })
    }
}
