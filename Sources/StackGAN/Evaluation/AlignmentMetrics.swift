import Autograd
import Foundation

/// R-precision (AttnGAN's text-image alignment score): for each query image, its own caption is
/// ranked among `candidates` captions (it and candidates - 1 captions of other images, drawn at
/// random without replacement) by cosine similarity; R-precision is the rate at which the own
/// caption ranks first. Captions of the same image (the same `group`) are never negatives; a tie
/// with a negative counts as a miss.
public struct RPrecision: Equatable {
    /// Top-1 rate over the queries.
    public var rate: Double
    /// Mean of 1 / (candidates the query was ranked among): what random similarities score.
    public var chance: Double
    /// The most candidates any query had (100 unless the split has fewer captions of other images).
    public var candidates: Int
    public var queries: Int

    /// - Parameters:
    ///   - images: query embeddings [Q * width]; need not be normalised.
    ///   - truths: the index into `captions` of each query's own caption [Q].
    ///   - captions: caption embeddings [M * width].
    ///   - groups: the image each caption describes [M] (e.g. its example's `name`).
    public static func compute(images: [Float], truths: [Int], captions: [Float], groups: [Int], width: Int,
                               candidates: Int = 100, seed: UInt64 = 0) -> RPrecision {
        let queries = truths.count, m = groups.count
        precondition(images.count == queries * width && captions.count == m * width && candidates >= 1, "R-precision: shapes disagree")
        let u = l2Normalized(rows: images, width: width), t = l2Normalized(rows: captions, width: width)
        func cosine(_ q: Int, _ c: Int) -> Float {
            var dot: Float = 0
            for j in 0..<width { dot += u[q * width + j] * t[c * width + j] }
            return dot
        }
        var captionsPerGroup: [Int: Int] = [:]
        for g in groups { captionsPerGroup[g, default: 0] += 1 }
        var rng = RandomGenerator(seed: seed)
        var hits = 0, chance = 0.0, most = 0
        for q in 0..<queries {
            let truth = truths[q], group = groups[truth]
            let available = m - captionsPerGroup[group, default: 0]
            var negatives: [Int]
            if available <= candidates - 1 {
                negatives = (0..<m).filter { groups[$0] != group }
            } else {
                // Rejection sampling: cheap while 99 is small beside the caption count.
                var chosen = Set<Int>()
                while chosen.count < candidates - 1 {
                    let c = Int(rng.next() % UInt64(m))
                    if groups[c] != group { chosen.insert(c) }
                }
                negatives = chosen.sorted()
            }
            let own = cosine(q, truth)
            if negatives.allSatisfy({ cosine(q, $0) < own }) { hits += 1 }
            chance += 1 / Double(negatives.count + 1)
            most = max(most, negatives.count + 1)
        }
        return RPrecision(rate: Double(hits) / Double(max(queries, 1)), chance: chance / Double(max(queries, 1)),
                          candidates: most, queries: queries)
    }
}

/// The share of the most frequent label among the labelled entries: what a generator that always
/// draws the most common class scores (1 / classes only when the classes are balanced).
public func majorityRate(_ labels: [Int?]) -> Double {
    var counts: [Int: Int] = [:]
    for label in labels { if let label { counts[label, default: 0] += 1 } }
    let labelled = counts.values.reduce(0, +)
    return labelled == 0 ? 0 : Double(counts.values.max() ?? 0) / Double(labelled)
}

/// Fraction of labelled entries (truth not nil) where `predicted` equals `truth`, and how many were counted.
public func labelAccuracy(predicted: [Int], truth: [Int?]) -> (accuracy: Double, counted: Int) {
    precondition(predicted.count == truth.count, "accuracy: \(predicted.count) predictions for \(truth.count) labels")
    let counted = truth.compactMap { $0 }.count
    let correct = zip(predicted, truth).filter { $0.1 == $0.0 }.count
    return (counted == 0 ? 0 : Double(correct) / Double(counted), counted)
}
