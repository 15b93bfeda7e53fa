import XCTest
@testable import Autograd

/// Checks the gradients that `backward()` gives every input of `f` that requires one against central
/// finite differences, computed in Double.
///
/// The probe loss is L(x) = sum_i r_i f(x)_i with fixed random r (so every output element and every
/// path through the op matters), accumulated in Double from f's Float32 outputs. Its gradient by the
/// tape is x.grad after `backward(seed: r)`; numerically, dL/dx_j = (L(x + h e_j) - L(x - h e_j)) /
/// (x_j^+ - x_j^-), where x_j^+- are the Float32 values actually stored (so the division is exact).
///
/// Step and tolerance. h = 1e-2 * max(1, |x_j|). The estimate has two errors:
/// - truncation, (h^2 / 6) times the third derivative: none for the linear ops (add, linear, conv,
///   reshape, ...), and for the smooth ones at most ~5e-4 of the element itself (exp at |x| ~ 4,
///   where h = 0.04);
/// - rounding: f's Float32 outputs carry a few ulp (2^-24 relative) each, so L(x +- h) is off by a
///   few 2^-24 * sum_i |r_i f_i|, and the quotient by that over (x^+ - x^-) ~ 2h. For the linear ops
///   this is ~1e-5 of the gradient's scale; for the scalar losses it is larger (a mean BCE of logits
///   up to 100 is ~10 while its gradients are ~1/count).
/// So every element must satisfy
///     |analytic - numeric| <= 5e-3 |numeric| + 1e-3 max|numeric| + 16 * 2^-24 sum_i |r_i f_i| / (x^+ - x^-).
/// The worst errors measured are under a tenth of that (BCE's are the largest), yet a real bug (a wrong index, sign or factor, a
/// missed term or border) changes some elements by a sizeable fraction of the gradient's scale.
/// Inputs of ops with kinks (relu, leakyRelu) are kept >= 0.1 from the kink, beyond every step.
/// `independentInputs`: an input may get no gradient (second-order checks, where a first
/// gradient often does not depend on some input); its differences must then be zero.
func gradCheck(_ what: String, _ inputs: [Tensor], relativeStep: Double = 1e-2,
               tolerance: (relative: Double, ofMax: Double) = (5e-3, 1e-3), seed: UInt64 = 17, independentInputs: Bool = false,
               file: StaticString = #filePath, line: UInt = #line, _ f: () throws -> Tensor) throws {
    let checked = inputs.filter(\.requiresGrad)
    XCTAssertFalse(checked.isEmpty, "\(what): no input requires a gradient", file: file, line: line)
    for x in checked { x.zeroGrad() }
    let out = try f()
    var generator = RandomGenerator(seed: seed)
    let r = Tensor.randomNormal(out.shape, using: &generator)
    try out.backward(seed: r)

    /// L and sum_i |r_i f_i| (the scale of its rounding error).
    func probe() throws -> (loss: Double, magnitude: Double) {
        let y = try withoutGradients(f)
        var total = 0.0, magnitude = 0.0
        for i in 0..<y.count {
            let term = Double(r.pointer[i]) * Double(y.pointer[i])
            total += term
            magnitude += abs(term)
        }
        return (total, magnitude)
    }
    for (k, x) in checked.enumerated() {
        guard let analytic = x.grad ?? (independentInputs ? Tensor(repeating: 0, shape: x.shape) : nil) else {
            XCTFail("\(what): input \(k) got no gradient", file: file, line: line); continue
        }
        XCTAssertEqual(analytic.shape, x.shape, "\(what): gradient shape of input \(k)", file: file, line: line)
        var numeric = [Double](repeating: 0, count: x.count), rounding = numeric
        for j in 0..<x.count {
            let v = x.pointer[j], h = relativeStep * max(1, abs(Double(v)))
            x.pointer[j] = Float(Double(v) + h)
            let plus = Double(x.pointer[j]), lossPlus = try probe()
            x.pointer[j] = Float(Double(v) - h)
            let minus = Double(x.pointer[j]), lossMinus = try probe()
            x.pointer[j] = v
            numeric[j] = (lossPlus.loss - lossMinus.loss) / (plus - minus)
            rounding[j] = 16 * 0x1p-24 * max(lossPlus.magnitude, lossMinus.magnitude) / (plus - minus)
        }
        let scale = numeric.map(abs).max() ?? 0
        for j in 0..<x.count {
            let a = Double(analytic.pointer[j]), n = numeric[j]
            let allowed = tolerance.relative * abs(n) + tolerance.ofMax * scale + rounding[j]
            if !(abs(a - n) <= allowed) {
                XCTFail("\(what): d/dinput\(k)[\(j)] is \(a) by backward, \(n) by finite differences (allowed error \(allowed))",
                        file: file, line: line)
                break
            }
        }
        x.zeroGrad()
    }
}

/// Tolerance for an op's Float32 gradient against its exact derivative evaluated in Double: the
/// backward formulas are a handful of Float32 operations (each within half an ulp, ~6e-8), so 2e-6
/// (~30 ulp) relative to the element or the tensor's largest value is ample, and any wrong formula
/// is off by far more.
let exactDerivativeTolerance = 2e-6

/// Runs `backward(seed: r)` on `out` with fixed random r and returns r in Double: for elementwise
/// ops the exact input gradient is then r_i * f'(x_i).
func backwardWithRandomSeed(_ out: Tensor, seed: UInt64 = 23) throws -> [Double] {
    var generator = RandomGenerator(seed: seed)
    let r = Tensor.randomNormal(out.shape, using: &generator)
    try out.backward(seed: r)
    return r.scalars.map(Double.init)
}
