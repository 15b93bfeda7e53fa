extension Tensor {
    /// |x| elementwise. d/dx = g * sign(x), taken as 0 at x = 0.
    public func absolute() -> Tensor {
        map { Swift.abs($0) }.recorded([self]) { [self] g in
            [g.zipMap(self) { gi, x in x > 0 ? gi : (x < 0 ? -gi : 0) }]
        }
    }
}
