import Foundation

// The Fréchet distance between Gaussians, in Double throughout: feature covariances are
// accumulated from thousands of rows and the trace term subtracts nearly equal numbers, so Float
// would lose the small distances that matter most.
// Shape letters: n samples, d feature width. Matrices are d x d, row-major [Double].

/// A symmetric matrix's eigendecomposition A = V diag(values) V^T by cyclic Jacobi rotations.
/// `vectors` is d x d row-major with the eigenvectors as columns. Jacobi is used because it is
/// short, needs no library, and is accurate to machine precision for the small (d <= a few
/// hundred) feature widths our classifier has.
public struct SymmetricEigen {
    public let values: [Double]
    public let vectors: [Double]
    public let dimension: Int

    /// `matrix` is d x d row-major; only its symmetric part is used (A + A^T) / 2, so round-off
    /// asymmetry in a product such as S1^{1/2} S2 S1^{1/2} cannot bias the result.
    public init(symmetric matrix: [Double], dimension d: Int, maxSweeps: Int = 100) throws {
        guard d >= 0, matrix.count == d * d else {
            throw EvaluationError("eigendecomposition: \(matrix.count) values do not form a \(d) x \(d) matrix")
        }
        var a = matrix
        for i in 0..<d { for j in (i + 1)..<d {
            let m = (a[i * d + j] + a[j * d + i]) / 2
            a[i * d + j] = m; a[j * d + i] = m
        } }
        guard a.allSatisfy(\.isFinite) else { throw EvaluationError("eigendecomposition: the matrix has non-finite entries") }
        var v = [Double](repeating: 0, count: d * d)
        for i in 0..<d { v[i * d + i] = 1 }
        let scale = max(a.reduce(0) { $0 + $1 * $1 }, Double.leastNormalMagnitude)
        for _ in 0..<maxSweeps {
            var off = 0.0
            for i in 0..<d { for j in 0..<d where i != j { off += a[i * d + j] * a[i * d + j] } }
            if off <= 1e-30 * scale { break }
            for p in 0..<d { for q in (p + 1)..<d {
                let apq = a[p * d + q]
                if apq == 0 { continue }
                // The rotation angle that zeroes a[p][q] (Golub & Van Loan, Algorithm 8.4.1).
                let theta = (a[q * d + q] - a[p * d + p]) / (2 * apq)
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<d {  // columns p and q
                    let akp = a[k * d + p], akq = a[k * d + q]
                    a[k * d + p] = c * akp - s * akq
                    a[k * d + q] = s * akp + c * akq
                }
                for k in 0..<d {  // rows p and q
                    let apk = a[p * d + k], aqk = a[q * d + k]
                    a[p * d + k] = c * apk - s * aqk
                    a[q * d + k] = s * apk + c * aqk
                }
                for k in 0..<d {
                    let vkp = v[k * d + p], vkq = v[k * d + q]
                    v[k * d + p] = c * vkp - s * vkq
                    v[k * d + q] = s * vkp + c * vkq
                }
            } }
        }
        values = (0..<d).map { a[$0 * d + $0] }
        vectors = v
        dimension = d
    }

    /// V diag(f(values)) V^T: a function of the matrix.
    public func applying(_ f: (Double) -> Double) -> [Double] {
        let d = dimension
        let fv = values.map(f)
        var out = [Double](repeating: 0, count: d * d)
        for i in 0..<d { for j in i..<d {
            var s = 0.0
            for k in 0..<d { s += vectors[i * d + k] * fv[k] * vectors[j * d + k] }
            out[i * d + j] = s; out[j * d + i] = s
        } }
        return out
    }
}

/// The principal square root of a symmetric positive semi-definite d x d matrix (row-major).
/// Eigenvalues that round-off made slightly negative are taken as 0: a covariance estimated from
/// fewer samples than dimensions is singular, and its square root is still well defined.
public func symmetricSquareRoot(_ matrix: [Double], dimension: Int) throws -> [Double] {
    try SymmetricEigen(symmetric: matrix, dimension: dimension).applying { max($0, 0).squareRoot() }
}

