import Foundation

/// One trained and evaluated variant of an ablation.
public struct AblationRun: Codable, Equatable {
    public var head: DiscriminatorHead
    public var seed: UInt64
    public var runDirectory: String
    /// Wall time of training (the part of it this invocation ran, when a run was resumed).
    public var trainSeconds: Double
    public var report: EvaluationReport
}

/// Trains every discriminator-head variant of one config for several seeds with the same data and
/// step budget, evaluates each with one `Evaluator`, and summarises metric mean and spread per head.
///
/// Folder: `runs/<head>-seed<k>/` (ordinary training run folders; an existing one is resumed, so an
/// interrupted ablation continues), `samples/<head>-seed<k>.png` (each run's final grid),
/// `summary.md`, `summary.csv` (per head), `runs.csv` and `runs.json` (per run).
public struct Ablation {
    public let config: ExperimentConfig
    /// The config's architecture; each variant replaces its head.
    public let architecture: Architecture
    public let heads: [DiscriminatorHead]
    public let seeds: [UInt64]
    public let outputDirectory: URL
    public let evaluator: Evaluator
    public let evaluationOptions: EvaluationOptions

    /// `steps` replaces `train.max_steps` for every variant when given.
    public init(config: ExperimentConfig, heads: [DiscriminatorHead], seeds: [UInt64], steps: Int? = nil,
                outputDirectory: URL, evaluator: Evaluator, evaluationOptions: EvaluationOptions = EvaluationOptions()) throws {
        guard !heads.isEmpty, !seeds.isEmpty else {
            throw StackGANError(.usage, "ablate", "an ablation needs at least one head and one seed")
        }
        var base = config
        if let steps {
            guard steps > 0 else { throw StackGANError(.usage, "--steps", "must be positive, got \(steps)") }
            base.train.maxSteps = steps
        }
        self.config = base
        architecture = try Architecture(base)
        self.heads = heads
        self.seeds = seeds
        self.outputDirectory = outputDirectory
        self.evaluator = evaluator
        self.evaluationOptions = evaluationOptions
        for head in heads { _ = try Architecture(variant(head: head, seed: seeds[0])) }  // e.g. split on gan_cls
    }

    /// Heads from a comma-separated list ("single,split"); the error names the unknown one.
    public static func parseHeads(_ text: String) throws -> [DiscriminatorHead] {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let known = DiscriminatorHead.allCases.map(\.rawValue).joined(separator: ", ")
        guard !names.isEmpty else { throw StackGANError(.usage, "--heads", "no heads given; expected a list of \(known)") }
        var heads: [DiscriminatorHead] = []
        for name in names {
            guard let head = DiscriminatorHead(rawValue: name) else {
                throw StackGANError(.usage, "--heads", "unknown head '\(name)' (known: \(known))")
            }
            if !heads.contains(head) { heads.append(head) }
        }
        return heads
    }

    /// The config of one variant: the head of the config's stage replaced, the seed set.
    public func variant(head: DiscriminatorHead, seed: UInt64) -> ExperimentConfig {
        var c = config
        c[keyPath: Architecture.headKeyPath(stage: architecture.stage)] = head
        c.train.seed = seed
        c.name = "\(config.name)-\(head.rawValue)-seed\(seed)"
        return c
    }

    /// Trains and evaluates every (head, seed) in order, then writes the summaries.
    public func run(log: @escaping (String) -> Void = { print($0) }) throws -> [AblationRun] {
        let fm = FileManager.default
        let samples = outputDirectory.appendingPathComponent("samples")
        try fm.createDirectory(at: samples, withIntermediateDirectories: true)
        var runs: [AblationRun] = []
        for head in heads {
            for seed in seeds {
                let name = "\(head.rawValue)-seed\(seed)"
                let folder = outputDirectory.appendingPathComponent("runs/\(name)")
                let resume = fm.fileExists(atPath: folder.appendingPathComponent(Checkpoint.fileName).path)
                log("ablation: \(name)\(resume ? " (resuming its checkpoint)" : "")")
                let start = Date()
                let trainer = try Trainer(config: variant(head: head, seed: seed), runDirectory: folder, resume: resume, log: log)
                try trainer.run()
                let seconds = Date().timeIntervalSince(start)
                let report = try evaluator.evaluate(checkpoint: trainer.checkpointURL.path, options: evaluationOptions)
                log(String(format: "ablation: %@ condition accuracy %.3f, R-precision %.3f, FID %.3f, D real/wrong/fake %.3f/%.3f/%.3f",
                           name, report.conditionAccuracy, report.rPrecision ?? .nan, report.fid, report.discriminator.real, report.discriminator.wrong,
                           report.discriminator.fake))
                let grid = samples.appendingPathComponent("\(name).png")
                try? fm.removeItem(at: grid)
                try fm.copyItem(at: folder.appendingPathComponent("samples/latest.png"), to: grid)
                runs.append(AblationRun(head: head, seed: seed, runDirectory: folder.path, trainSeconds: seconds, report: report))
                try write(runs)  // after every run, so an interrupted ablation leaves what it finished
            }
        }
        return runs
    }

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

