import Foundation

extension Tensor {
    /// e^x elementwise. d/dx = g * e^x.
    public func exp() -> Tensor {
        let out = map16(Self.exp16)
        let saved = out.storage
        return out.recorded([self]) { g in [g.zipMap(Tensor(shape: g.shape, storage: saved), *)] }
    }

    /// e^x on 16 lanes (Cephes' `expf`): x = n ln 2 + r with |r| <= ln 2 / 2, e^r by a degree-7
    /// polynomial, 2^n put into the exponent bits; within 2 ulp of e^x. Below -86.5 (e^x < 3e-38,
    /// near the subnormals) it returns 0, above 88.72 infinity; NaN stays NaN. glibc's scalar
    /// `expf` was 6% of Stage-II's step, in the mix head's softmaxes.
    @inline(__always)
    static func exp16(_ value: SIMD16<Float>) -> SIMD16<Float> {
        // Written with scalar operands and selects, as `tanh16`: they compile to vector code.
        let x = value.replacing(with: -86.5, where: value .< -86.5).replacing(with: 88.8, where: value .> 88.8)
        // n = round(x / ln 2) by the 1.5 * 2^23 trick: the sum's low mantissa bits hold n.
        let shifted = x * 1.44269504088896341 + 12582912
        let n = shifted - 12582912
        let r = x - n * 0.693359375 + n * 2.12194440e-4
        var p = SIMD16<Float>(repeating: 1.9875691500e-4)
        p = p * r + SIMD16(repeating: 1.3981999507e-3)
        p = p * r + SIMD16(repeating: 8.3334519073e-3)
        p = p * r + SIMD16(repeating: 4.1665795894e-2)
        p = p * r + SIMD16(repeating: 1.6666665459e-1)
        p = p * r + SIMD16(repeating: 5.0000001201e-1)
        p = p * (r * r) + r + 1
        // 2^n: n + 127 into the exponent field. n runs -125...128, and 2^128 must overflow to
        // infinity through two factors (2^(n-1) * 2): 255 in the field alone would read as infinity.
        let bits = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let half = unsafeBitCast((bits &+ 126) &<< 23, to: SIMD16<Float>.self)
        return (p * half * 2).replacing(with: 0, where: value .< -86.5).replacing(with: value, where: value .!= value)
    }
}
