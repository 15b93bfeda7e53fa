import Foundation

/// Trains every variant of an `AblationPlan`, evaluates each run with one `Evaluator`, and
/// summarises metric mean and spread per variant (`AblationSummary`).
///
/// Folder: `runs/<variant>-seed<k>/` (ordinary training run folders; an existing one is resumed, so
/// an interrupted ablation continues), `samples/<variant>-seed<k>.png` (each run's final grid),
/// `summary.md`, `summary.csv` (per variant), `runs.csv` and `runs.json` (per run).
public struct Ablation {
    public let plan: AblationPlan
    public let outputDirectory: URL
    public let evaluator: Evaluator
    public let evaluationOptions: EvaluationOptions

    public init(plan: AblationPlan, outputDirectory: URL, evaluator: Evaluator, evaluationOptions: EvaluationOptions = EvaluationOptions()) {
        (self.plan, self.outputDirectory, self.evaluator, self.evaluationOptions) = (plan, outputDirectory, evaluator, evaluationOptions)
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
        for (head, techniques) in plan.variants {
            let variantName = AblationPlan.variantName(head, plan.techniquesGiven ? techniques : nil)
            for seed in plan.seeds {
                let name = "\(variantName)-seed\(seed)"
                let folder = RunFolder(outputDirectory.appendingPathComponent("runs/\(name)"))
                let resume = fm.fileExists(atPath: folder.url(.checkpoint).path)
                log("ablation: \(name)\(resume ? " (resuming its checkpoint)" : "")")
                let start = Date()
                let config = AblationPlan.variant(plan.config, head: head, techniques: plan.techniquesGiven ? techniques : nil, seed: seed,
                                                  stage: plan.stage)
                let trainer = try Trainer(architecture: Architecture(config), folder: folder, resume: resume, log: log)
                try trainer.run()
                let seconds = Date().timeIntervalSince(start)
                let report = try evaluator.evaluate(checkpoint: folder.url(.checkpoint).path, options: evaluationOptions)
                log(String(format: "ablation: %@ condition accuracy %.3f, R-precision %.3f, FID %.3f, D real/wrong/fake %.3f/%.3f/%.3f",
                           name, report.conditionAccuracy, report.rPrecision ?? .nan, report.fid, report.discriminator.real, report.discriminator.wrong,
                           report.discriminator.fake))
                // Beside the run, as `stackgan evaluate` leaves it: the run's own report shows it.
                try? folder.write(report.json(), to: .evaluation)
                let grid = samples.appendingPathComponent("\(name).png")
                try? fm.removeItem(at: grid)
                try fm.copyItem(at: folder.url(.latestSamples), to: grid)
                runs.append(AblationRun(head: head, techniques: plan.techniquesGiven ? Technique.name(techniques) : "", seed: seed,
                                        runDirectory: folder.url.path, trainSeconds: seconds, report: report))
                // After every run, so an interrupted ablation leaves what it finished.
                try AblationSummary.write(runs, config: plan.config, to: outputDirectory)
            }
        }
        return runs
    }
}
