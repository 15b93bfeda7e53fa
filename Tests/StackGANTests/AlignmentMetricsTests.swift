import Autograd
import Datasets
import Foundation
@testable import StackGAN
import XCTest

/// R-precision, majority-rate chance, attribute accuracy and the matcher's contrastive loss on
/// small inputs with known answers, and the matcher trained on the bundled shapes data.
final class AlignmentMetricsTests: XCTestCase {
    static let shapes = EvaluationTests.shapes

    /// n random unit-free vectors of width d, row-major.
    private func randomRows(_ n: Int, _ d: Int, seed: UInt64) -> [Float] {
        var rng = RandomGenerator(seed: seed)
        return rng.normals(n * d)
    }

    // MARK: R-precision

    func testPerfectlyMatchedPairsScoreOne() {
        let (n, d) = (300, 16)
        let captions = randomRows(n, d, seed: 1)
        // Each image equals its caption up to scale: cosine 1 with it, below 1 with any other.
        let images = captions.map { $0 * 3 }
        let r = RPrecision.compute(images: images, truths: Array(0..<n), captions: captions, groups: Array(0..<n), width: d, seed: 5)
        XCTAssertEqual(r.rate, 1)
        XCTAssertEqual(r.candidates, 100)
        XCTAssertEqual(r.chance, 0.01, accuracy: 1e-12)
        XCTAssertEqual(r.queries, n)
    }

    func testShuffledPairsScoreNearChance() {
        let (n, d) = (2000, 16)
        let captions = randomRows(n, d, seed: 2)
        // Image i is caption perm(i): matched to some caption, never its own.
        var rng = RandomGenerator(seed: 3)
        var order = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let images = order.flatMap { captions[($0 * d)..<(($0 + 1) * d)] }
        let r = RPrecision.compute(images: images, truths: Array(0..<n), captions: captions, groups: Array(0..<n), width: d, seed: 5)
        // Binomial(2000, 0.01) has mean 20 and standard deviation 4.4; a fixed seed, so the count is exact.
        XCTAssertLessThan(r.rate, 0.02, "near the 1% chance: \(r.rate)")
        XCTAssertEqual(r.chance, 0.01, accuracy: 1e-12)
    }

    func testCaptionsOfTheSameImageAreNeverNegatives() {
        // 30 images x 5 captions; each image's five captions are identical to the image, so any of
        // the four siblings would tie with the own caption and make it a miss if it were a negative.
        let (images, k, d) = (30, 5, 8)
        let base = randomRows(images, d, seed: 4)
        let captions = (0..<(images * k)).flatMap { base[(($0 / k) * d)..<(($0 / k + 1) * d)] }
        let groups = (0..<(images * k)).map { $0 / k }
        let queries = Array(0..<(images * k))
        let r = RPrecision.compute(images: captions, truths: queries, captions: captions, groups: groups, width: d, seed: 9)
        XCTAssertEqual(r.rate, 1, "siblings excluded, so the own caption beats every negative")
        // Fewer than 100 captions of other images: all 29 * 5 = 145 would do; with 20 images only 95.
        let small = Array(captions[0..<(20 * k * d)])
        let s = RPrecision.compute(images: small, truths: Array(0..<(20 * k)), captions: small, groups: Array(groups[0..<(20 * k)]),
                                   width: d, seed: 9)
        XCTAssertEqual(s.candidates, 96, "the 95 captions of the 19 other images, and the own one")
        XCTAssertEqual(s.chance, 1.0 / 96, accuracy: 1e-12)
        XCTAssertEqual(s.rate, 1)
        // The same captions with every caption its own group: a sibling now ties and the query misses.
        let flat = RPrecision.compute(images: small, truths: Array(0..<(20 * k)), captions: small, groups: Array(0..<(20 * k)),
                                      width: d, seed: 9)
        XCTAssertEqual(flat.rate, 0, "an identical negative is a tie, counted as a miss")
    }

    // MARK: Chance and accuracy

