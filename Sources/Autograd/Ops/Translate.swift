extension Tensor {
    /// Shifts each image of [N, C, H, W] by its own whole-pixel offset, zero-filling what moves in:
    /// out[n, c, y, x] = in[n, c, y - dy[n], x - dx[n]] (DiffAugment's translation). The gradient is
    /// the opposite shift of g, zero where the output read outside the input (a translation itself).
    public func translated(dx: [Int], dy: [Int]) throws -> Tensor {
        guard rank == 4, dx.count == shape[0], dy.count == shape[0] else {
            throw ShapeError("translate", "expected [N, C, H, W] and N offsets, got \(shape) with \(dx.count), \(dy.count)")
        }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let out = Tensor(repeating: 0, shape: [n, c, h, w])
        for i in 0..<n {
            let (ox, oy) = (dx[i], dy[i])
            let (x0, x1) = (Swift.max(0, ox), Swift.min(w, w + ox)), (y0, y1) = (Swift.max(0, oy), Swift.min(h, h + oy))
            guard x0 < x1, y0 < y1 else { continue }
            let xs = x0..<x1
            for ch in 0..<c {
                let plane = (i * c + ch) * h * w
                for y in y0..<y1 {
                    (out.pointer + plane + y * w + xs.lowerBound)
                        .update(from: pointer + plane + (y - oy) * w + xs.lowerBound - ox, count: xs.count)
                }
            }
        }
        return out.recorded([self], backwardRecords: true, backward: { g in
            [try g.translated(dx: dx.map { -$0 }, dy: dy.map { -$0 })]
        })
    }
}
