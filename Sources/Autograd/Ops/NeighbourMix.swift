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
    /// Both directions run an output row at a time, the window's taps as rows of `w*w x f s`
    /// (logits are [N, w*w, S, S]: a pixel's taps lie a plane apart, a row's pixels side by side).
    public func neighbourMix(logits: Tensor, window w: Int, centreBias: Float = 0) throws -> Tensor {
        guard rank == 4, logits.rank == 4, shape[2] == shape[3], w >= 1, w % 2 == 1, logits.shape[0] == shape[0],
              logits.shape[1] == w * w, logits.shape[2] == logits.shape[3], shape[2] > 0, logits.shape[2] % shape[2] == 0 else {
            throw ShapeError("neighbourMix", "image \(shape) and logits \(logits.shape) do not fit a \(w)x\(w) window (expected [N, C, s, s] and [N, \(w * w), f s, f s], w odd)")
        }
        let (n, c, s, big, k) = (shape[0], shape[1], shape[2], logits.shape[2], w * w)
        let plane = big * big
        let window = NeighbourWindow(size: s, outputSize: big, window: w)
        let out = Tensor.uninitialized([n, c, big, big])
        let (xp, lp, op) = (pointer, logits.pointer, out.pointer)
        parallelChunks(n * big, minimumPerChunk: 1) { rows in
            let a = UnsafeMutablePointer<Float>.allocate(capacity: k * big), padded = UnsafeMutablePointer<Float>.allocate(capacity: window.paddedWidth)
            defer { a.deallocate(); padded.deallocate() }
            for row in rows {
                let (i, y) = (row / big, row % big)
                window.softmaxRow(lp, example: i, row: y, centreBias: centreBias, into: a)
                for ch in 0..<c {
                    let (o, image) = (op + (i * c + ch) * plane + y * big, xp + (i * c + ch) * s * s)
                    o.update(repeating: 0, count: big)
                    window.forEachTap(image, row: y, padded: padded) { t, pixels in
                        let at = a + t * big
                        for x in 0..<big { o[x] += at[x] * pixels[x] }
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
                let a = UnsafeMutablePointer<Float>.allocate(capacity: k * big), v = UnsafeMutablePointer<Float>.allocate(capacity: k * big)
                let (mean, padded) = (UnsafeMutablePointer<Float>.allocate(capacity: big), UnsafeMutablePointer<Float>.allocate(capacity: window.paddedWidth))
                defer { a.deallocate(); v.deallocate(); mean.deallocate(); padded.deallocate() }
                for i in examples { for y in 0..<big {
                    window.softmaxRow(lp, example: i, row: y, centreBias: centreBias, into: a)
                    // v_t = sum_c g_c * pixel_t,c; then dLogits_t = a_t (v_t - sum_t' a_t' v_t').
                    v.update(repeating: 0, count: k * big)
                    for ch in 0..<c {
                        let gr = gp + (i * c + ch) * plane + y * big
                        window.forEachTap(xp + (i * c + ch) * s * s, row: y, padded: padded) { t, pixels in
                            let vt = v + t * big
                            for x in 0..<big { vt[x] += gr[x] * pixels[x] }
                        }
                    }
                    mean.update(repeating: 0, count: big)
                    for t in 0..<k { for x in 0..<big { mean[x] += a[t * big + x] * v[t * big + x] } }
                    for t in 0..<k {
                        let d = dl + (i * k + t) * plane + y * big
                        for x in 0..<big { d[x] = a[t * big + x] * (v[t * big + x] - mean[x]) }
                    }
                    guard let di else { continue }
                    // Each tap's a_t g into the padded row it read, then summed onto the small pixels.
                    for ch in 0..<c {
                        let gr = gp + (i * c + ch) * plane + y * big
                        for dy in 0..<w {
                            padded.update(repeating: 0, count: window.paddedWidth)
                            for dx in 0..<w {
                                let (at, sums) = (a + (dy * w + dx) * big, padded + dx * window.factor)
                                for x in 0..<big { sums[x] += at[x] * gr[x] }
                            }
                            window.fold(padded, into: di + (i * c + ch) * s * s, row: y, tapRow: dy)
                        }
                    }
                } }
            }
            return [dImage, dLogits]
        }
    }
}

/// The w x w window of small-image pixels around the one containing each output pixel (shared by
/// `neighbourMix` and `neighbourChoiceLoss`): small side s, output side S = f s, taps t = (dy, dx)
/// row-major, clamped at the border. The ops work an output row at a time with its taps as rows of
/// a `w*w x S` buffer.
struct NeighbourWindow {
    let size: Int, outputSize: Int, window: Int

    var taps: Int { window * window }

    var factor: Int { outputSize / size }
    private var radius: Int { window / 2 }
    /// The length of a padded row: the small row nearest-upsampled, with the window's reach past
    /// the border on each side.
    var paddedWidth: Int { (size + 2 * radius) * factor }

    /// A small row or column index, clamped to the image.
    @inline(__always)
    private func clamped(_ v: Int) -> Int { min(max(v, 0), size - 1) }

    /// The small row that taps (`tapRow` - r, dx) of output row y read, from the channel plane
    /// `image` [s, s], nearest-upsampled and padded by r pixels (clamped) each side into `padded`
    /// [paddedWidth]: tap (dy, dx) of output column x reads padded[x + (dx + r) f], so a tap's
    /// pixels for a whole output row are contiguous.
    @inline(__always)
    func expand(_ image: UnsafePointer<Float>, row y: Int, tapRow: Int, into padded: UnsafeMutablePointer<Float>) {
        let (f, source) = (factor, image + clamped(y / factor + tapRow - radius) * size)
        for p in 0..<size + 2 * radius {
            let pixel = source[clamped(p - radius)]
            for u in 0..<f { padded[p * f + u] = pixel }
        }
    }

    /// `body(t, pixels)` for every tap t of output row y, `pixels` [S] the tap's small pixels from
    /// the channel plane `image` [s, s], one per output column (`expand`ed into `padded`).
    @inline(__always)
    func forEachTap(_ image: UnsafePointer<Float>, row y: Int, padded: UnsafeMutablePointer<Float>, _ body: (Int, UnsafePointer<Float>) -> Void) {
        for dy in 0..<window {
            expand(image, row: y, tapRow: dy, into: padded)
            for dx in 0..<window { body(dy * window + dx, padded + dx * factor) }
        }
    }

    /// `expand`'s transpose: adds each padded entry to the small pixel it was copied from.
    @inline(__always)
    func fold(_ padded: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>, row y: Int, tapRow: Int) {
        let (f, source) = (factor, image + clamped(y / factor + tapRow - radius) * size)
        for p in 0..<size + 2 * radius {
            var total: Float = 0
            for u in 0..<f { total += padded[p * f + u] }
            source[clamped(p - radius)] += total
        }
    }

    /// The softmax weights of output row y of example i into `a` [w*w, S]: logits [N, w*w, S, S] at
    /// `lp`, the centre tap's raised by `centreBias`. `logTotals` [S], when given, gets each pixel's
    /// log-sum-exp of its (biased) logits.
    @inline(__always)
    func softmaxRow(_ lp: UnsafePointer<Float>, example i: Int, row y: Int, centreBias: Float,
                    into a: UnsafeMutablePointer<Float>, logTotals: UnsafeMutablePointer<Float>? = nil) {
        let (k, big) = (taps, outputSize)
        for t in 0..<k {
            let (row, dst) = (lp + (i * k + t) * big * big + y * big, a + t * big)
            if t == k / 2 { for x in 0..<big { dst[x] = row[x] + centreBias } } else { dst.update(from: row, count: big) }
        }
        Self.softmaxColumns(a, rows: k, width: big, logTotals: logTotals)
    }

    /// Softmax down each column of `a` [rows, width], in place, 16 columns at a time; `logTotals`
    /// [width], when given, gets each column's log-sum-exp.
    static func softmaxColumns(_ a: UnsafeMutablePointer<Float>, rows k: Int, width: Int, logTotals: UnsafeMutablePointer<Float>?) {
        var x = 0
        while x + 16 <= width {
            var largest = load16(a, x)
            for t in 1..<max(k, 1) {  // a select: `pointwiseMax` compiled to a loop over the lanes
                let v = load16(a, t * width + x)
                largest = largest.replacing(with: v, where: v .> largest)
            }
            var total = SIMD16<Float>(repeating: 0)
            for t in 0..<k {
                let e = Tensor.exp16(load16(a, t * width + x) - largest)
                store16(e, a, t * width + x)
                total += e
            }
            let inverse = 1 / total
            for t in 0..<k { store16(load16(a, t * width + x) * inverse, a, t * width + x) }
            if let logTotals { for lane in 0..<16 { logTotals[x + lane] = largest[lane] + Foundation.log(total[lane]) } }
            x += 16
        }
        for x in x..<width {  // the tail, with the same exp
            var largest = a[x]
            for t in 1..<max(k, 1) { largest = Swift.max(largest, a[t * width + x]) }
            var total: Float = 0
            for t in 0..<k {
                a[t * width + x] = Tensor.exp16(SIMD16(repeating: a[t * width + x] - largest))[0]
                total += a[t * width + x]
            }
            for t in 0..<k { a[t * width + x] /= total }
            logTotals?[x] = largest + Foundation.log(total)
        }
    }
}
