extension Tensor {
    /// DiffAugment's colour transforms on [N, 3, H, W], each with its own factor per image, in order:
    /// brightness x + b[n]; saturation (x - m) s[n] + m with m the per-pixel mean over channels;
    /// contrast (x - M) k[n] + M with M the image's mean over all of C, H, W. Every step is linear,
    /// y = a x + (1 - a) P x with P an averaging projection (symmetric), so its adjoint is
    /// dx = a g + (1 - a) P g, applied in reverse order (`colorMixed`, adjoint).
    public func colorJittered(brightness: [Float], saturation: [Float], contrast: [Float]) throws -> Tensor {
        guard rank == 4, [brightness.count, saturation.count, contrast.count].allSatisfy({ $0 == shape[0] }) else {
            throw ShapeError("colorJitter", "expected [N, C, H, W] and N factors of each kind, got \(shape)")
        }
        let out = detached()
        let image = count / shape[0]
        for i in 0..<shape[0] {
            let p = out.pointer + i * image
            for j in 0..<image { p[j] += brightness[i] }
        }
        out.mixColors(saturation: saturation, contrast: contrast, adjoint: false)
        return out.recorded([self], backwardRecords: true, backward: { g in
            [try g.colorMixed(saturation: saturation, contrast: contrast, adjoint: true)]
        })
    }

    /// The linear part of `colorJittered` (saturation, then contrast) or, `adjoint`, its adjoint
    /// (contrast, then saturation): the one is the other's gradient.
    func colorMixed(saturation: [Float], contrast: [Float], adjoint: Bool) throws -> Tensor {
        guard rank == 4, saturation.count == shape[0], contrast.count == shape[0] else {
            throw ShapeError("colorMix", "expected [N, C, H, W] and N factors of each kind, got \(shape)")
        }
        let out = detached()
        out.mixColors(saturation: saturation, contrast: contrast, adjoint: adjoint)
        return out.recorded([self], backwardRecords: true, backward: { g in
            [try g.colorMixed(saturation: saturation, contrast: contrast, adjoint: !adjoint)]
        })
    }

    /// In place, per image: y = a y + (1 - a) P y with a the saturation (P: the mean over channels
    /// per pixel), then with a the contrast (P: the image's mean); in the opposite order if `adjoint`.
    private func mixColors(saturation: [Float], contrast: [Float], adjoint: Bool) {
        let (n, c, plane) = (shape[0], shape[1], shape[2] * shape[3])
        let image = c * plane
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
        for i in 0..<n {
            let p = pointer + i * image
            if adjoint {
                mix(p, contrast[i], overChannels: false)
                mix(p, saturation[i], overChannels: true)
            } else {
                mix(p, saturation[i], overChannels: true)
                mix(p, contrast[i], overChannels: false)
            }
        }
    }
}
