extension Tensor {
    /// max(x, 0). d/dx = g where x > 0 (0 at x == 0, as PyTorch). The backward reads the output
    /// (y > 0 exactly where x > 0), so the input can be freed, as PyTorch's in-place ReLU allows.
    public func relu() -> Tensor {
        let out = map { max($0, 0) }
        let y = out.storage
        return out.recorded([self]) { g in [g.zipMap(Tensor(shape: g.shape, storage: y)) { $1 > 0 ? $0 : 0 }] }
    }
}
