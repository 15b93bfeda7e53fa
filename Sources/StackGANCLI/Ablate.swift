import ArgumentParser
import Distributed
import Foundation
import StackGAN

/// `stackgan ablate`: the discriminator-head ablation of one config, several seeds each, with the
/// same data and step budget, summarised as Markdown and CSV.
struct Ablate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train and evaluate each discriminator head variant of a config over several seeds.",
        discussion: """
        Overrides model.stage1_head (or model.stage2_head for stage 2), the techniques with --techniques, and \
        train.seed; seeds are train.seed, \
        train.seed+1, ... Writes to --out: runs/<variant>-seed<k>/ (resumed if present), samples/<variant>-seed<k>.png, \
        summary.md and summary.csv (mean and sample standard deviation per variant), runs.csv, runs.json and \
        report.html (bar charts, grids and the table; see `stackgan report`). Under mpirun or srun the runs are \
        dealt out whole to the ranks (each trains its runs alone, with its own threads) and rank 0 writes the summaries.
        Example: stackgan ablate --config configs/shapes_stage1.yml --heads single,split --steps 300 --seeds 3
        """)

    @Option(help: "A YAML config (configs/*.yml).") var config: String
    @Option(help: "Comma-separated heads: single, split, projection.") var heads = "single,split"
    @Option(help: """
        Comma-separated technique sets, each 'none' or names joined by '+' (spectral_norm, augment, contrastive, \
        mode_seeking): in each variant those are on and the others off. Default: the config's own settings.
        """) var techniques: String?
    @Option(help: "Steps per run, replacing train.max_steps.") var steps: Int?
    @Option(help: "Seeds per head.") var seeds = 3
    @Option(help: "The ablation folder (default runs/ablate-<name>).") var out: String?
    @Option(help: "A classifier file to use instead of the cached one.") var classifier: String?
    @Option(help: "An image-text matcher file to use instead of the cached one.") var matcher: String?
    @Option(help: "Where trained classifiers and matchers are cached.") var classifierCache = "runs/.classifiers"
    @Option(help: "Generated images per caption in each evaluation.") var samplesPerCaption = 1
    @Option(help: "Evaluate only the first N examples of the eval split.") var limit: Int?
    @Option(name: .customLong("set"), help: "Override a config key: --set train.batch_size=16 (repeatable).") var overrides: [String] = []

    func run() throws {
        let headList = try AblationPlan.parseHeads(heads)
        let techniqueSets = try techniques.map(Technique.parseSets)
        guard (1...1000).contains(seeds) else { throw StackGANError.usage("--seeds must be in 1...1000, got \(seeds)") }
        if let steps, steps < 1 { throw StackGANError.usage("--steps must be positive, got \(steps)") }
        guard (1...64).contains(samplesPerCaption) else { throw StackGANError.usage("--samples-per-caption must be in 1...64, got \(samplesPerCaption)") }
        if let limit, limit < 2 { throw StackGANError.usage("--limit must be at least 2, got \(limit)") }
        guard FileManager.default.fileExists(atPath: config) else { throw StackGANError.usage("config \(config) not found") }
        let experiment = try ExperimentConfig.load(file: config, overrides: overrides)
        guard FileManager.default.fileExists(atPath: experiment.data.path) else {
            throw StackGANError.usage("dataset \(experiment.data.path) not found (data.path; --set data.path=FILE)")
        }
        // Everything cheap is checked before the evaluator is loaded (or trained, tens of seconds).
        let plan = try AblationPlan(config: experiment, heads: headList, techniques: techniqueSets,
                                    seeds: (0..<seeds).map { experiment.train.seed &+ UInt64($0) }, steps: steps)
        let folder = URL(fileURLWithPath: out ?? "runs/ablate-\(experiment.name)")
        try makeFolder(folder.path, what: "ablation folder")
        let group = try ProcessGroup.current()
        // Rank 0 loads (or trains and caches) the classifier and matcher first; the others then
        // read them from the cache instead of training them at the same time into the same files.
        func evaluator() throws -> Evaluator {
            try loadEvaluator(classifier: classifier, matcher: matcher, datasetPath: experiment.data.path, cache: classifierCache)
        }
        let first = Result { group.isRoot ? try evaluator() : nil }
        try group.allSucceeded(first.map { _ in () })
        let ablation = Ablation(plan: plan, outputDirectory: folder, evaluator: try first.get() ?? evaluator(),
                                evaluationOptions: EvaluationOptions(samplesPerCaption: samplesPerCaption, limit: limit))
        let log: (String) -> Void = group.size > 1 ? { printLine("[rank \(group.rank)] \($0)") } : printLine
        let outcome = Result { try ablation.run(group: group, log: log) }
        if group.isRoot && AblationReport.isAblation(folder) { refreshReport(folder) }  // the runs that finished, even after a failure
        let runs = try outcome.get()
        if group.isRoot {
            print(AblationSummary.summaryMarkdown(runs, config: plan.config))
            print("ablation: \(folder.path)/summary.md, summary.csv, runs.csv, report.html, samples/")
        }
        try DataParallel.finish()
    }
}