    func testMajorityRateOfUnbalancedLabels() {
        // 6 of class 0, 3 of class 1, 1 of class 2, two unlabelled: 6 / 10, not 1 / 3.
        let labels: [Int?] = [0, 1, 0, nil, 2, 0, 1, 0, 0, nil, 1, 0]
        XCTAssertEqual(majorityRate(labels), 0.6, accuracy: 1e-12)
        XCTAssertEqual(majorityRate([0, 1, 2, 3]), 0.25, accuracy: 1e-12)
        XCTAssertEqual(majorityRate([nil, nil]), 0)
    }

    func testClassifierWarningWhenRealAccuracyIsNotClearlyAboveTheMajorityRate() {
        XCTAssertNotNil(EvaluationReport.classifierWarning(realAccuracy: 0.65, majorityRate: 0.6), "0.65 < 0.6 + 0.1")
        XCTAssertNil(EvaluationReport.classifierWarning(realAccuracy: 0.71, majorityRate: 0.6))
        XCTAssertNil(EvaluationReport.classifierWarning(realAccuracy: 0.96, majorityRate: 0.05))
    }

    func testAttributeAccuracyCountsOnlyLabelledImages() {
        let (accuracy, counted) = labelAccuracy(predicted: [0, 1, 2, 1, 0], truth: [0, 2, nil, 1, 1])
        XCTAssertEqual(counted, 4)
        XCTAssertEqual(accuracy, 0.5, accuracy: 1e-12)

        // The evaluator's tally: two heads (class, colour), two examples, two images each.
        var tally = ImageTally(heads: 2)
        let labels: [[Int?]] = [[3, 4], [0, nil]]
        tally.add(ConditionClassifier.Prediction(labels: [[3, 1], [0, 2]], features: [1, 2, 3, 4]), examples: [0, 1], labels: labels)
        tally.add(ConditionClassifier.Prediction(labels: [[3, 4], [1, 1]], features: [5, 6, 7, 8]), examples: [0, 1], labels: labels)
        XCTAssertEqual(tally.accuracy(head: 0), 0.75, accuracy: 1e-12, "class: 3 of 4 images")
        XCTAssertEqual(tally.accuracy(head: 1), 0.5, accuracy: 1e-12, "colour: example 1 unlabelled, 1 of 2")
        XCTAssertEqual(tally.features, [1, 2, 3, 4, 5, 6, 7, 8])
    }

    // MARK: Contrastive loss

    func testInfoNCEGradientsMatchFiniteDifferences() throws {
        let (b, e, tau): (Int, Int, Float) = (4, 6, 0.5)
        func loss(_ u: [Float], _ v: [Float], _ t: Float = tau, grad: Bool = false) throws -> (Double, Tensor, Tensor) {
            let (ut, vt) = (try Tensor(shape: [b, e], scalars: u, requiresGrad: grad), try Tensor(shape: [b, e], scalars: v, requiresGrad: grad))
            let l = try symmetricInfoNCE(image: ut, text: vt, temperature: t)
            if grad { try l.backward() }
            return (Double(l.item), ut, vt)
        }
        let u = randomRows(b, e, seed: 6), v = randomRows(b, e, seed: 7)
        let (value, ut, vt) = try loss(u, v, grad: true)
        XCTAssertGreaterThan(value, 0)
        let (du, dv) = (try XCTUnwrap(ut.grad).scalars, try XCTUnwrap(vt.grad).scalars)
        let h: Float = 1e-2
        /// Central difference of the loss along the change `step` makes to (u, v) with +h and -h.
        func numeric(_ step: (inout [Float], inout [Float], Float) -> Void) throws -> Double {
            var (u1, v1, u2, v2) = (u, v, u, v)
            step(&u1, &v1, h); step(&u2, &v2, -h)
            return (try loss(u1, v1).0 - loss(u2, v2).0) / Double(2 * h)
        }
        for i in 0..<(b * e) {
            let gu = try numeric { u, _, d in u[i] += d }, gv = try numeric { _, v, d in v[i] += d }
            XCTAssertEqual(Double(du[i]), gu, accuracy: 5e-3 * max(1, abs(gu)), "image element \(i)")
            XCTAssertEqual(Double(dv[i]), gv, accuracy: 5e-3 * max(1, abs(gv)), "caption element \(i)")
        }
        // Images equal to their captions, at a low temperature: the loss is near 0.
        XCTAssertLessThan(try loss(v, v, 0.01).0, 1e-3)
        // Identical images: each column of S is constant, so the caption-to-image half is log B; the
        // image-to-caption half is the mean of -log softmax(s)_i over i, s_j = <û, v̂_j> / T.
        let image = Array(u[0..<e]), unitImage = l2Normalized(rows: image, width: e), unitCaptions = l2Normalized(rows: v, width: e)
        let s = (0..<b).map { j in Double((0..<e).reduce(Float(0)) { $0 + unitImage[$1] * unitCaptions[j * e + $1] }) / Double(tau) }
        let logTotal = log(s.map { exp($0) }.reduce(0, +))
        let rowHalf = s.map { logTotal - $0 }.reduce(0, +) / Double(b)
        XCTAssertEqual(try loss((0..<b).flatMap { _ in image }, v).0, (rowHalf + log(Double(b))) / 2, accuracy: 1e-5)
    }

