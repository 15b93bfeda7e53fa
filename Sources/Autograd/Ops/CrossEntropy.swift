import Foundation

extension Tensor {
    /// Mean softmax cross-entropy of logits [N, K] against class indices `targets` (N of them, each
    /// in 0..<K, or -1 for a row without a label, which counts for neither the loss nor the mean),
    /// computed as logsumexp - x[target] with the row maximum subtracted first.
    /// d/dx = (softmax(x) - onehot(target)) / (labelled rows), 0 on unlabelled rows.
    public func softmaxCrossEntropy(targets: [Int]) throws -> Tensor {
        guard rank == 2, targets.count == shape[0], targets.allSatisfy({ $0 == -1 || (0..<shape[1]).contains($0) }) else {
            throw ShapeError("softmaxCrossEntropy", "logits \(shape) with \(targets.count) targets (each a column index or -1)")
        }
        let (n, k) = (shape[0], shape[1])
        let labelled = Float(Swift.max(targets.filter { $0 >= 0 }.count, 1))
        let probabilities = Tensor(repeating: 0, shape: [n, k])
        var total: Double = 0
        for r in 0..<n where targets[r] >= 0 {
            let row = pointer + r * k, p = probabilities.pointer + r * k
            var top = -Float.infinity
            for c in 0..<k { top = Swift.max(top, row[c]) }
            var z: Double = 0
            for c in 0..<k { p[c] = Foundation.exp(row[c] - top); z += Double(p[c]) }
            for c in 0..<k { p[c] = Float(Double(p[c]) / z) }
            total += log(z) + Double(top - row[targets[r]])
        }
        return Tensor(repeating: Float(total / Double(labelled)), shape: []).recorded([self]) { g in
            let scale = g.item / labelled
            let d = Tensor(repeating: 0, shape: [n, k])
            for r in 0..<n where targets[r] >= 0 {
                for c in 0..<k { d.pointer[r * k + c] = probabilities.pointer[r * k + c] * scale }
                d.pointer[r * k + targets[r]] -= scale
            }
            return [d]
        }
    }
}
