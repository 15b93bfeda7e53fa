import CDNNL

/// Row-major single-precision matrix multiply through oneDNN's sgemm:
/// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, op = transpose when the flag is set.
public enum Gemm {
    public static func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                alpha: Float = 1, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                beta: Float = 0, c: UnsafeMutablePointer<Float>) throws {
        let lda = transposeA ? m : k
        let ldb = transposeB ? k : n
        try check(dnnl_sgemm(CChar(UInt8(ascii: transposeA ? "T" : "N")), CChar(UInt8(ascii: transposeB ? "T" : "N")),
                             Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda), b, Int64(ldb), beta, c, Int64(n)),
                  "sgemm \(m)x\(k) * \(k)x\(n)")
        KernelStatistics.flops += 2 * Double(m) * Double(n) * Double(k)
    }
}
