extension Tensor {
    /// 1 / x elementwise. d/dx = -g / x^2.
    public func reciprocal() -> Tensor {
        map { 1 / $0 }.recorded([self]) { [self] g in [g.zipMap(self) { gi, x in -gi / (x * x) }] }
    }
}
