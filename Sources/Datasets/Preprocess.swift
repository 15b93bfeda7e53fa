// Image pre-processing as in StackGAN: resize to a load size, crop, flip, scale to [-1, 1].

// The seeded generator is the Random module's (shared with the engine); re-exported because
// crops, flips and batch order take it in this module's public API.
@_exported import Random

/// Training applies random crops and flips; evaluation is deterministic (centre crop,
/// no flip). Passed explicitly everywhere rather than kept as hidden state.
public enum DataMode: String, Codable, Sendable {
    case train, eval
}

public enum Preprocess {
    /// StackGAN's load size: 76 for 64 px crops, 304 for 256 px (a ratio of 19/16).
    public static func defaultLoadSize(forCrop cropSize: Int) -> Int { cropSize * 19 / 16 }

    /// Separable resampling weights from `source` samples to `target` samples.
    ///
    /// The filter is bilinear (a triangle) whose support widens by the downscale factor,
    /// i.e. antialiased bilinear as PIL's `resize(BILINEAR)` does. Plain bilinear would
    /// alias when shrinking the 304 px shapes to 76 px; when enlarging this is ordinary
    /// bilinear interpolation. Returns, per output sample, the first source index and
    /// its weights (which sum to 1).
    static func weights(source: Int, target: Int) -> [(start: Int, weights: [Float])] {
        let scale = Double(source) / Double(target)
        let support = max(scale, 1.0)
        return (0..<target).map { x in
            let centre = (Double(x) + 0.5) * scale
            let lo = max(0, Int((centre - support).rounded(.down)))
            let hi = min(source, Int((centre + support).rounded(.up)))
            var w = (lo..<hi).map { j in max(0, 1 - abs((Double(j) + 0.5 - centre) / support)) }
            let sum = w.reduce(0, +)
            if sum > 0 { w = w.map { $0 / sum } } else { w = [1] }
            return (lo, w.map { Float($0) })
        }
    }

    /// `weights` flattened for the inner loops: `taps` weights per output sample (zero
    /// padded), starting at `starts[i]`, clamped so that every tap index is in range.
    struct Kernel {
        let starts: [Int]
        let taps: Int
        let weights: [Float]

        init(source: Int, target: Int) {
            let w = Preprocess.weights(source: source, target: target)
            let taps = min(source, w.map { $0.weights.count }.max() ?? 1)
            var starts = [Int](), flat = [Float](repeating: 0, count: target * taps)
            for (i, (start, ws)) in w.enumerated() {
                let s = min(start, source - taps)  // shift left near the right edge; pad with zeros
                starts.append(s)
                for (k, v) in ws.enumerated() { flat[i * taps + (start - s) + k] = v }
            }
            self.starts = starts
            self.taps = taps
            self.weights = flat
        }
    }

