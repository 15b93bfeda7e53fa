extension Tensor {
    /// Per-example, per-channel affine of a feature map: y[n,c,h,w] = x[n,c,h,w] * scale[n,c] +
    /// shift[n,c], x [N,C,H,W], scale and shift [N,C] (conditional batch norm's modulation). One op
    /// instead of tile-multiply-add, which stored two tiled copies of the map and cost about a fifth
    /// of the main job's step. dx = g * scale; dscale = sum over H,W of g * x; dshift = sum of g.
    public func modulated(scale: Tensor, shift: Tensor) throws -> Tensor {
        guard rank == 4, scale.shape == [shape[0], shape[1]], shift.shape == scale.shape else {
            throw ShapeError("modulate", "expected x [N, C, H, W] with scale and shift [N, C], got \(shape), \(scale.shape), \(shift.shape)")
        }
        let plane = shape[2] * shape[3], rows = shape[0] * shape[1]
        let out = Tensor.uninitialized(shape)
        for r in 0..<rows {
            let (a, b) = (scale.pointer[r], shift.pointer[r])
            let x = pointer + r * plane, y = out.pointer + r * plane
            for j in 0..<plane { y[j] = x[j] * a + b }
        }
        return out.recorded([self, scale, shift]) { [self] g in
            let dx = Tensor.uninitialized(shape), dScale = Tensor.uninitialized(scale.shape), dShift = Tensor.uninitialized(shift.shape)
            for r in 0..<rows {
                let a = scale.pointer[r]
                let x = pointer + r * plane, gr = g.pointer + r * plane, d = dx.pointer + r * plane
                var (sa, sb): (Float, Float) = (0, 0)
                for j in 0..<plane {
                    d[j] = gr[j] * a
                    sa += gr[j] * x[j]
                    sb += gr[j]
                }
                (dScale.pointer[r], dShift.pointer[r]) = (sa, sb)
            }
            return [dx, dScale, dShift]
        }
    }
}
