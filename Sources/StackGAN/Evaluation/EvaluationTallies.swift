import Autograd
import Datasets
import Foundation

// Shape letters: B examples in a chunk, F classifier feature width, E embedding width.

/// What the evaluation models say about one source of images (the split's real images, or the
/// generated ones), gathered chunk by chunk and turned into metrics at the end.
struct ImageTally {
    /// Classifier features [images * F], for the FID.
    var features: [Float] = []
    /// predicted[h], truth[h]: head h's label of each image and the true label of its example.
    var predicted: [[Int]]
    var truth: [[Int?]]
    /// Matcher embeddings [queries * E] and the caption row (example * K + caption) each is scored against.
    var embeddings: [Float] = []
    var captionRows: [Int] = []
    /// Generated images only: the caption row (example * K + caption) each was drawn from.
    var sources: [Int] = []

    init(heads: Int) {
        predicted = Array(repeating: [], count: heads)
        truth = Array(repeating: [], count: heads)
    }

    /// Classifier output for images of `examples` (one image per example, in order).
    mutating func add(_ prediction: ConditionClassifier.Prediction, examples: [Int], labels: [[Int?]]) {
        features += prediction.features
        for h in predicted.indices {
            predicted[h] += prediction.labels[h]
            truth[h] += examples.map { labels[h][$0] }
        }
    }

    /// Matcher embeddings [B * E] of images, image b scored against each of `captions[b]` rows.
    mutating func add(embeddings values: [Float], width: Int, captions: [[Int]]) {
        for (b, rows) in captions.enumerated() {
            for row in rows {
                embeddings += values[(b * width)..<((b + 1) * width)]
                captionRows.append(row)
            }
        }
    }

    /// Head h's accuracy over the images whose example has a label.
    func accuracy(head h: Int) -> Double { labelAccuracy(predicted: predicted[h], truth: truth[h]).accuracy }

    /// Head h's accuracy over the generated images whose caption `names` (by caption row), and the
    /// share of labelled images whose caption does: a caption that leaves an attribute out leaves
    /// the generator free to draw any value of it.
    func accuracy(head h: Int, where names: (Int) -> Bool) -> (accuracy: Double, share: Double) {
        let kept = sources.indices.filter { names(sources[$0]) }
        let result = labelAccuracy(predicted: kept.map { predicted[h][$0] }, truth: kept.map { truth[h][$0] })
        let labelled = truth[h].filter { $0 != nil }.count
        return (result.accuracy, Double(kept.filter { truth[h][$0] != nil }.count) / Double(max(labelled, 1)))
    }
}

/// Running means of the checkpoint discriminator's sigmoid outputs on real, wrong and fake pairs.
struct DiscriminatorTally {
    var sums = (real: 0.0, wrong: 0.0, fake: 0.0, realnessReal: 0.0, realnessFake: 0.0)
    var pairs = (real: 0, wrong: 0, fake: 0)

    mutating func addFake(_ logits: DiscriminatorLogits, count b: Int) {
        sums.fake += meanSigmoid(logits.match) * Double(b); pairs.fake += b
        if let r = logits.real { sums.realnessFake += meanSigmoid(r) * Double(b) }
    }

    mutating func addReal(_ logits: DiscriminatorLogits, count b: Int) {
        sums.real += meanSigmoid(logits.match) * Double(b); pairs.real += b
        if let r = logits.real { sums.realnessReal += meanSigmoid(r) * Double(b) }
    }

    mutating func addWrong(_ logits: DiscriminatorLogits, count b: Int) {
        sums.wrong += meanSigmoid(logits.match) * Double(b); pairs.wrong += b
    }

    func scores(splitHead: Bool) -> DiscriminatorScores {
        func mean(_ sum: Double, _ n: Int) -> Double { sum / Double(max(n, 1)) }
        return DiscriminatorScores(real: mean(sums.real, pairs.real), wrong: mean(sums.wrong, pairs.wrong),
                                   fake: mean(sums.fake, pairs.fake),
                                   realnessReal: splitHead ? mean(sums.realnessReal, pairs.real) : nil,
                                   realnessFake: splitHead ? mean(sums.realnessFake, pairs.fake) : nil)
    }
}

/// Mean of 1 / (1 + e^-x) over logits [N], in Double.
func meanSigmoid(_ logits: Tensor) -> Double {
    guard logits.count > 0 else { return 0 }
    var total = 0.0
    for i in 0..<logits.count { total += 1 / (1 + Foundation.exp(-Double(logits.pointer[i]))) }
    return total / Double(logits.count)
}

/// Rows `indices` of t [N, ...] -> [indices.count, ...] (no graph: evaluation only).
func rows(_ t: Tensor, _ indices: [Int]) throws -> Tensor {
    let n = t.shape.first ?? 0, row = t.count / max(n, 1)
    var values = [Float](repeating: 0, count: indices.count * row)
    for (slot, index) in indices.enumerated() {
        guard (0..<n).contains(index) else { throw EvaluationError("row \(index) of a batch of \(n)") }
        for j in 0..<row { values[slot * row + j] = t.pointer[index * row + j] }
    }
    return try Tensor(shape: [indices.count] + t.shape.dropFirst(), scalars: values)
}
