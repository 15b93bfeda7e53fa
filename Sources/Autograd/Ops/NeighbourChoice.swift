import Foundation

extension Tensor {
    /// The supervised loss of `neighbourMix`'s choices: `self` the small image [N, C, s, s],
    /// `logits` [N, w*w, S, S] as `neighbourMix` reads them, `target` [N, C, S, S] the image the mix
    /// should make. For every output pixel the target distribution over the window's taps is
    /// q_k = softmax_k(-|target - pixel_k|_1 / `temperature`) (the neighbours whose colour is the
    /// target's); the loss is the mean over output pixels of the cross-entropy of the mix's weights
    /// against q. Unlike a pixel loss through the mix, whose gradient to a tap shrinks with the
    /// tap's weight (a mix that settles on its centre pixel stops learning), this one stays (a - q).
    /// Gradient for the logits only: the images are data. Shape [].
    /// Examples run in parallel, an output row at a time as in `neighbourMix`; the loss is summed
    /// per example and then in example order, so it does not depend on the thread count.
    public func neighbourChoiceLoss(logits: Tensor, target: Tensor, window w: Int, centreBias: Float = 0,
                                    temperature: Float) throws -> Tensor {
        guard rank == 4, logits.rank == 4, target.rank == 4, w >= 1, w % 2 == 1, logits.shape[0] == shape[0],
              logits.shape[1] == w * w, target.shape == [shape[0], shape[1], logits.shape[2], logits.shape[3]],
              shape[2] == shape[3], shape[2] > 0, logits.shape[2] == logits.shape[3], logits.shape[2] % shape[2] == 0,
              temperature > 0 else {
            throw ShapeError("neighbourChoiceLoss", "image \(shape), logits \(logits.shape) and target \(target.shape) do not fit a \(w)x\(w) window, or temperature \(temperature) <= 0")
        }
        let (n, c, s, big, k) = (shape[0], shape[1], shape[2], logits.shape[2], w * w)
        let plane = big * big, count = n * plane
        let window = NeighbourWindow(size: s, outputSize: big, window: w)
        let (xp, lp, tp) = (pointer, logits.pointer, target.pointer)
        let gradient = Tensor.uninitialized(logits.shape)
        let gp = gradient.pointer
        var losses = [Double](repeating: 0, count: n)
        losses.withUnsafeMutableBufferPointer { losses in
            parallelChunks(n, minimumPerChunk: 1) { examples in
                let a = UnsafeMutablePointer<Float>.allocate(capacity: k * big), q = UnsafeMutablePointer<Float>.allocate(capacity: k * big)
                let (logTotals, padded) = (UnsafeMutablePointer<Float>.allocate(capacity: big), UnsafeMutablePointer<Float>.allocate(capacity: window.paddedWidth))
                defer { a.deallocate(); q.deallocate(); logTotals.deallocate(); padded.deallocate() }
                for i in examples { for y in 0..<big {
                    // q: softmax over the taps of -|target - pixel_t|_1 / temperature.
                    q.update(repeating: 0, count: k * big)
                    for ch in 0..<c {
                        let target = tp + (i * c + ch) * plane + y * big
                        window.forEachTap(xp + (i * c + ch) * s * s, row: y, padded: padded) { t, pixels in
                            let qt = q + t * big
                            for x in 0..<big { qt[x] -= Swift.abs(target[x] - pixels[x]) }
                        }
                    }
                    for j in 0..<k * big { q[j] /= temperature }
                    NeighbourWindow.softmaxColumns(q, rows: k, width: big, logTotals: nil)
                    // -sum_t q_t log a_t = logsumexp(logits) - sum_t q_t logit_t, as sum_t q_t = 1.
                    window.softmaxRow(lp, example: i, row: y, centreBias: centreBias, into: a, logTotals: logTotals)
                    var loss: Double = 0
                    for x in 0..<big { loss += Double(logTotals[x]) }
                    for t in 0..<k {
                        let (logit, bias) = (lp + (i * k + t) * plane + y * big, t == k / 2 ? centreBias : 0)
                        let d = gp + (i * k + t) * plane + y * big
                        var dot: Float = 0
                        for x in 0..<big {
                            dot += q[t * big + x] * (logit[x] + bias)
                            d[x] = (a[t * big + x] - q[t * big + x]) / Float(count)
                        }
                        loss -= Double(dot)
                    }
                    losses[i] += loss
                } }
            }
        }
        let out = try Tensor(shape: [], scalars: [Float(losses.reduce(0, +) / Double(count))])
        return out.recorded([logits]) { g in [gradient.scaled(by: g.item)] }
    }
}
