import Autograd

/// Differentiable augmentation of every image the discriminator sees (real, wrong and fake, in both
/// the D and the G step), so a discriminator trained on few images cannot memorise them while the
/// generator still gets gradients through the transform. Each image of a batch draws its own
/// factors from the trainer's generator: brightness +U(-0.5, 0.5), saturation x U(0, 2), contrast
/// x U(0.5, 1.5); translation by up to 1/8 of the side with zero fill; cutout of a zeroed square
/// of half the side at a random position (the published "color,translation,cutout" policy).
/// Images [N, 3, S, S] in [-1, 1] -> the same shape.
public struct DiffAugment {
    public let transforms: [AugmentTransform]

    public init(transforms: [AugmentTransform]) { self.transforms = transforms }

    public func callAsFunction(_ images: Tensor, using random: inout RandomGenerator) throws -> Tensor {
        var x = images
        let n = images.shape[0]
        func uniform(_ low: Float, _ high: Float) -> [Float] { random.perExample(n) { low + (high - low) * $0.nextUniform() } }
        for transform in transforms {
            switch transform {
            case .color:
                x = try x.colorJittered(brightness: uniform(-0.5, 0.5), saturation: uniform(0, 2), contrast: uniform(0.5, 1.5))
            case .translation:
                let limit = images.shape[3] / 8
                func offsets() -> [Int] { random.perExample(n) { Int($0.nextUniform() * Float(2 * limit + 1)) - limit } }
                let dx = offsets(), dy = offsets()
                x = try x.translated(dx: dx, dy: dy)
            case .cutout:
                x = try x.multiplying(cutoutMask(shape: images.shape, using: &random))
            }
        }
        return x
    }

    /// [N, C, H, W] of ones with one zero square of side H/2 (W/2) per image, centred at a uniform
    /// position (clipped at the borders, as the published code).
    private func cutoutMask(shape: [Int], using random: inout RandomGenerator) -> Tensor {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let mask = Tensor(repeating: 1, shape: shape)
        let centres = random.perExample(n) { (y: Int($0.nextUniform() * Float(h)), x: Int($0.nextUniform() * Float(w))) }
        for (i, (cy, cx)) in centres.enumerated() {
            let ys = Swift.max(0, cy - h / 4)..<Swift.min(h, cy + h / 4), xs = Swift.max(0, cx - w / 4)..<Swift.min(w, cx + w / 4)
            for ch in 0..<c { for y in ys { (mask.pointer + ((i * c + ch) * h + y) * w + xs.lowerBound).update(repeating: 0, count: xs.count) } }
        }
        return mask
    }
}