    /// summary.csv: one row per head with `<metric>_mean` and `<metric>_std` columns.
    public static func summaryCSV(_ runs: [AblationRun]) -> String {
        var lines = [(["head", "runs"] + metrics.flatMap { ["\($0.name)_mean", "\($0.name)_std"] }).joined(separator: ",")]
        for head in orderedHeads(runs) {
            let group = runs.filter { $0.head == head }
            let cells = metrics.flatMap { metric -> [String] in
                let (mean, spread) = meanAndSpread(group.map(metric.value))
                return [String(format: "%.6g", mean), String(format: "%.6g", spread)]
            }
            lines.append(([head.rawValue, String(group.count)] + cells).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// summary.md: the same as a Markdown table of "mean ± std", with the ceiling and chance.
    public static func summaryMarkdown(_ runs: [AblationRun], config: ExperimentConfig) -> String {
        var text = "# Ablation: discriminator head, \(config.name) (stage \(config.stage), \(config.train.maxSteps) steps)\n\n"
        if let first = runs.first?.report {
            text += "Evaluated on \(first.dataset) [\(first.split)], \(first.generatedImages) generated images per run; "
            text += String(format: "classifier real-image accuracy %.1f%% (ceiling), chance %.1f%% (majority class)", 100 * first.realAccuracy, 100 * first.chance)
            if let real = first.rPrecisionReal, let chance = first.rPrecisionChance {
                text += String(format: "; R-precision real-image ceiling %.1f%%, chance %.1f%%", 100 * real, 100 * chance)
            }
            text += ".\n"
            for name in first.attributes.keys.sorted() {
                text += String(format: "%@ accuracy: real-image ceiling %.1f%%, chance %.1f%%.\n", name,
                               100 * (first.attributesReal[name] ?? 0), 100 * (first.attributesMajority[name] ?? 0))
            }
            text += "Values are mean ± sample standard deviation over seeds.\n\n"
        }
        text += "| head | runs | " + metrics.map(\.title).joined(separator: " | ") + " |\n"
        text += "|---|---:|" + String(repeating: "---:|", count: metrics.count) + "\n"
        for head in orderedHeads(runs) {
            let group = runs.filter { $0.head == head }
            let cells = metrics.map { metric -> String in
                let (mean, spread) = meanAndSpread(group.map(metric.value))
                return metric.name == "train_seconds" ? String(format: "%.1f ± %.1f", mean, spread) : String(format: "%.4f ± %.4f", mean, spread)
            }
            text += "| \(head.rawValue) | \(group.count) | " + cells.joined(separator: " | ") + " |\n"
        }
        text += "\nSample grids: " + runs.map { "[\($0.head.rawValue) seed \($0.seed)](samples/\($0.head.rawValue)-seed\($0.seed).png)" }
            .joined(separator: ", ") + "\n"
        return text
    }

    /// runs.csv: one row per run.
    public static func runsCSV(_ runs: [AblationRun]) -> String {
        var lines = [(["head", "seed", "step"] + metrics.map(\.name) + ["run_directory"]).joined(separator: ",")]
        for run in runs {
            lines.append(([run.head.rawValue, String(run.seed), run.report.step.map(String.init) ?? ""]
                          + metrics.map { String(format: "%.6g", $0.value(run)) } + [run.runDirectory]).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func orderedHeads(_ runs: [AblationRun]) -> [DiscriminatorHead] {
        var heads: [DiscriminatorHead] = []
        for run in runs where !heads.contains(run.head) { heads.append(run.head) }
        return heads
    }

    private func write(_ runs: [AblationRun]) throws {
        func save(_ text: String, _ name: String) throws {
            try text.write(to: outputDirectory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try save(Self.summaryMarkdown(runs, config: config), "summary.md")
        try save(Self.summaryCSV(runs), "summary.csv")
        try save(Self.runsCSV(runs), "runs.csv")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try save(String(decoding: try encoder.encode(runs), as: UTF8.self), "runs.json")
    }
}
