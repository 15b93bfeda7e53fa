import Foundation

/// Mean sigmoid of the checkpoint discriminator's logits on the three kinds of pair, in eval mode.
/// A discriminator that learned the condition puts `real` high and both `wrong` and `fake` low.
public struct DiscriminatorScores: Codable, Equatable {
    /// Match head on (real image i, caption i).
    public var real: Double
    /// Match head on (real image of another class, caption i).
    public var wrong: Double
    /// Match head on (generated image for caption i, caption i).
    public var fake: Double
    /// Split head only: the realness head on real and on generated images.
    public var realnessReal: Double?
    public var realnessFake: Double?
    /// real - max(wrong, fake): positive when D ranks the true pairs above both kinds of negative.
    public var separation: Double { real - max(wrong, fake) }
}

/// Everything `stackgan evaluate` reports (also written as JSON with snake_case keys).
public struct EvaluationReport: Codable, Equatable {
    public var checkpoint: String
    public var dataset: String
    public var split: String
    public var family: String
    public var stage: Int
    public var head: String
    /// The training step the checkpoint was written at (nil when the metadata has none).
    public var step: Int?
    public var examples: Int
    public var generatedImages: Int
    public var samplesPerCaption: Int
    public var seed: UInt64
    public var classifierPath: String
    public var classes: Int
    /// Fraction of generated images the classifier assigns their caption's class.
    public var conditionAccuracy: Double
    /// The classifier's accuracy on the split's real images: the ceiling of `conditionAccuracy`.
    public var realAccuracy: Double
    /// What a generator that ignores the caption scores at best: the majority-class rate of the
    /// split (equal to 1 / classes only when the classes are balanced).
    public var chance: Double
    /// The share of the split's most frequent class.
    public var majorityRate: Double
    /// Set when the classifier's real accuracy is not clearly above `majorityRate` (it closes less
    /// than a quarter of the gap to 100%): condition accuracy then says little.
    public var classifierWarning: String?
    /// Per attribute label of the dataset (`color`, `shape`, `size`, `background` on shapes.h5):
    /// the classifier's accuracy on generated images, on the split's real images (the ceiling)
    /// and the attribute's majority rate (chance). Empty when the dataset has no attribute labels.
    public var attributes: [String: Double]
    public var attributesReal: [String: Double]
    public var attributesMajority: [String: Double]
    /// The same accuracy over the generated images whose caption names one of the attribute's
    /// labels as a word ("gray" in "on a gray background"; "tiny" names no size label), and the
    /// share of captions that do: a caption that leaves the background out cannot be drawn with
    /// the right one except by chance, so `attributes` has a ceiling below 100% where captions
    /// leave attributes out, and this one does not.
    /// (Optional: reports written before these existed have neither.)
    public var attributesNamed: [String: Double]? = nil
    public var attributesNamedShare: [String: Double]? = nil
    /// R-precision of generated images, of the split's real images (the ceiling) and of random
    /// scores (1 / candidates), from `matcherPath`'s image-text matcher; nil without a matcher.
    public var rPrecision: Double?
    public var rPrecisionReal: Double?
    public var rPrecisionChance: Double?
    /// Captions each query was ranked among (100, fewer on a small split).
    public var rPrecisionCandidates: Int?
    public var matcherPath: String?
    /// Set when the matcher's real-image R-precision is not clearly above chance (a matcher of
    /// another dataset, or a damaged one): R-precision then says little.
    public var matcherWarning: String?
    /// Fréchet distance between Gaussians fitted to the classifier's penultimate features of the
    /// split's real images and of the generated ones (lower is better).
    public var fid: Double
    public var discriminator: DiscriminatorScores
    /// Images larger than the classifier's 64 px (Stage-II) only: edge sharpness and high-frequency
    /// share of the generated images, of the split's real crops (the ceiling) and of the same crops
    /// taken to 64 px and back up by bicubic interpolation (what upscaling a perfect 64 px image gives).
    public var detail: DetailScores? = nil
    public var detailReal: DetailScores? = nil
    public var detailUpscaled: DetailScores? = nil
    /// Examples left out of the accuracies because their class is unknown to the classifier.
    public var unlabelledExamples: Int
    public var seconds: Double

    /// The warning for a classifier whose real accuracy is not clearly above the majority rate.
    static func classifierWarning(realAccuracy: Double, majorityRate: Double) -> String? {
        guard realAccuracy < majorityRate + 0.25 * (1 - majorityRate) else { return nil }
        return String(format: "the classifier scores %.1f%% on real images, not clearly above the majority-class rate %.1f%%: "
                      + "condition accuracy is not informative", 100 * realAccuracy, 100 * majorityRate)
    }

