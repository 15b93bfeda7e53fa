extension Tensor {
    /// Nearest-neighbour x2 upsampling of [N,C,H,W] -> [N,C,2H,2W]. The gradient of an input pixel
    /// is the sum over the 2x2 block it was copied to.
    public func upsampleNearest2x() throws -> Tensor {
        guard rank == 4 else { throw ShapeError("upsampleNearest2x", "expected [N, C, H, W], got \(shape)") }
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        let out = Tensor.uninitialized([shape[0], shape[1], 2 * h, 2 * w])
        let (src, dst) = (pointer, out.pointer)
        parallelChunks(planes, minimumPerChunk: max(1, (1 << 15) / max(h * w, 1))) { range in
            for p in range { for y in 0..<(2 * h) {
                let row = src + (p * h + y / 2) * w, outRow = dst + (p * 2 * h + y) * 2 * w
                for x in 0..<(2 * w) { outRow[x] = row[x / 2] }
            } }
        }
        let inputShape = shape
        return out.recorded([self]) { g in
            let dx = Tensor.uninitialized(inputShape)
            let (gp, dp) = (g.pointer, dx.pointer)
            parallelChunks(planes, minimumPerChunk: max(1, (1 << 15) / max(h * w, 1))) { range in
                for p in range { for y in 0..<h {
                    let top = gp + (p * 2 * h + 2 * y) * 2 * w, bottom = top + 2 * w
                    for x in 0..<w { dp[(p * h + y) * w + x] = top[2 * x] + top[2 * x + 1] + bottom[2 * x] + bottom[2 * x + 1] }
                } }
            }
            return [dx]
        }
    }
}
