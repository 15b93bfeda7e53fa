import Autograd
import Datasets
import Foundation
@testable import StackGAN
import XCTest

/// The quality-gate metrics: matrix square root, Fréchet distance against closed forms, the
/// condition classifier on the bundled shapes data, and the evaluator on a tiny trained checkpoint.
final class EvaluationTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let shapes = repository.appendingPathComponent("data/shapes.h5").path

    /// A random symmetric positive definite d x d matrix B B^T + shift I.
    private func randomSPD(_ d: Int, shift: Double = 0.5, seed: UInt64) -> [Double] {
        var rng = RandomGenerator(seed: seed)
        let b = rng.normals(d * d).map(Double.init)
        var a = [Double](repeating: 0, count: d * d)
        for i in 0..<d { for j in 0..<d {
            for k in 0..<d { a[i * d + j] += b[i * d + k] * b[j * d + k] }
            if i == j { a[i * d + j] += shift }
        } }
        return a
    }

    private func assertClose(_ a: [Double], _ b: [Double], tolerance: Double, _ message: String, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, line: line)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, tolerance, "\(message): largest difference \(worst)", line: line)
    }

    // MARK: Linear algebra

    func testEigenvaluesOfAKnownMatrix() throws {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3 with eigenvectors (1, -1) and (1, 1) / sqrt 2.
        let eigen = try SymmetricEigen(symmetric: [2, 1, 1, 2], dimension: 2)
        XCTAssertEqual(eigen.values.sorted()[0], 1, accuracy: 1e-12)
        XCTAssertEqual(eigen.values.sorted()[1], 3, accuracy: 1e-12)
        assertClose(eigen.applying { $0 }, [2, 1, 1, 2], tolerance: 1e-12, "V diag(values) V^T rebuilds the matrix")
    }

    func testSquareRootSquaresBackToTheMatrix() throws {
        for d in [1, 5, 24] {
            let a = randomSPD(d, seed: UInt64(d))
            let root = try symmetricSquareRoot(a, dimension: d)
            assertClose(matrixProduct(root, root, dimension: d), a, tolerance: 1e-9 * Double(d), "sqrt(A)^2 = A for d = \(d)")
            for i in 0..<d { for j in 0..<d { XCTAssertEqual(root[i * d + j], root[j * d + i], accuracy: 1e-12) } }
            let eigen = try SymmetricEigen(symmetric: root, dimension: d)
            XCTAssertGreaterThan(eigen.values.min() ?? -1, 0, "the principal root is positive definite")
        }
        // diag(4, 9, 0): the root of a singular PSD matrix is diag(2, 3, 0).
        assertClose(try symmetricSquareRoot([4, 0, 0, 0, 9, 0, 0, 0, 0], dimension: 3), [2, 0, 0, 0, 3, 0, 0, 0, 0],
                    tolerance: 1e-12, "diagonal root")
    }

    func testEigenRejectsBadInput() {
        XCTAssertThrowsError(try SymmetricEigen(symmetric: [1, 2, 3], dimension: 2))
        XCTAssertThrowsError(try SymmetricEigen(symmetric: [1, .nan, .nan, 1], dimension: 2))
    }

    // MARK: Fréchet distance

    func testIdenticalFeatureSetsAreAtDistanceZero() throws {
        var rng = RandomGenerator(seed: 7)
        let features = rng.normals(300 * 16)
        XCTAssertEqual(try FrechetDistance.between(features: features, features, width: 16), 0, accuracy: 1e-8)
    }

    func testDiagonalGaussiansMatchTheClosedForm() throws {
        // Commuting covariances: |mu1 - mu2|^2 + sum (sqrt a_i - sqrt b_i)^2.
        let a = try GaussianFit(mean: [0, 1, 2], covariance: [1, 0, 0, 0, 4, 0, 0, 0, 9])
        let b = try GaussianFit(mean: [1, 1, 0], covariance: [4, 0, 0, 0, 1, 0, 0, 0, 0.25])
        let expected: Double = 5 + 8.25  // means 5, roots (1-2)^2 + (2-1)^2 + (3-0.5)^2
        XCTAssertEqual(try FrechetDistance.between(a, b), expected, accuracy: 1e-10)
    }

    func testNonCommutingTwoByTwoMatchesTheClosedForm() throws {
        // For 2x2 SPD M, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)); with M = S1^{1/2} S2 S1^{1/2},
        // tr M = tr(S1 S2) and det M = det S1 det S2.
        let s1: [Double] = [2, 0.6, 0.6, 1], s2: [Double] = [1, -0.4, -0.4, 3]
        let mu1: [Double] = [0.5, -1], mu2: [Double] = [0, 0.25]
        let trProduct: Double = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3]
        let det1: Double = s1[0] * s1[3] - s1[1] * s1[2], det2: Double = s2[0] * s2[3] - s2[1] * s2[2]
        let dx: Double = mu1[0] - mu2[0], dy: Double = mu1[1] - mu2[1]
        let traces: Double = s1[0] + s1[3] + s2[0] + s2[3]
        let rootTrace: Double = (trProduct + 2 * (det1 * det2).squareRoot()).squareRoot()
        let expected: Double = dx * dx + dy * dy + traces - 2 * rootTrace
        let distance = try FrechetDistance.between(GaussianFit(mean: mu1, covariance: s1), GaussianFit(mean: mu2, covariance: s2))
        XCTAssertEqual(distance, expected, accuracy: 1e-10)
        XCTAssertEqual(try FrechetDistance.between(GaussianFit(mean: mu2, covariance: s2), GaussianFit(mean: mu1, covariance: s1)),
                       expected, accuracy: 1e-10, "the distance is symmetric")
    }

    func testSampledGaussiansApproachTheClosedForm() throws {
        // x = mu + L z with L L^T = S: the fitted distance converges to the exact one.
        let n = 20000
        var rng = RandomGenerator(seed: 3)
        func samples(_ mu: [Float], _ l: [Float]) -> [Float] {
            let z = rng.normals(2 * n)
            var out = [Float](repeating: 0, count: 2 * n)
            for r in 0..<n {
                let (z0, z1) = (z[2 * r], z[2 * r + 1])
                out[2 * r] = mu[0] + l[0] * z0
                out[2 * r + 1] = mu[1] + l[2] * z0 + l[3] * z1
            }
            return out
        }
        // Cholesky factors of S1 = [[4, 2], [2, 2]] and S2 = [[1, 0], [0, 9]].
        let a = samples([1, 0], [2, 0, 1, 1]), b = samples([0, 2], [1, 0, 0, 3])
        let exact = try FrechetDistance.between(GaussianFit(mean: [1, 0], covariance: [4, 2, 2, 2]),
                                                GaussianFit(mean: [0, 2], covariance: [1, 0, 0, 9]))
        let fitted = try FrechetDistance.between(features: a, b, width: 2)
        XCTAssertEqual(fitted, exact, accuracy: 0.03 * exact)
    }

    func testFrechetDistanceRejectsMismatchedInput() {
        XCTAssertThrowsError(try FrechetDistance.between(features: [1, 2, 3, 4], [1, 2, 3, 4, 5, 6], width: 3))
        XCTAssertThrowsError(try FrechetDistance.between(features: [1, 2], [1, 2, 3, 4], width: 2), "one row has no covariance")
        XCTAssertThrowsError(try FrechetDistance.between(GaussianFit(mean: [0], covariance: [1]),
                                                         GaussianFit(mean: [0, 0], covariance: [1, 0, 0, 1])))
    }

    func testDownsamplingAveragesBlocks() throws {
        // One 4x4 plane -> 2x2 block means; 64 px passes through unchanged.
        let image = try Tensor(shape: [1, 1, 4, 4], scalars: (0..<16).map(Float.init))
        XCTAssertEqual(try downsampled(image, to: 2).scalars, [2.5, 4.5, 10.5, 12.5])
        XCTAssertThrowsError(try downsampled(image, to: 3))
        let small = Tensor(repeating: 0.5, shape: [1, 3, 64, 64])
        XCTAssertTrue(try downsampled(small, to: 64) === small)
    }

    // MARK: Classifier

    func testClassifierLearnsShapesAndIsCached() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("classifier-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let start = Date()
        let (classifier, url, training) = try ConditionClassifier.cached(datasetPath: Self.shapes, directory: cache, log: { print($0) })
        let seconds = Date().timeIntervalSince(start)
        XCTAssertNotNil(training, "the first call trains")
        XCTAssertEqual(classifier.classCount, 30)
        let test = try TextImageDataset.open(path: Self.shapes, split: "test")
        let (accuracy, counted, unknown) = try classifier.realAccuracy(on: test)
        print(String(format: "classifier: %.1f%% on %d real test images, trained in %.1f s", 100 * accuracy, counted, seconds))
        XCTAssertEqual(counted, 200)
        XCTAssertEqual(unknown, 0)
        XCTAssertGreaterThan(accuracy, 0.9, "colour and shape are easy on real images")
        XCTAssertEqual(classifier.attributeHeads.map(\.name), ["background", "color", "shape", "size"])
        let prediction = try classifier.predict(RealImages.decode(test, indices: Array(0..<test.count), loadSize: 76, cropSize: 64).tensor())
        for (h, head) in classifier.heads.enumerated().dropFirst() {
            let truth = classifier.headLabels(of: test)[h]
            let (attributeAccuracy, attributeCounted) = labelAccuracy(predicted: prediction.labels[h], truth: truth)
            print(String(format: "classifier: %@ %.1f%% on real test images (majority %.1f%%)", head.name, 100 * attributeAccuracy,
                         100 * majorityRate(truth)))
            XCTAssertEqual(attributeCounted, 200, head.name)
            if ["color", "shape"].contains(head.name) { XCTAssertGreaterThan(attributeAccuracy, 0.9, head.name) }
            XCTAssertGreaterThan(attributeAccuracy, majorityRate(truth), "\(head.name) is learned at all")
        }

        let again = try ConditionClassifier.cached(datasetPath: Self.shapes, directory: cache)
        XCTAssertNil(again.training, "the second call reads the cache")
        XCTAssertEqual(again.url, url)
        XCTAssertEqual(again.classifier.classNames, classifier.classNames)
        let probe = Tensor.randomNormal([4, 3, 64, 64], using: &Self.probeRNG)
        XCTAssertEqual(try again.classifier.predict(probe).features, try classifier.predict(probe).features, "same weights after the round trip")
        XCTAssertEqual(try again.classifier.predict(probe).labels, try classifier.predict(probe).labels, "every head survives the round trip")
    }

    nonisolated(unsafe) private static var probeRNG = RandomGenerator(seed: 11)
}
