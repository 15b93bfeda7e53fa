extension Tensor {
    /// x for x > 0, slope * x otherwise (StackGAN's discriminators use slope 0.2).
    public func leakyRelu(slope: Float = 0.2) -> Tensor {
        map { $0 > 0 ? $0 : slope * $0 }.recorded([self]) { [self] g in [g.zipMap(self) { $1 > 0 ? $0 : slope * $0 }] }
    }
}
