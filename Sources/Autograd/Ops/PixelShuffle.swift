extension Tensor {
    /// Depth to space (ESPCN's sub-pixel convolution, PyTorch's pixel_shuffle): [N, C f^2, H, W] ->
    /// [N, C, f H, f W] with out[n, c, f y + i, f x + j] = in[n, (c f + i) f + j, y, x]. A conv at
    /// the small size then computes every output pixel with a filter of its own sub-position.
    /// The backward is the inverse rearrangement.
    public func pixelShuffled(factor f: Int) throws -> Tensor {
        guard rank == 4, f >= 1, shape[1] % (f * f) == 0 else {
            throw ShapeError("pixelShuffle", "expected [N, C * \(f)^2, H, W], got \(shape)")
        }
        let (n, c, h, w) = (shape[0], shape[1] / (f * f), shape[2], shape[3])
        /// Copies between the two layouts; `forward` from [N, C f^2, H, W] to [N, C, f H, f W].
        func rearrange(_ x: Tensor, forward: Bool) -> Tensor {
            let out = Tensor.uninitialized(forward ? [n, c, f * h, f * w] : [n, c * f * f, h, w])
            let (xp, op) = (x.pointer, out.pointer)
            for b in 0..<n { for ch in 0..<c { for i in 0..<f { for j in 0..<f { for y in 0..<h { for xx in 0..<w {
                let small = (((b * c + ch) * f + i) * f + j) * h * w + y * w + xx
                let large = ((b * c + ch) * f * h + f * y + i) * f * w + f * xx + j
                if forward { op[large] = xp[small] } else { op[small] = xp[large] }
            } } } } } }
            return out
        }
        return rearrange(self, forward: true).recorded([self]) { g in [rearrange(g, forward: false)] }
    }
}
