extension Tensor {
    /// DiffAugment's colour transforms on [N, 3, H, W], each with its own factor per image, in order:
    /// brightness x + b[n]; saturation (x - m) s[n] + m with m the per-pixel mean over channels;
    /// contrast (x - M) k[n] + M with M the image's mean over all of C, H, W. Every step is linear,
    /// y = a x + (1 - a) P x with P an averaging projection (symmetric), so its adjoint is
    /// dx = a g + (1 - a) P g, applied in reverse order.
    public func colorJittered(brightness: [Float], saturation: [Float], contrast: [Float]) throws -> Tensor {
        guard rank == 4, [brightness.count, saturation.count, contrast.count].allSatisfy({ $0 == shape[0] }) else {
            throw ShapeError("colorJitter", "expected [N, C, H, W] and N factors of each kind, got \(shape)")
        }
        let (n, c, plane) = (shape[0], shape[1], shape[2] * shape[3])
        let image = c * plane
        /// y = a y + (1 - a) P y in place for image i: over channels per pixel, or over the whole image.
        func mix(_ p: UnsafeMutablePointer<Float>, _ a: Float, overChannels: Bool) {
            if overChannels {
                for j in 0..<plane {
                    var m: Float = 0
                    for ch in 0..<c { m += p[ch * plane + j] }
                    m /= Float(c)
                    for ch in 0..<c { p[ch * plane + j] = a * p[ch * plane + j] + (1 - a) * m }
                }
            } else {
                var m: Double = 0
                for j in 0..<image { m += Double(p[j]) }
                let mean = Float(m / Double(image))
                for j in 0..<image { p[j] = a * p[j] + (1 - a) * mean }
            }
        }
        let out = Tensor.uninitialized(shape)
        out.pointer.update(from: pointer, count: count)
        for i in 0..<n {
            let p = out.pointer + i * image
            for j in 0..<image { p[j] += brightness[i] }
            mix(p, saturation[i], overChannels: true)
            mix(p, contrast[i], overChannels: false)
        }
        return out.recorded([self]) { g in
            let d = Tensor.uninitialized(g.shape)
            d.pointer.update(from: g.pointer, count: g.count)
            for i in 0..<n {
                let p = d.pointer + i * image
                mix(p, contrast[i], overChannels: false)
                mix(p, saturation[i], overChannels: true)
            }
            return [d]
        }
    }
}