    /// The warning for a matcher whose real-image R-precision is not clearly above chance.
    static func matcherWarning(realRate: Double, chance: Double) -> String? {
        guard realRate < chance + 0.25 * (1 - chance) else { return nil }
        return String(format: "the matcher ranks real images' own captions first %.1f%% of the time, not clearly above chance %.1f%%: "
                      + "R-precision is not informative (a matcher of another dataset, or damaged weights?)", 100 * realRate, 100 * chance)
    }

    /// A plain-text table for the terminal.
    public var table: String {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    /// The report as (label, value) rows: what `table` and the HTML run report show.
    var rows: [(String, String)] {
        func pct(_ v: Double) -> String { String(format: "%6.2f%%", 100 * v) }
        func num(_ v: Double) -> String { String(format: "%.4f", v) }
        let uniform = 1 / Double(max(classes, 1))
        var rows: [(String, String)] = [
            ("checkpoint", checkpoint + (step.map { " (step \($0))" } ?? "")),
            ("model", "\(family) stage \(stage), \(head) head"),
            ("data", "\(dataset) [\(split)]: \(examples) examples, \(generatedImages) generated (\(samplesPerCaption) per caption, seed \(seed))"),
            ("classifier", "\(classifierPath) (\(classes) classes)"),
            ("condition accuracy", pct(conditionAccuracy)),
            ("  real-image ceiling", pct(realAccuracy)),
            ("  chance", pct(chance) + (majorityRate > uniform * 1.05
                ? String(format: " (majority class; classes unbalanced, 1/%d = %.2f%%)", classes, 100 * uniform) : " (majority class)")),
        ]
        if let classifierWarning { rows.append(("  WARNING", classifierWarning)) }
        for name in attributes.keys.sorted() {
            rows.append(("\(name) accuracy", pct(attributes[name] ?? 0) + "  (real " + pct(attributesReal[name] ?? 0).trimmingCharacters(in: .whitespaces)
                         + ", chance " + pct(attributesMajority[name] ?? 0).trimmingCharacters(in: .whitespaces) + ")"))
            if let named = attributesNamed?[name], let share = attributesNamedShare?[name], share > 0 {
                rows.append(("  captions naming it", pct(named) + "  (" + pct(share).trimmingCharacters(in: .whitespaces) + " of captions)"))
            }
        }
        if let rPrecision, let real = rPrecisionReal, let chance = rPrecisionChance {
            rows += [("R-precision", pct(rPrecision)), ("  real-image ceiling", pct(real)),
                     ("  chance", pct(chance) + " (1 in \(rPrecisionCandidates ?? 0) candidates)")]
            if let matcherPath { rows.append(("  matcher", matcherPath)) }
            if let matcherWarning { rows.append(("  WARNING", matcherWarning)) }
        }
        rows += [
            ("feature FID", String(format: "%.4f", fid)),
            ("D(real pair)", num(discriminator.real)),
            ("D(wrong pair)", num(discriminator.wrong)),
            ("D(fake pair)", num(discriminator.fake)),
            ("  separation", num(discriminator.separation)),
        ]
        if let r = discriminator.realnessReal, let f = discriminator.realnessFake {
            rows += [("realness(real)", num(r)), ("realness(fake)", num(f))]
        }
        if let detail, let real = detailReal, let up = detailUpscaled {
            rows += [("edge sharpness", num(detail.edgeSharpness)), ("  real crops", num(real.edgeSharpness)),
                     ("  real crops via 64 px, bicubic", num(up.edgeSharpness)),
                     ("high-frequency share", num(detail.highFrequencyShare)), ("  real crops", num(real.highFrequencyShare)),
                     ("  real crops via 64 px, bicubic", num(up.highFrequencyShare))]
        }
        if unlabelledExamples > 0 { rows.append(("unlabelled examples", String(unlabelledExamples))) }
        rows.append(("time", String(format: "%.1f s", seconds)))
        return rows
    }

    /// The report as pretty JSON with snake_case keys (and `separation` spelled out).
    public func json() throws -> Data {
        let encoder = JSONEncoder.readable
        let object = try JSONSerialization.jsonObject(with: encoder.encode(self))
        guard var dictionary = object as? [String: Any], var d = dictionary["discriminator"] as? [String: Any] else {
            return try encoder.encode(self)
        }
        d["separation"] = discriminator.separation
        dictionary["discriminator"] = d
        return try JSONSerialization.data(withJSONObject: dictionary, options: [.prettyPrinted, .sortedKeys])
    }
}
