import Foundation

extension Tensor {
    /// The conditioning-augmentation KL term, KL(N(mu, e^logvar) || N(0, 1)) averaged over batch and
    /// dimensions: mean(-0.5 * (1 + logvar - mu^2 - e^logvar)). Called on mu; shapes must agree.
    /// d/dmu = mu / count, d/dlogvar = 0.5 * (e^logvar - 1) / count.
    public static func klDivergence(mu: Tensor, logVariance: Tensor) throws -> Tensor {
        try mu.checkSameShape(logVariance, "klDivergence")
        let n = Float(Swift.max(mu.count, 1))
        var total: Double = 0
        for i in 0..<mu.count {
            let m = Double(mu.pointer[i]), lv = Double(logVariance.pointer[i])
            total += -0.5 * (1 + lv - m * m - Foundation.exp(lv))
        }
        return Tensor(repeating: Float(total / Double(n)), shape: []).recorded([mu, logVariance]) { g in
            let scale = g.item / n
            return [mu.map { $0 * scale }, logVariance.map { 0.5 * (Foundation.exp($0) - 1) * scale }]
        }
    }
}
