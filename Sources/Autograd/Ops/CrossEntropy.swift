import Foundation

extension Tensor {
    /// Mean softmax cross-entropy of logits [N, K] against class indices `targets` (N of them, each
    /// in 0..<K), computed as logsumexp - x[target] with the row maximum subtracted first.
    /// d/dx = (softmax(x) - onehot(target)) / N.
    public func softmaxCrossEntropy(targets: [Int]) throws -> Tensor {
        guard rank == 2, targets.count == shape[0], targets.allSatisfy({ (0..<shape[1]).contains($0) }) else {
            throw ShapeError("softmaxCrossEntropy", "logits \(shape) with \(targets.count) targets (each must be a column index)")
        }
        let (n, k) = (shape[0], shape[1])
        let probabilities = Tensor.uninitialized([n, k])
        var total: Double = 0
        for r in 0..<n {
            let row = pointer + r * k, p = probabilities.pointer + r * k
            var top = -Float.infinity
            for c in 0..<k { top = Swift.max(top, row[c]) }
            var z: Double = 0
            for c in 0..<k { p[c] = Foundation.exp(row[c] - top); z += Double(p[c]) }
            for c in 0..<k { p[c] = Float(Double(p[c]) / z) }
            total += log(z) + Double(top - row[targets[r]])
        }
        return Tensor(repeating: Float(total / Double(n)), shape: []).recorded([self]) { g in
            let scale = g.item / Float(n)
            let d = Tensor.uninitialized([n, k])
            for r in 0..<n {
                for c in 0..<k { d.pointer[r * k + c] = probabilities.pointer[r * k + c] * scale }
                d.pointer[r * k + targets[r]] -= scale
            }
            return [d]
        }
    }
}
