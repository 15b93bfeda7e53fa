import Foundation

extension Tensor {
    /// Mean binary cross-entropy of logits against a constant target t, computed stably as
    /// max(x,0) - x*t + log(1 + e^-|x|) (never sigmoid then log). d/dx = (sigmoid(x) - t) / count.
    public func binaryCrossEntropyWithLogits(target: Float) -> Tensor {
        let n = Float(Swift.max(count, 1))
        var total: Double = 0
        for i in 0..<count {
            let x = pointer[i]
            total += Double(Swift.max(x, 0) - x * target + log1p(Foundation.exp(-abs(x))))
        }
        return Tensor(repeating: Float(total / Double(n)), shape: []).recorded([self]) { [self] g in
            let scale = g.item / n
            return [map { x in
                let s = x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
                return (s - target) * scale
            }]
        }
    }
}