/// C = A B for d x d row-major matrices.
func matrixProduct(_ a: [Double], _ b: [Double], dimension d: Int) -> [Double] {
    var c = [Double](repeating: 0, count: d * d)
    for i in 0..<d { for k in 0..<d {
        let aik = a[i * d + k]
        if aik == 0 { continue }
        for j in 0..<d { c[i * d + j] += aik * b[k * d + j] }
    } }
    return c
}

/// A Gaussian fitted to feature rows: `mean` [d] and the unbiased `covariance` [d x d] (divided by
/// n - 1, as numpy.cov and pytorch-fid do).
public struct GaussianFit: Codable, Equatable {
    public let mean: [Double]
    public let covariance: [Double]
    public let dimension: Int
    /// Rows it was fitted to.
    public let count: Int

    public init(mean: [Double], covariance: [Double], count: Int = 0) throws {
        guard covariance.count == mean.count * mean.count else {
            throw EvaluationError("Gaussian: covariance of \(covariance.count) values for a mean of width \(mean.count)")
        }
        self.mean = mean; self.covariance = covariance; dimension = mean.count; self.count = count
    }

    /// Fits `features` [n, d] row-major; needs n >= 2.
    public init(features: [Float], width d: Int) throws {
        guard d > 0, features.count % d == 0 else {
            throw EvaluationError("Gaussian: \(features.count) feature values are not rows of width \(d)")
        }
        let n = features.count / d
        guard n >= 2 else { throw EvaluationError("Gaussian: a covariance needs at least 2 feature rows, got \(n)") }
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<n { for j in 0..<d { mean[j] += Double(features[r * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        var cov = [Double](repeating: 0, count: d * d)
        var centred = [Double](repeating: 0, count: d)
        for r in 0..<n {
            for j in 0..<d { centred[j] = Double(features[r * d + j]) - mean[j] }
            for i in 0..<d where centred[i] != 0 { for j in i..<d { cov[i * d + j] += centred[i] * centred[j] } }
        }
        for i in 0..<d { for j in i..<d {
            cov[i * d + j] /= Double(n - 1)
            cov[j * d + i] = cov[i * d + j]
        } }
        try self.init(mean: mean, covariance: cov, count: n)
    }
}

/// The Fréchet (2-Wasserstein) distance between Gaussians, the quantity FID reports:
/// |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^{1/2} S2 S1^{1/2})^{1/2}).
/// The trace term uses the symmetric form rather than sqrt(S1 S2): S1 S2 is not symmetric, and
/// the symmetric product has the same eigenvalues while keeping the eigenproblem well conditioned.
public enum FrechetDistance {
    public static func between(_ a: GaussianFit, _ b: GaussianFit) throws -> Double {
        guard a.dimension == b.dimension else {
            throw EvaluationError("Fréchet distance: feature widths \(a.dimension) and \(b.dimension) differ")
        }
        let d = a.dimension
        let meanTerm = zip(a.mean, b.mean).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let traceA = (0..<d).reduce(0) { $0 + a.covariance[$1 * d + $1] }
        let traceB = (0..<d).reduce(0) { $0 + b.covariance[$1 * d + $1] }
        let rootA = try symmetricSquareRoot(a.covariance, dimension: d)
        let inner = matrixProduct(matrixProduct(rootA, b.covariance, dimension: d), rootA, dimension: d)
        let traceRoot = try SymmetricEigen(symmetric: inner, dimension: d).values.reduce(0) { $0 + max($1, 0).squareRoot() }
        // Never below zero: round-off can push identical fits a hair negative.
        return max(0, meanTerm + traceA + traceB - 2 * traceRoot)
    }

    /// From feature rows [n1, d] and [n2, d].
    public static func between(features a: [Float], _ b: [Float], width: Int) throws -> Double {
        try between(GaussianFit(features: a, width: width), GaussianFit(features: b, width: width))
    }
}
