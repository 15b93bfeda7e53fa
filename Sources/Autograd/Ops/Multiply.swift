extension Tensor {
    /// Elementwise product. d/da = g * b, d/db = g * a.
    public func multiplying(_ other: Tensor) throws -> Tensor {
        try checkSameShape(other, "multiply")
        return zipMap(other, *).recorded([self, other]) { [self] g in [g.zipMap(other, *), g.zipMap(self, *)] }
    }

    /// self * value everywhere.
    public func scaled(by value: Float) -> Tensor {
        map { $0 * value }.recorded([self]) { g in [g.map { $0 * value }] }
    }
}
