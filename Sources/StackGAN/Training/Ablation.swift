import Foundation

/// A training option of issue 12 that an ablation switches on or off (`--techniques`).
public enum Technique: String, Codable, CaseIterable, Sendable {
    case spectralNorm = "spectral_norm"
    case augment
    case contrastive
    case modeSeeking = "mode_seeking"

    /// The config with this technique on (`true`) or off. On keeps the config's own setting when it
    /// has one (e.g. its contrastive weight), else uses SN / [translation, cutout] / weight 1.
    func set(_ on: Bool, in c: inout ExperimentConfig) {
        switch self {
        case .spectralNorm: c.model.spectralNorm = on
        case .augment: c.train.augment = on ? (c.train.augment.isEmpty ? [.translation, .cutout] : c.train.augment) : []
        case .contrastive: c.loss.contrastiveWeight = on ? (c.loss.contrastiveWeight > 0 ? c.loss.contrastiveWeight : 1) : 0
        case .modeSeeking: c.loss.modeSeekingWeight = on ? (c.loss.modeSeekingWeight > 0 ? c.loss.modeSeekingWeight : 1) : 0
        }
    }

    /// Technique sets from a comma-separated list of `+`-joined names or `none`
    /// ("none,spectral_norm,augment+contrastive"); the error names the unknown one.
    public static func parseSets(_ text: String) throws -> [[Technique]] {
        let known = (["none"] + allCases.map(\.rawValue)).joined(separator: ", ")
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !items.isEmpty else { throw StackGANError(.usage, "--techniques", "no techniques given; expected a list of \(known)") }
        return try items.map { item in
            guard item != "none" else { return [] }
            return try item.split(separator: "+").map { name in
                guard let t = Technique(rawValue: String(name)) else {
                    throw StackGANError(.usage, "--techniques", "unknown technique '\(name)' (known: \(known))")
                }
                return t
            }
        }
    }

    /// "none" or the names joined by "+".
    public static func name(_ set: [Technique]) -> String { set.isEmpty ? "none" : set.map(\.rawValue).joined(separator: "+") }
}

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

/// Trains every variant (discriminator head x set of techniques) of one config for several seeds
/// with the same data and step budget, evaluates each with one `Evaluator`, and summarises metric
/// mean and spread per variant. A variant's techniques are on, the other `Technique`s off; a
/// variant the architecture rejects is a usage error before any training, naming it and the key.
///
/// Folder: `runs/<variant>-seed<k>/` (ordinary training run folders; an existing one is resumed, so
/// an interrupted ablation continues), `samples/<variant>-seed<k>.png` (each run's final grid),
/// `summary.md`, `summary.csv` (per variant), `runs.csv` and `runs.json` (per run). A variant is
/// named by its head, then `+` and its techniques when it has any.
public struct Ablation {
    public let config: ExperimentConfig
    /// The config's architecture; each variant replaces its head.
    public let architecture: Architecture
    public let heads: [DiscriminatorHead]
    /// (head, techniques) pairs in run order.
    public let variants: [(head: DiscriminatorHead, techniques: [Technique])]
    public let seeds: [UInt64]
    public let outputDirectory: URL
    public let evaluator: Evaluator
    public let evaluationOptions: EvaluationOptions

    /// `steps` replaces `train.max_steps` for every variant when given.
    /// `techniques` nil: each head with the config's own settings.
    public init(config: ExperimentConfig, heads: [DiscriminatorHead], techniques: [[Technique]]? = nil, seeds: [UInt64], steps: Int? = nil,
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
        var variants: [(head: DiscriminatorHead, techniques: [Technique])] = []
        for head in heads {
            guard head.fits(base.family) else {  // e.g. split on gan_cls: an error, not a skipped variant
                throw StackGANError(.usage, "--heads", "\(head.rawValue) does not fit a \(base.family.rawValue) discriminator")
            }
            for set in techniques ?? [[]] {
                let candidate = Self.variant(base, head: head, techniques: techniques == nil ? nil : set, seed: seeds[0],
                                             stage: architecture.stage)
                do { _ = try Architecture(candidate) } catch let error as StackGANError {
                    throw StackGANError(error.kind, error.place,
                                        "variant \(Self.variantName(head, techniques == nil ? nil : set)): \(error.message)")
                }
                variants.append((head, set))
            }
        }
        self.variants = variants
        self.techniquesGiven = techniques != nil
    }

