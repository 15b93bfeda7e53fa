import Autograd
import Foundation

// Fixed resampling and filtering of image batches [N, C, S, S] without gradients: what evaluation
// does to compare 256 px images at 64 px, what Stage-II training does to make 64 px inputs from
// real 256 px crops, and the smoothing of the colours Stage-II's mix takes.

/// images [N, 3, S, S] -> [N, 3, S/f, S/f] by averaging f x f blocks, f = S / `size` (Stage-II's
/// 256 px images for the 64 px classifier; 4x4 box averaging is what an antialiased resize to a
/// quarter does). A 64 px input is returned as it is.
public func downsampled(_ images: Tensor, to size: Int) throws -> Tensor {
    guard images.rank == 4, images.shape[2] == images.shape[3], size > 0, images.shape[2] % size == 0 else {
        throw ShapeError("downsample", "images \(images.shape) are not square multiples of \(size) px")
    }
    let s = images.shape[2], f = s / size
    if f == 1 { return images }
    let planes = images.shape[0] * images.shape[1]
    var out = [Float](repeating: 0, count: planes * size * size)
    let scale = 1 / Float(f * f), p = images.pointer
    for plane in 0..<planes { for y in 0..<size { for x in 0..<size {
        var total: Float = 0
        for dy in 0..<f { for dx in 0..<f { total += p[(plane * s + y * f + dy) * s + x * f + dx] } }
        out[(plane * size + y) * size + x] = total * scale
    } } }
    return try Tensor(shape: [images.shape[0], images.shape[1], size, size], scalars: out)
}

/// images [N, C, s, s] -> the same shape, each pixel the average of the pixels within 2 of it
/// (inside the image), weighted by exp(-distance^2 / (2 * 1.5^2)) and by
/// exp(-|colour difference|^2 / (2 `rangeSigma`^2)) (L2 over the channels, in [-1, 1] units): a
/// bilateral filter. Variations well below `rangeSigma` (Stage-I's mottle) are averaged away;
/// steps well above it (edges) are kept. Each further pass filters the previous pass's output:
/// what one pass leaves of a blotch spanning several pixels, the next flattens further.
func bilateralSmoothed(_ images: Tensor, rangeSigma: Float, passes: Int = 1) throws -> Tensor {
    guard images.rank == 4, rangeSigma > 0, passes >= 1 else {
        throw ShapeError("bilateralSmoothed", "images \(images.shape) are not [N, C, H, W], or range sigma \(rangeSigma) <= 0, or passes \(passes) < 1")
    }
    var images = images
    for _ in 0..<passes { images = try bilateralPass(images, rangeSigma: rangeSigma) }
    return images
}

private func bilateralPass(_ images: Tensor, rangeSigma: Float) throws -> Tensor {
    let (n, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
    let (p, r) = (images.pointer, 2)
    var out = [Float](repeating: 0, count: images.count), sums = [Float](repeating: 0, count: c)
    for i in 0..<n { for y in 0..<h { for x in 0..<w {
        var total: Float = 0
        for ch in 0..<c { sums[ch] = 0 }
        for yy in max(y - r, 0)...min(y + r, h - 1) { for xx in max(x - r, 0)...min(x + r, w - 1) {
            var d2: Float = 0
            for ch in 0..<c {
                let d = p[((i * c + ch) * h + yy) * w + xx] - p[((i * c + ch) * h + y) * w + x]
                d2 += d * d
            }
            let space = Float((yy - y) * (yy - y) + (xx - x) * (xx - x)) / (2 * 1.5 * 1.5)
            let weight = Foundation.exp(-space - d2 / (2 * rangeSigma * rangeSigma))
            total += weight
            for ch in 0..<c { sums[ch] += weight * p[((i * c + ch) * h + yy) * w + xx] }
        } }
        for ch in 0..<c { out[((i * c + ch) * h + y) * w + x] = sums[ch] / total }
    } } }
    return try Tensor(shape: images.shape, scalars: out)
}

/// images [N, C, s, s] -> [N, C, f s, f s] by bicubic interpolation (Keys, a = -0.5; pixel
/// centres aligned, edges clamped, values clamped to [-1, 1] as a saved image's): what a plain upscaler makes of a small image.
func bicubicUpsampled(_ images: Tensor, factor f: Int) throws -> Tensor {
    let (planes, s) = (images.shape[0] * images.shape[1], images.shape[2])
    let t = s * f, pixels = images.pointer
    func weight(_ x: Double) -> Double {
        let a = -0.5, x = abs(x)
        if x <= 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return 0
    }
    // Source taps and weights of each target coordinate (the same for rows and columns).
    let taps: [[(Int, Double)]] = (0..<t).map { o in
        let x = (Double(o) + 0.5) / Double(f) - 0.5, base = Int(floor(x))
        return (-1...2).map { d in (min(max(base + d, 0), s - 1), weight(x - Double(base + d))) }
    }
    var out = [Float](repeating: 0, count: planes * t * t)
    for p in 0..<planes {
        var rows = [Double](repeating: 0, count: s * t)  // horizontal pass: s rows of t
        for r in 0..<s { for o in 0..<t { rows[r * t + o] = taps[o].reduce(0) { $0 + $1.1 * Double(pixels[(p * s + r) * s + $1.0]) } } }
        for o in 0..<t { for c in 0..<t {
            out[(p * t + o) * t + c] = Float(min(max(taps[o].reduce(0) { $0 + $1.1 * rows[$1.0 * t + c] }, -1), 1))
        } }
    }
    return try Tensor(shape: [images.shape[0], images.shape[1], t, t], scalars: out)
}