    // MARK: Data

    func testShapesAttributesAgreeWithTheClassNames() throws {
        let test = try TextImageDataset.open(path: Self.shapes, split: "test")
        XCTAssertEqual(Set(test.attributes.keys), ["shape", "color", "size", "position", "background"])
        let colors = try XCTUnwrap(test.attributes["color"]), shapes = try XCTUnwrap(test.attributes["shape"])
        XCTAssertEqual(colors.count, 200)
        for i in 0..<test.count {
            XCTAssertEqual("\(colors[i]) \(shapes[i])", test.classNames[test.classIndices[i]], "example \(i): class is `<colour> <shape>`")
        }
        XCTAssertEqual(Set(try XCTUnwrap(test.attributes["size"])), ["small", "large"])
    }

    // MARK: The matcher on shapes

    func testMatcherRanksRealShapesCaptionsAndIsCached() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("matcher-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let start = Date()
        let (matcher, url, training) = try ImageTextMatcher.cached(datasetPath: Self.shapes, directory: cache, log: { print($0) })
        let seconds = Date().timeIntervalSince(start)
        XCTAssertNotNil(training, "the first call trains")
        let test = try TextImageDataset.open(path: Self.shapes, split: "test")
        let bank = try RealImages.decode(test, indices: Array(0..<test.count), loadSize: 76, cropSize: 64)
        let images = try matcher.embed(bank.tensor())
        let k = test.captionsPerImage, e = test.embeddingWidth
        let j = matcher.jointWidth
        let queries = (0..<(test.count * k)).flatMap { row in images[((row / k) * j)..<((row / k + 1) * j)] }
        XCTAssertEqual(test.embeddings.count, test.count * k * e)
        let r = RPrecision.compute(images: queries, truths: Array(0..<(test.count * k)), captions: try matcher.embed(captions: test.embeddings),
                                   groups: (0..<(test.count * k)).map { $0 / k }, width: j, seed: 0)
        print(String(format: "matcher: real R-precision %.1f%% on %d test captions, trained in %.1f s", 100 * r.rate, r.queries, seconds))
        XCTAssertEqual(r.candidates, 100)
        // Measured 60.0% (30 epochs, seed 0); the captions leave some images indistinguishable.
        XCTAssertGreaterThan(r.rate, 0.4, "real images far above the 1% chance")

        let again = try ImageTextMatcher.cached(datasetPath: Self.shapes, directory: cache)
        XCTAssertNil(again.training, "the second call reads the cache")
        XCTAssertEqual(again.url, url)
        XCTAssertEqual(try again.matcher.embed(bank.tensor()), images, "same weights after the round trip")
    }
}
