import Autograd
import Foundation
@testable import StackGAN
import XCTest

/// Stage-II's detail measures on images with known answers: a hard-edged square, its blurred and
/// upscaled copies, and noise; the FFT against a plain DFT.
final class DetailMetricsTests: XCTestCase {
    /// A grey image [1, 3, S, S] (value `background` in [-1, 1]) with a white square from `lo` to `hi`.
    private func square(size s: Int, lo: Int, hi: Int, background: Float = -0.5) throws -> Tensor {
        var v = [Float](repeating: background, count: 3 * s * s)
        for c in 0..<3 { for y in lo..<hi { for x in lo..<hi { v[(c * s + y) * s + x] = 1 } } }
        return try Tensor(shape: [1, 3, s, s], scalars: v)
    }

    /// Box blur of radius r along both axes (edges clamped).
    private func blurred(_ t: Tensor, radius r: Int) throws -> Tensor {
        let s = t.shape[2], p = t.scalars
        var h = p, out = p
        for c in 0..<3 { for y in 0..<s { for x in 0..<s {
            h[(c * s + y) * s + x] = (-r...r).map { p[(c * s + y) * s + min(max(x + $0, 0), s - 1)] }.reduce(0, +) / Float(2 * r + 1)
        } } }
        for c in 0..<3 { for y in 0..<s { for x in 0..<s {
            out[(c * s + y) * s + x] = (-r...r).map { h[(c * s + min(max(y + $0, 0), s - 1)) * s + x] }.reduce(0, +) / Float(2 * r + 1)
        } } }
        return try Tensor(shape: t.shape, scalars: out)
    }

    private func scores(_ t: Tensor) -> DetailScores {
        var tally = DetailTally()
        tally.add(t)
        return tally.scores
    }

    func testAHardEdgeIsAllSharpAndItsBlurIsNot() throws {
        let hard = try square(size: 64, lo: 20, hi: 44)
        XCTAssertEqual(scores(hard).edgeSharpness, 1, accuracy: 1e-12, "every step of a hard edge is 191 levels")
        // Blurred over 9 pixels the same edge is steps of about 21 levels: none counts.
        XCTAssertEqual(scores(try blurred(hard, radius: 4)).edgeSharpness, 0, accuracy: 1e-12)
        // A black-to-white edge antialiased over 3 pixels (steps of 85 levels) still counts as
        // sharp, as the dataset's 1-2 px antialiased edges should; over 5 pixels (51) it does not.
        let contrast = try square(size: 64, lo: 20, hi: 44, background: -1)
        XCTAssertGreaterThan(scores(try blurred(contrast, radius: 1)).edgeSharpness, 0.9, "all but the corners")
        XCTAssertLessThan(scores(try blurred(contrast, radius: 2)).edgeSharpness, 0.05)
    }

    func testAFlatImageHasNoDetailAndNoNaN() throws {
        let flat = try Tensor(shape: [2, 3, 32, 32], scalars: [Float](repeating: 0.3, count: 2 * 3 * 32 * 32))
        XCTAssertEqual(scores(flat), DetailScores(edgeSharpness: 0, highFrequencyShare: 0))
    }

    func testHighFrequencyShareOfNoiseAndOfASmoothImage() throws {
        var rng = RandomGenerator(seed: 7)
        let s = 64
        let noise = try Tensor(shape: [1, 3, s, s], scalars: (0..<(3 * s * s)).map { _ in Float(rng.next() % 1000) / 500 - 1 })
        // White noise spreads its power evenly: the share outside the |u|, |v| <= S/8 square of
        // (S/4 + 1)^2 frequencies is 1 - 17^2 / 64^2 = 0.929 in expectation.
        XCTAssertEqual(scores(noise).highFrequencyShare, 1 - 289.0 / 4096, accuracy: 0.02)
        // A 64 px image upscaled 4x holds (nearly) nothing above its Nyquist frequency.
        let small = try blurred(try square(size: 16, lo: 4, hi: 12), radius: 1)
        let up = try bicubicUpsampled(small, factor: 4)
        XCTAssertLessThan(scores(up).highFrequencyShare, 0.02)
        XCTAssertGreaterThan(scores(try square(size: 64, lo: 16, hi: 48)).highFrequencyShare, 0.05, "a hard edge has power at every frequency")
    }

