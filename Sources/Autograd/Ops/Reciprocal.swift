extension Tensor {
    /// 1 / x elementwise. d/dx = -g / x^2 (create-graph: -g * (1/x)^2 in recorded ops).
    public func reciprocal() -> Tensor {
        map { 1 / $0 }.recorded([self], backward: { [self] g in [g.zipMap(self) { gi, x in -gi / (x * x) }] },
                                differentiable: { [self] g, _ in
            let r = reciprocal()
            return [try g.multiplying(r.multiplying(r)).scaled(by: -1)]
        })
    }
}
