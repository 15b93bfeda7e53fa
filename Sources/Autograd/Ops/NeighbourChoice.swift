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
        /// The target distribution q [k] of output pixel p of example i.
        func choice(_ i: Int, _ p: Int, _ y: Int, _ x: Int, into q: inout [Float]) {
            var smallest = Float.infinity
            for t in 0..<k {
                var e: Float = 0
                for ch in 0..<c { e += Swift.abs(tp[(i * c + ch) * plane + p] - xp[(i * c + ch) * s * s + window.source(y, x, t)]) }
                q[t] = -e / temperature
                smallest = Swift.min(smallest, -q[t])
            }
            var total: Float = 0
            for t in 0..<k { q[t] = Foundation.exp(q[t] + smallest); total += q[t] }
            for t in 0..<k { q[t] /= total }
        }
        let gradient = Tensor.uninitialized(logits.shape)
        let gp = gradient.pointer
        var loss: Double = 0
        var a = [Float](repeating: 0, count: k), q = a
        for i in 0..<n { for y in 0..<big { for x in 0..<big {
            let p = y * big + x
            window.softmax(lp, example: i, pixel: p, centreBias: centreBias, into: &a)
            choice(i, p, y, x, into: &q)
            for t in 0..<k {
                if q[t] > 0 { loss -= Double(q[t]) * Foundation.log(Double(Swift.max(a[t], 1e-30))) }
                gp[(i * k + t) * plane + p] = (a[t] - q[t]) / Float(count)
            }
        } } }
        let out = try Tensor(shape: [], scalars: [Float(loss / Double(count))])
        return out.recorded([logits]) { g in [gradient.scaled(by: g.item)] }
    }
}