    func testFFTMatchesAPlainDFT() {
        var rng = RandomGenerator(seed: 3)
        let n = 16
        let x = (0..<n).map { _ in Double(rng.next() % 2000) / 1000 - 1 }
        var re = x, im = [Double](repeating: 0, count: n)
        fft(&re, &im)
        for k in 0..<n {
            var (sr, si) = (0.0, 0.0)
            for t in 0..<n {
                let a = -2 * Double.pi * Double(k * t) / Double(n)
                sr += x[t] * cos(a); si += x[t] * sin(a)
            }
            XCTAssertEqual(re[k], sr, accuracy: 1e-9, "re[\(k)]")
            XCTAssertEqual(im[k], si, accuracy: 1e-9, "im[\(k)]")
        }
    }

    /// The bilateral filter of `stage2_mix_smoothing`: a hard step between two mottled halves keeps
    /// its step (0.8 against sigma 0.2) and loses most of its mottle (+-0.05); a second pass
    /// flattens what the first left and still keeps the step; a constant stays.
    func testBilateralSmoothingFlattensMottleAndKeepsEdges() throws {
        let s = 16
        var rng = RandomGenerator(seed: 3)
        let mottle = (0..<(s * s)).map { _ in (rng.nextUniform() - 0.5) / 10 }
        let scalars = (0..<(s * s)).map { Float($0 % s < s / 2 ? -0.4 : 0.4) + mottle[$0] }
        let smoothed = try bilateralSmoothed(try Tensor(shape: [1, 1, s, s], scalars: scalars), rangeSigma: 0.2).scalars
        func spread(_ v: [Float], columns: Range<Int>) -> Float {
            let values = (0..<s).flatMap { y in columns.map { v[y * s + $0] } }
            return values.max()! - values.min()!
        }
        XCTAssertLessThan(spread(smoothed, columns: 0..<s / 2), 0.5 * spread(scalars, columns: 0..<s / 2))
        XCTAssertLessThan(spread(smoothed, columns: s / 2..<s), 0.5 * spread(scalars, columns: s / 2..<s))
        for y in 0..<s { XCTAssertGreaterThan(smoothed[y * s + s / 2] - smoothed[y * s + s / 2 - 1], 0.7, "row \(y): the step stays") }
        let twice = try bilateralSmoothed(try Tensor(shape: [1, 1, s, s], scalars: scalars), rangeSigma: 0.2, passes: 2).scalars
        XCTAssertEqual(twice, try bilateralSmoothed(try Tensor(shape: [1, 1, s, s], scalars: smoothed), rangeSigma: 0.2).scalars)
        for half in [0..<s / 2, s / 2..<s] { XCTAssertLessThan(spread(twice, columns: half), 0.8 * spread(smoothed, columns: half)) }
        for y in 0..<s { XCTAssertGreaterThan(twice[y * s + s / 2] - twice[y * s + s / 2 - 1], 0.7, "row \(y): the step stays after two passes") }
        let constant = try bilateralSmoothed(try Tensor(shape: [2, 3, 4, 4], scalars: [Float](repeating: 0.3, count: 96)), rangeSigma: 0.1)
        XCTAssertTrue(constant.scalars.allSatisfy { abs($0 - 0.3) < 1e-6 })
        XCTAssertThrowsError(try bilateralSmoothed(constant, rangeSigma: 0))
        XCTAssertThrowsError(try bilateralSmoothed(constant, rangeSigma: 0.1, passes: 0))
    }

    func testBicubicKeepsConstantsAndRamps() throws {
        let s = 8
        let ramp = try Tensor(shape: [1, 1, s, s], scalars: (0..<(s * s)).map { Float($0 % s) / 10 - 0.35 })
        let up = try bicubicUpsampled(ramp, factor: 4)
        XCTAssertEqual(up.shape, [1, 1, 32, 32])
        // Away from the clamped edges a linear ramp is reproduced exactly: x at target column o
        // is (o + 0.5) / 4 - 0.5 source pixels.
        for o in 8..<24 {
            let expected = ((Float(o) + 0.5) / 4 - 0.5) / 10 - 0.35
            XCTAssertEqual(up.scalars[5 * 32 + o], expected, accuracy: 1e-5, "column \(o)")
        }
        let constant = try bicubicUpsampled(try Tensor(shape: [1, 1, s, s], scalars: [Float](repeating: 0.25, count: s * s)), factor: 4)
        XCTAssertTrue(constant.scalars.allSatisfy { abs($0 - 0.25) < 1e-6 })
    }
}
