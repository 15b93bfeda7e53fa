import Autograd
import Foundation

// What a 256 px image holds that its 64 px version cannot: sharp edges and spectral power above
// 32 cycles per image (the 64 px Nyquist frequency). Shape letters: N images, S side (a power
// of 2 for the spectrum). Images are planar RGB in [-1, 1]; both measures read luminance 0-255
// (Rec. 601 weights), in Double.

/// Edge sharpness and high-frequency share of a set of images, pooled over the set.
public struct DetailScores: Codable, Equatable {
    /// Of the total gradient mass (|forward difference| between horizontal and vertical
    /// neighbours), the share carried by steps of `DetailTally.sharpStep` (64) or more. A hard
    /// edge is one such step; the same edge blurred over k pixels is k steps of 1/k its height.
    public var edgeSharpness: Double
    /// Of the non-DC spectral power of the luminance, the share at frequencies a 64 px image
    /// cannot hold (max(|u|, |v|) > S / 8 cycles per image). A guard against noise and dithering,
    /// which push it far above the real images'.
    public var highFrequencyShare: Double
}

/// Running sums behind `DetailScores`, added to image by image.
struct DetailTally {
    /// Steps of at least this many luminance levels (of 255) count as sharp.
    static let sharpStep = 64.0
    var sharpMass = 0.0, totalMass = 0.0
    var highPower = 0.0, nonDCPower = 0.0
    var imageCount = 0

    /// Adds images [N, 3, S, S] in [-1, 1].
    mutating func add(_ images: Tensor) {
        let (n, s) = (images.shape[0], images.shape[2])
        for i in 0..<n {
            let y = luminance(images.pointer + i * 3 * s * s, size: s)
            addEdges(y, size: s)
            if s > 1 && s & (s - 1) == 0 { addSpectrum(y, size: s) }
            imageCount += 1
        }
    }

    var scores: DetailScores {
        DetailScores(edgeSharpness: totalMass > 0 ? sharpMass / totalMass : 0,
                     highFrequencyShare: nonDCPower > 0 ? highPower / nonDCPower : 0)
    }

    private mutating func addEdges(_ y: [Double], size s: Int) {
        func step(_ d: Double) { let a = abs(d); totalMass += a; if a >= Self.sharpStep { sharpMass += a } }
        for r in 0..<s { for c in 0..<s {
            if c + 1 < s { step(y[r * s + c + 1] - y[r * s + c]) }
            if r + 1 < s { step(y[(r + 1) * s + c] - y[r * s + c]) }
        } }
    }

    private mutating func addSpectrum(_ y: [Double], size s: Int) {
        var re = y, im = [Double](repeating: 0, count: s * s)
        fft2D(&re, &im, size: s)
        let cutoff = s / 8
        for u in 0..<s { for v in 0..<s where u != 0 || v != 0 {
            let power = re[u * s + v] * re[u * s + v] + im[u * s + v] * im[u * s + v]
            let (fu, fv) = (min(u, s - u), min(v, s - v))
            nonDCPower += power
            if max(fu, fv) > cutoff { highPower += power }
        } }
    }
}

/// Luminance 0-255 of one planar RGB image in [-1, 1], [S * S].
func luminance(_ p: UnsafePointer<Float>, size s: Int) -> [Double] {
    let plane = s * s
    return (0..<plane).map { k in
        let rgb = (0..<3).map { c in (Double(p[c * plane + k]) + 1) * 127.5 }
        return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    }
}

/// In-place 2-D DFT of an S x S complex array (row-major), S a power of 2: rows, then columns.
func fft2D(_ re: inout [Double], _ im: inout [Double], size s: Int) {
    var rowRe = [Double](repeating: 0, count: s), rowIm = rowRe
    for r in 0..<s {
        for k in 0..<s { rowRe[k] = re[r * s + k]; rowIm[k] = im[r * s + k] }
        fft(&rowRe, &rowIm)
        for k in 0..<s { re[r * s + k] = rowRe[k]; im[r * s + k] = rowIm[k] }
    }
    for c in 0..<s {
        for k in 0..<s { rowRe[k] = re[k * s + c]; rowIm[k] = im[k * s + c] }
        fft(&rowRe, &rowIm)
        for k in 0..<s { re[k * s + c] = rowRe[k]; im[k * s + c] = rowIm[k] }
    }
}

/// Iterative radix-2 Cooley-Tukey DFT, X[k] = sum_n x[n] e^{-2 pi i k n / n}; count a power of 2.
func fft(_ re: inout [Double], _ im: inout [Double]) {
    let n = re.count
    var j = 0
    for i in 1..<max(n, 1) {  // bit-reversal permutation
        var bit = n >> 1
        while j & bit != 0 { j ^= bit; bit >>= 1 }
        j |= bit
        if i < j { re.swapAt(i, j); im.swapAt(i, j) }
    }
    var length = 2
    while length <= n {
        let angle = -2 * Double.pi / Double(length)
        for start in stride(from: 0, to: n, by: length) {
            for k in 0..<(length / 2) {
                let (wr, wi) = (cos(angle * Double(k)), sin(angle * Double(k)))
                let (a, b) = (start + k, start + k + length / 2)
                let tr = re[b] * wr - im[b] * wi, ti = re[b] * wi + im[b] * wr
                (re[b], im[b]) = (re[a] - tr, im[a] - ti)
                (re[a], im[a]) = (re[a] + tr, im[a] + ti)
            }
        }
        length <<= 1
    }
}