    /// Whether `--techniques` was given (else each variant keeps the config's settings).
    public let techniquesGiven: Bool

    /// "<head>" or "<head>+<techniques>".
    static func variantName(_ head: DiscriminatorHead, _ techniques: [Technique]?) -> String {
        guard let techniques else { return head.rawValue }
        return head.rawValue + "+" + Technique.name(techniques)
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

    /// The config of one variant: the head of the config's stage replaced, the techniques on and
    /// the others off (nil: as the config has them), the seed set.
    static func variant(_ base: ExperimentConfig, head: DiscriminatorHead, techniques: [Technique]?, seed: UInt64,
                        stage: StackGANStage) -> ExperimentConfig {
        var c = base
        c[keyPath: Architecture.headKeyPath(stage: stage)] = head
        if let techniques { for t in Technique.allCases { t.set(techniques.contains(t), in: &c) } }
        c.train.seed = seed
        c.name = "\(base.name)-\(variantName(head, techniques))-seed\(seed)"
        return c
    }

    /// Trains and evaluates every (head, seed) in order, then writes the summaries.
    public func run(log: @escaping (String) -> Void = { print($0) }) throws -> [AblationRun] {
        let fm = FileManager.default
        let samples = outputDirectory.appendingPathComponent("samples")
        try makeFolder(samples.path, what: "ablation folder")
        // One ablation per folder; each run folder inside is locked again by its Trainer.
        let lock = try RunFolderLock(folder: outputDirectory)
        defer { withExtendedLifetime(lock) {} }
        var runs: [AblationRun] = []
        for (head, techniques) in variants {
            let variantName = Self.variantName(head, techniquesGiven ? techniques : nil)
            for seed in seeds {
                let name = "\(variantName)-seed\(seed)"
                let folder = outputDirectory.appendingPathComponent("runs/\(name)")
                let resume = fm.fileExists(atPath: folder.appendingPathComponent(Checkpoint.fileName).path)
                log("ablation: \(name)\(resume ? " (resuming its checkpoint)" : "")")
                let start = Date()
                let config = Self.variant(self.config, head: head, techniques: techniquesGiven ? techniques : nil, seed: seed,
                                          stage: architecture.stage)
                let trainer = try Trainer(config: config, runDirectory: folder, resume: resume, log: log)
                try trainer.run()
                let seconds = Date().timeIntervalSince(start)
                let report = try evaluator.evaluate(checkpoint: trainer.checkpointURL.path, options: evaluationOptions)
                log(String(format: "ablation: %@ condition accuracy %.3f, R-precision %.3f, FID %.3f, D real/wrong/fake %.3f/%.3f/%.3f",
                           name, report.conditionAccuracy, report.rPrecision ?? .nan, report.fid, report.discriminator.real, report.discriminator.wrong,
                           report.discriminator.fake))
                // Beside the run, as `stackgan evaluate` leaves it: the run's own report shows it.
                try? report.json().write(to: folder.appendingPathComponent(RunReport.evaluationFileName), options: .atomic)
                let grid = samples.appendingPathComponent("\(name).png")
                try? fm.removeItem(at: grid)
                try fm.copyItem(at: folder.appendingPathComponent("samples/latest.png"), to: grid)
                runs.append(AblationRun(head: head, techniques: techniquesGiven ? Technique.name(techniques) : "", seed: seed,
                                        runDirectory: folder.path, trainSeconds: seconds, report: report))
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
