extension Tensor {
    /// x for x > 0, slope * x otherwise (StackGAN's discriminators use slope 0.2). For slope >= 0
    /// the output has the input's sign, so the backward reads the output and the input can be freed.
    public func leakyRelu(slope: Float = 0.2) -> Tensor {
        let out = map { $0 > 0 ? $0 : slope * $0 }
        let saved = slope >= 0 ? out.storage : storage
        return out.recorded([self]) { g in
            [g.zipMap(Tensor(shape: g.shape, storage: saved)) { $1 > 0 ? $0 : slope * $0 }]
        }
    }
}
