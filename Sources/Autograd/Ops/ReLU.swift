extension Tensor {
    /// max(x, 0). d/dx = g where x > 0 (0 at x == 0, as PyTorch).
    public func relu() -> Tensor {
        map { max($0, 0) }.recorded([self]) { [self] g in [g.zipMap(self) { $1 > 0 ? $0 : 0 }] }
    }
}
