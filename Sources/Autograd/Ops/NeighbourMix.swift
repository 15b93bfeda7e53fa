import Foundation

extension Tensor {
    /// Upsampling by a learned, per-pixel choice among a small image's neighbouring pixels:
    /// `self` is the small image [N, C, s, s], `logits` [N, w*w, f s, f s] score, for every output
    /// pixel (y, x), the w x w window of small pixels centred on the one containing it, (y/f + dy,
    /// x/f + dx) with dy, dx in -(w-1)/2...(w-1)/2 row-major (clamped at the border). The output
    /// [N, C, f s, f s] is the softmax-weighted mix of those pixels; `centreBias` is added to the
    /// centre tap's logit (so zero logits start near nearest-neighbour upsampling). Peaked weights
    /// make a hard edge anywhere inside the window in the small image's own colours.
    /// Backward: for logits the softmax Jacobian of v_k = sum_c g_c * pixel_k,c; for the image, each
    /// output pixel's gradient times its weights, added to the pixels it read.
    public func neighbourMix(logits: Tensor, window w: Int, centreBias: Float = 0) throws -> Tensor {
        guard rank == 4, logits.rank == 4, shape[2] == shape[3], w >= 1, w % 2 == 1, logits.shape[0] == shape[0],
              logits.shape[1] == w * w, logits.shape[2] == logits.shape[3], shape[2] > 0, logits.shape[2] % shape[2] == 0 else {
            throw ShapeError("neighbourMix", "image \(shape) and logits \(logits.shape) do not fit a \(w)x\(w) window (expected [N, C, s, s] and [N, \(w * w), f s, f s], w odd)")
        }
        let (n, c, s, big, k) = (shape[0], shape[1], shape[2], logits.shape[2], w * w)
        let plane = big * big
        let window = NeighbourWindow(size: s, outputSize: big, window: w)
        func source(_ y: Int, _ x: Int, _ t: Int) -> Int { window.source(y, x, t) }
        func weights(_ lp: UnsafeMutablePointer<Float>, _ i: Int, _ p: Int, into a: inout [Float]) {
            window.softmax(lp, example: i, pixel: p, centreBias: centreBias, into: &a)
        }
        let out = Tensor.uninitialized([n, c, big, big])
        let (xp, lp, op) = (pointer, logits.pointer, out.pointer)
        parallelChunks(n * big, minimumPerChunk: 1) { rows in
            var a = [Float](repeating: 0, count: k)
            for row in rows {
                let (i, y) = (row / big, row % big)
                for x in 0..<big {
                    weights(lp, i, y * big + x, into: &a)
                    for ch in 0..<c {
                        let src = xp + (i * c + ch) * s * s
                        var v: Float = 0
                        for t in 0..<k { v += a[t] * src[source(y, x, t)] }
                        op[(i * c + ch) * plane + y * big + x] = v
                    }
                }
            }
        }
        let (imageShape, logitShape) = (shape, logits.shape)
        return out.recorded([self, logits]) { [self] g in
            let dLogits = Tensor.uninitialized(logitShape)
            let dImage = requiresGrad ? Tensor(repeating: 0, shape: imageShape) : nil
            let (gp, dl, xp, lp) = (g.pointer, dLogits.pointer, pointer, logits.pointer)
            let di = dImage?.pointer
            // Examples in parallel: the image gradient of one example is written by its rows only.
            parallelChunks(n, minimumPerChunk: 1) { examples in
                var a = [Float](repeating: 0, count: k), v = a
                for i in examples { for y in 0..<big { for x in 0..<big {
                    let p = y * big + x
                    weights(lp, i, p, into: &a)
                    var mean: Float = 0
                    for t in 0..<k {
                        var dot: Float = 0
                        for ch in 0..<c { dot += gp[(i * c + ch) * plane + p] * xp[(i * c + ch) * s * s + source(y, x, t)] }
                        v[t] = dot
                        mean += a[t] * dot
                    }
                    for t in 0..<k { dl[(i * k + t) * plane + p] = a[t] * (v[t] - mean) }
                    if let di {
                        for ch in 0..<c {
                            let gv = gp[(i * c + ch) * plane + p]
                            for t in 0..<k { di[(i * c + ch) * s * s + source(y, x, t)] += a[t] * gv }
                        }
                    }
                } } }
            }
            return [dImage, dLogits]
        }
    }
}

/// The w x w window of small-image pixels around the one containing each output pixel (shared by
/// `neighbourMix` and `neighbourChoiceLoss`): small side s, output side S = f s.
struct NeighbourWindow {
    let size: Int, outputSize: Int, window: Int

    var taps: Int { window * window }

    /// Offset within one small channel plane of tap t for output pixel (y, x), clamped at the border.
    @inline(__always)
    func source(_ y: Int, _ x: Int, _ t: Int) -> Int {
        let (f, r) = (outputSize / size, window / 2)
        let sy = min(max(y / f + t / window - r, 0), size - 1), sx = min(max(x / f + t % window - r, 0), size - 1)
        return sy * size + sx
    }

    /// Softmax over the taps of output pixel p of example i, logits [N, w*w, S, S] at `lp`, the
    /// centre tap's logit raised by `centreBias`; into `a` [w*w].
    @inline(__always)
    func softmax(_ lp: UnsafeMutablePointer<Float>, example i: Int, pixel p: Int, centreBias: Float, into a: inout [Float]) {
        let (k, plane) = (taps, outputSize * outputSize)
        var largest = -Float.infinity
        for t in 0..<k {
            a[t] = lp[(i * k + t) * plane + p] + (t == k / 2 ? centreBias : 0)
            largest = Swift.max(largest, a[t])
        }
        var total: Float = 0
        for t in 0..<k { a[t] = Foundation.exp(a[t] - largest); total += a[t] }
        for t in 0..<k { a[t] /= total }
    }
}