    /// Resizes to `width` x `height` (aspect ratio not kept: StackGAN squashes its bounding-box
    /// crops to a square load size too). Returns interleaved Float pixels in 0...255,
    /// shape (height, width, 3).
    static func resizeFloat(_ image: RGBImage, width: Int, height: Int) -> [Float] {
        let sw = image.width, sh = image.height
        if sw == width && sh == height { return image.pixels.map { Float($0) } }
        let kx = Kernel(source: sw, target: width), ky = Kernel(source: sh, target: height)
        // Horizontal pass: (sh, sw, 3) -> (sh, width, 3).
        var horizontal = [Float](repeating: 0, count: sh * width * 3)
        image.pixels.withUnsafeBufferPointer { src in
            kx.weights.withUnsafeBufferPointer { w in
                kx.starts.withUnsafeBufferPointer { starts in
                    horizontal.withUnsafeMutableBufferPointer { dst in
                        let taps = kx.taps
                        for y in 0..<sh {
                            let row = y * sw * 3
                            for x in 0..<width {
                                var r: Float = 0, g: Float = 0, b: Float = 0
                                var i = row + starts[x] * 3
                                for k in 0..<taps {
                                    let wk = w[x * taps + k]
                                    r += wk * Float(src[i]); g += wk * Float(src[i + 1]); b += wk * Float(src[i + 2])
                                    i += 3
                                }
                                let o = (y * width + x) * 3
                                dst[o] = r; dst[o + 1] = g; dst[o + 2] = b
                            }
                        }
                    }
                }
            }
        }
        // Vertical pass: (sh, width, 3) -> (height, width, 3).
        var out = [Float](repeating: 0, count: height * width * 3)
        horizontal.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let rowLength = width * 3
                for y in 0..<height {
                    let o = y * rowLength
                    for k in 0..<ky.taps {
                        let wk = ky.weights[y * ky.taps + k]
                        if wk == 0 { continue }
                        let s = (ky.starts[y] + k) * rowLength
                        for i in 0..<rowLength { dst[o + i] += wk * src[s + i] }
                    }
                }
            }
        }
        return out
    }

    /// Resized copy as 8-bit RGB (for inspection grids).
    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        let f = resizeFloat(image, width: width, height: height)
        return RGBImage(width: width, height: height, pixels: f.map { UInt8(max(0, min(255, $0.rounded()))) })
    }

    /// Resize to `loadSize`, crop `cropSize` (random position in `.train`, centre in
    /// `.eval`), flip horizontally with probability 1/2 in `.train` (unless `flip` is false; the
    /// coin is drawn either way, so crops do not change), scale to [-1, 1],
    /// and write planar CHW into `out` (3 * cropSize * cropSize floats).
    public static func apply(_ image: RGBImage, loadSize: Int, cropSize: Int, mode: DataMode, flip allowFlip: Bool = true,
                             rng: inout RandomGenerator, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(loadSize >= cropSize && out.count >= 3 * cropSize * cropSize, "Preprocess.apply: bad sizes")
        let (x0, y0, flip) = placement(loadSize: loadSize, cropSize: cropSize, mode: mode, flip: allowFlip, rng: &rng)
        // Images already at the load size (304 px data for 256 px crops) skip the
        // Float copy of the whole image: the crop reads the bytes directly.
        if image.width == loadSize && image.height == loadSize {
            image.pixels.withUnsafeBufferPointer {
                crop($0, convert: { Float($0) }, loadSize: loadSize, cropSize: cropSize, x0: x0, y0: y0, flip: flip, into: out)
            }
        } else {
            resizeFloat(image, width: loadSize, height: loadSize).withUnsafeBufferPointer {
                crop($0, convert: { $0 }, loadSize: loadSize, cropSize: cropSize, x0: x0, y0: y0, flip: flip, into: out)
            }
        }
    }

    /// `apply` on an image already resized to `loadSize` (interleaved (load, load, 3) Floats in
    /// 0...255, as `loadSized` makes): the same random draws, so the same output.
    static func apply(loaded: [Float], loadSize: Int, cropSize: Int, mode: DataMode, flip allowFlip: Bool,
                      rng: inout RandomGenerator, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(loadSize >= cropSize && out.count >= 3 * cropSize * cropSize && loaded.count == loadSize * loadSize * 3,
                     "Preprocess.apply(loaded:): bad sizes")
        let (x0, y0, flip) = placement(loadSize: loadSize, cropSize: cropSize, mode: mode, flip: allowFlip, rng: &rng)
        loaded.withUnsafeBufferPointer {
            crop($0, convert: { $0 }, loadSize: loadSize, cropSize: cropSize, x0: x0, y0: y0, flip: flip, into: out)
        }
    }

    /// The image at `loadSize` as interleaved Floats in 0...255, the values `apply` crops from.
    static func loadSized(_ image: RGBImage, loadSize: Int) -> [Float] {
        resizeFloat(image, width: loadSize, height: loadSize)
    }

    /// Crop origin and flip: random in `.train`, centre and unflipped in `.eval`.
    private static func placement(loadSize: Int, cropSize: Int, mode: DataMode, flip allowFlip: Bool,
                                  rng: inout RandomGenerator) -> (x0: Int, y0: Int, flip: Bool) {
        let slack = loadSize - cropSize
        switch mode {
        case .train:
            let x0 = rng.below(slack + 1), y0 = rng.below(slack + 1)
            return (x0, y0, rng.coin() && allowFlip)
        case .eval:
            return (slack / 2, slack / 2, false)
        }
    }

    /// Interleaved (load, load, 3) values in 0...255 -> planar (3, crop, crop) in [-1, 1].
    @inline(__always)
    private static func crop<T>(_ src: UnsafeBufferPointer<T>, convert: (T) -> Float, loadSize: Int, cropSize: Int,
                                x0: Int, y0: Int, flip: Bool, into out: UnsafeMutableBufferPointer<Float>) {
        let plane = cropSize * cropSize
        for y in 0..<cropSize {
            for x in 0..<cropSize {
                let sx = x0 + (flip ? cropSize - 1 - x : x)
                let s = ((y0 + y) * loadSize + sx) * 3
                let o = y * cropSize + x
                out[o] = convert(src[s]) / 127.5 - 1
                out[plane + o] = convert(src[s + 1]) / 127.5 - 1
                out[2 * plane + o] = convert(src[s + 2]) / 127.5 - 1
            }
        }
    }
}
