extension Tensor {
    /// Elementwise sum of two tensors of the same shape. d/da = d/db = g.
    public func adding(_ other: Tensor) throws -> Tensor {
        try checkSameShape(other, "add")
        return zipMap(other, +).recorded([self, other], backwardRecords: true, backward: { g in [g, g] })
    }

    /// self + value everywhere.
    public func adding(_ value: Float) -> Tensor {
        map { $0 + value }.recorded([self], backwardRecords: true, backward: { g in [g] })
    }

    /// self - other, elementwise.
    public func subtracting(_ other: Tensor) throws -> Tensor {
        try checkSameShape(other, "subtract")
        return zipMap(other, -).recorded([self, other], backwardRecords: true, backward: { g in [g, g.scaled(by: -1)] })
    }

    /// Sum without recording (gradient accumulation; shapes are the engine's own).
    static func + (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, +) }
}
