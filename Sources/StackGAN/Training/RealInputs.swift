import Autograd
import Foundation

/// Stage-II's inputs made from real images (`train.real_input_fraction`): real crops
/// [k, 3, S, S] -> [k, 3, s, s] box-averaged (what Stage-I was trained to draw), then each blurred
/// by a Gaussian of standard deviation drawn from U(0, `maxBlur`) pixels and given N(0, `noise`)
/// noise, clamped to [-1, 1]: Stage-I's samples are softer than real images, and a Stage-II
/// trained only on clean inputs would not know what to make of them (Real-ESRGAN's lesson).
/// No gradient: these are data.
struct RealInputDegradation {
    let maxBlur: Float
    let noise: Float

    func callAsFunction(_ real: Tensor, size: Int, using random: inout RandomGenerator) throws -> Tensor {
        let small = try downsampled(real, to: size)
        let (n, c, s) = (small.shape[0], small.shape[1], size)
        var pixels = small.scalars
        for i in 0..<n {
            let sigma = maxBlur * random.nextUniform()
            let taps = Self.gaussian(sigma: sigma)
            for plane in (i * c)..<((i + 1) * c) {
                Self.blur(&pixels, offset: plane * s * s, size: s, taps: taps)
            }
        }
        if noise > 0 {
            let draws = random.normals(pixels.count, standardDeviation: noise)
            for k in pixels.indices { pixels[k] = min(max(pixels[k] + draws[k], -1), 1) }
        }
        return try Tensor(shape: small.shape, scalars: pixels)
    }

    /// Normalised taps w[-r...r] of a Gaussian, r = ceil(3 sigma); [1] for sigma near 0.
    static func gaussian(sigma: Float) -> [Float] {
        guard sigma > 0.05 else { return [1] }
        let r = Int((3 * sigma).rounded(.up))
        let w = (-r...r).map { Foundation.exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = w.reduce(0, +)
        return w.map { $0 / total }
    }

    /// Separable blur of one s x s plane at `offset`, edges clamped.
    static func blur(_ p: inout [Float], offset: Int, size s: Int, taps: [Float]) {
        guard taps.count > 1 else { return }
        let r = taps.count / 2
        var tmp = [Float](repeating: 0, count: s * s)
        for y in 0..<s { for x in 0..<s {
            var v: Float = 0
            for (k, w) in taps.enumerated() { v += w * p[offset + y * s + min(max(x + k - r, 0), s - 1)] }
            tmp[y * s + x] = v
        } }
        for y in 0..<s { for x in 0..<s {
            var v: Float = 0
            for (k, w) in taps.enumerated() { v += w * tmp[min(max(y + k - r, 0), s - 1) * s + x] }
            p[offset + y * s + x] = v
        } }
    }
}
