import Foundation

/// One trained and evaluated variant of an ablation.
public struct AblationRun: Codable, Equatable {
    public var head: DiscriminatorHead
    /// The techniques on in this run (`Technique.name`, the others off), or "" when the ablation
    /// kept the config's settings.
    public var techniques: String
    public var seed: UInt64
    public var runDirectory: String
    /// Wall time of training (the part of it this invocation ran, when a run was resumed).
    public var trainSeconds: Double
    public var report: EvaluationReport

    /// The run's sample grid and folder name: `<head>[+<techniques>]-seed<k>`.
    var gridName: String { "\(head.rawValue)\(techniques.isEmpty ? "" : "+" + techniques)-seed\(seed)" }
}

/// The summaries of an ablation's runs, beside its HTML report (`AblationReport`): per variant
/// (head and techniques) the mean and sample standard deviation over seeds of each metric, as
/// summary.md and summary.csv, and every run as runs.csv and runs.json.
public enum AblationSummary {
    /// The runs, as `ablate` rewrites them after every finished run; `stackgan report` reads them.
    static let runsFileName = "runs.json"

    /// The metrics summarised, by column name: what `summary.csv` and `summary.md` show.
    public static let metrics: [(name: String, title: String, value: (AblationRun) -> Double)] = [
        ("condition_accuracy", "condition acc.", { $0.report.conditionAccuracy }),
        ("r_precision", "R-precision", { $0.report.rPrecision ?? .nan }),
        ("fid", "feature FID", { $0.report.fid }),
        ("d_real", "D(real)", { $0.report.discriminator.real }),
        ("d_wrong", "D(wrong)", { $0.report.discriminator.wrong }),
        ("d_fake", "D(fake)", { $0.report.discriminator.fake }),
        ("d_separation", "D separation", { $0.report.discriminator.separation }),
        ("train_seconds", "train s", { $0.trainSeconds }),
    ]

    /// Mean and sample standard deviation (n - 1; 0 for a single run) of `values`.
    public static func meanAndSpread(_ values: [Double]) -> (mean: Double, spread: Double) {
        guard !values.isEmpty else { return (.nan, .nan) }
        let mean = values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else { return (mean, 0) }
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
        return (mean, variance.squareRoot())
    }

    /// summary.csv: one row per variant with `<metric>_mean` and `<metric>_std` columns.
    public static func summaryCSV(_ runs: [AblationRun]) -> String {
        var lines = [(["head", "techniques", "runs"] + metrics.flatMap { ["\($0.name)_mean", "\($0.name)_std"] }).joined(separator: ",")]
        for (head, techniques) in orderedVariants(runs) {
            let group = runs.filter { $0.head == head && $0.techniques == techniques }
            let cells = metrics.flatMap { metric -> [String] in
                let (mean, spread) = meanAndSpread(group.map(metric.value))
                return [String(format: "%.6g", mean), String(format: "%.6g", spread)]
            }
            lines.append(([head.rawValue, label(techniques), String(group.count)] + cells).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// summary.md: the same as a Markdown table of "mean ± std", with the ceiling and chance.
    public static func summaryMarkdown(_ runs: [AblationRun], config: ExperimentConfig) -> String {
        var text = "# Ablation: discriminator head and techniques, \(config.name) (stage \(config.stage), \(config.train.maxSteps) steps)\n\n"
        let notes = summaryNotes(runs)
        if !notes.isEmpty { text += notes.joined(separator: "\n") + "\n\n" }
        let (header, rows) = summaryTable(runs)
        text += "| " + header.joined(separator: " | ") + " |\n"
        text += "|---|---|---:|" + String(repeating: "---:|", count: metrics.count) + "\n"
        for row in rows { text += "| " + row.joined(separator: " | ") + " |\n" }
        text += "\nSample grids: " + runs.map { "[\($0.gridName)](samples/\($0.gridName).png)" }.joined(separator: ", ") + "\n"
        return text
    }

    /// The sentences above the summary table: the data evaluated on, the ceilings and chances.
    static func summaryNotes(_ runs: [AblationRun]) -> [String] {
        guard let first = runs.first?.report else { return [] }
        var line = "Evaluated on \(first.dataset) [\(first.split)], \(first.generatedImages) generated images per run; "
        line += String(format: "classifier real-image accuracy %.1f%% (ceiling), chance %.1f%% (majority class)", 100 * first.realAccuracy, 100 * first.chance)
        if let real = first.rPrecisionReal, let chance = first.rPrecisionChance {
            line += String(format: "; R-precision real-image ceiling %.1f%%, chance %.1f%%", 100 * real, 100 * chance)
        }
        var notes = [line + "."]
        for name in first.attributes.keys.sorted() {
            notes.append(String(format: "%@ accuracy: real-image ceiling %.1f%%, chance %.1f%%.", name,
                                100 * (first.attributesReal[name] ?? 0), 100 * (first.attributesMajority[name] ?? 0)))
        }
        return notes + ["Values are mean ± sample standard deviation over seeds."]
    }

    /// The summary table's header and one row of "mean ± std" cells per variant: what summary.md
    /// and the HTML report show.
    static func summaryTable(_ runs: [AblationRun]) -> (header: [String], rows: [[String]]) {
        let rows = orderedVariants(runs).map { head, techniques -> [String] in
            let group = runs.filter { $0.head == head && $0.techniques == techniques }
            let cells = metrics.map { metric -> String in
                let (mean, spread) = meanAndSpread(group.map(metric.value))
                return metric.name == "train_seconds" ? String(format: "%.1f ± %.1f", mean, spread) : String(format: "%.4f ± %.4f", mean, spread)
            }
            return [head.rawValue, label(techniques), String(group.count)] + cells
        }
        return (["head", "techniques", "runs"] + metrics.map(\.title), rows)
    }

    /// runs.csv: one row per run.
    public static func runsCSV(_ runs: [AblationRun]) -> String {
        var lines = [(["head", "techniques", "seed", "step"] + metrics.map(\.name) + ["run_directory"]).joined(separator: ",")]
        for run in runs {
            lines.append(([run.head.rawValue, label(run.techniques), String(run.seed), run.report.step.map(String.init) ?? ""]
                          + metrics.map { String(format: "%.6g", $0.value(run)) } + [run.runDirectory]).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// How a run's techniques read in the summaries.
    static func label(_ techniques: String) -> String { techniques.isEmpty ? "as configured" : techniques }

    static func orderedVariants(_ runs: [AblationRun]) -> [(DiscriminatorHead, String)] {
        var variants: [(DiscriminatorHead, String)] = []
        for run in runs where !variants.contains(where: { $0 == (run.head, run.techniques) }) { variants.append((run.head, run.techniques)) }
        return variants
    }

    /// Writes summary.md, summary.csv, runs.csv and runs.json of `runs` into `folder`.
    static func write(_ runs: [AblationRun], config: ExperimentConfig, to folder: URL) throws {
        func save(_ text: String, _ name: String) throws {
            try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try save(summaryMarkdown(runs, config: config), "summary.md")
        try save(summaryCSV(runs), "summary.csv")
        try save(runsCSV(runs), "runs.csv")
        try save(String(decoding: try JSONEncoder.readable.encode(runs), as: UTF8.self), runsFileName)
    }
}
