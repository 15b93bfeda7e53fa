import Distributed
import Foundation

/// Trains every variant of an `AblationPlan`, evaluates each run with one `Evaluator`, and
/// summarises metric mean and spread per variant (`AblationSummary`).
///
/// Folder: `runs/<variant>-seed<k>/` (ordinary training run folders; an existing one is resumed, so
/// an interrupted ablation continues), `samples/<variant>-seed<k>.png` (each run's final grid),
/// `summary.md`, `summary.csv` (per variant), `runs.csv` and `runs.json` (per run).
///
/// On several ranks (`mpirun`, `srun`) the runs are dealt out whole, run j to rank j mod size, each
/// trained on its rank alone with that rank's threads; each leaves its `AblationRun` in its folder
/// (`ablation_run.json`) and rank 0, once every rank is done, reads them in plan order and writes
/// the summaries: the same as one process writes, on any rank count, resumed or not.
public struct Ablation {
    public let plan: AblationPlan
    public let outputDirectory: URL
    public let evaluator: Evaluator
    public let evaluationOptions: EvaluationOptions

    public init(plan: AblationPlan, outputDirectory: URL, evaluator: Evaluator, evaluationOptions: EvaluationOptions = EvaluationOptions()) {
        (self.plan, self.outputDirectory, self.evaluator, self.evaluationOptions) = (plan, outputDirectory, evaluator, evaluationOptions)
    }

    /// One run of the plan: a variant and a seed.
    struct Job {
        /// `techniques` is nil when the plan names none: the config's own techniques, unnamed.
        let head: DiscriminatorHead, techniques: [Technique]?, seed: UInt64
    }

    var jobs: [Job] {
        plan.variants.flatMap { variant in
            plan.seeds.map { Job(head: variant.head, techniques: plan.techniquesGiven ? variant.techniques : nil, seed: $0) }
        }
    }

    func folder(_ job: Job) -> RunFolder {
        let variant = AblationPlan.variantName(job.head, job.techniques)
        return RunFolder(outputDirectory.appendingPathComponent("runs/\(variant)-seed\(job.seed)"))
    }

    /// Trains and evaluates this rank's runs of `group` in plan order, then (rank 0) writes the
    /// summaries and returns every run; other ranks return [].
    public func run(group: ProcessGroup = .single, log: @escaping (String) -> Void = { print($0) }) throws -> [AblationRun] {
        try makeFolder(outputDirectory.appendingPathComponent("samples").path, what: "ablation folder")
        // One ablation per folder (rank 0 holds the lock); each run folder inside is locked again by its Trainer.
        let lock = Result { group.isRoot ? try RunFolderLock(folder: outputDirectory) : nil }
        try group.allSucceeded(lock.map { _ in () })
        defer { withExtendedLifetime(lock) {} }
        var runs: [AblationRun] = []
        let mine = Result {
            for (j, job) in jobs.enumerated() where j % group.size == group.rank {
                runs.append(try train(job, log: log))
                // After every run, so an interrupted ablation leaves what it finished.
                if group.size == 1 { try AblationSummary.write(runs, config: plan.config, to: outputDirectory) }
            }
        }
        try group.allSucceeded(mine)
        guard group.size > 1 else { return runs }
        guard group.isRoot else { return [] }
        let all = try jobs.map { job in
            let record = folder(job).url(.ablationRun)
            do { return try JSONDecoder.snakeCase.decode(AblationRun.self, from: Data(contentsOf: record)) } catch {
                throw StackGANError(.unusableInput, record.path, "cannot read the run's record: \(error)")
            }
        }
        try AblationSummary.write(all, config: plan.config, to: outputDirectory)
        return all
    }

    /// Trains (or resumes) and evaluates one run on this rank alone.
    func train(_ job: Job, log: @escaping (String) -> Void) throws -> AblationRun {
        let folder = folder(job)
        let name = folder.url.lastPathComponent
        let resume = FileManager.default.fileExists(atPath: folder.url(.checkpoint).path)
        log("ablation: \(name)\(resume ? " (resuming its checkpoint)" : "")")
        let start = Date()
        let config = AblationPlan.variant(plan.config, head: job.head, techniques: job.techniques, seed: job.seed,
                                          stage: plan.stage)
        let trainer = try Trainer(architecture: Architecture(config), folder: folder, resume: resume, group: .single, log: log)
        try trainer.run()
        let seconds = Date().timeIntervalSince(start)
        let report = try evaluator.evaluate(checkpoint: folder.url(.checkpoint).path, options: evaluationOptions)
        log(String(format: "ablation: %@ condition accuracy %.3f, R-precision %.3f, FID %.3f, D real/wrong/fake %.3f/%.3f/%.3f",
                   name, report.conditionAccuracy, report.rPrecision ?? .nan, report.fid, report.discriminator.real, report.discriminator.wrong,
                   report.discriminator.fake))
        // Beside the run, as `stackgan evaluate` leaves it: the run's own report shows it.
        try? folder.write(report.json(), to: .evaluation)
        let grid = outputDirectory.appendingPathComponent("samples/\(name).png")
        try? FileManager.default.removeItem(at: grid)
        try FileManager.default.copyItem(at: folder.url(.latestSamples), to: grid)
        let run = AblationRun(head: job.head, techniques: job.techniques.map(Technique.name) ?? "", seed: job.seed,
                              runDirectory: folder.url.path, trainSeconds: seconds, report: report)
        try folder.write(JSONEncoder.readable.encode(run), to: .ablationRun)
        return run
    }
}

extension ProcessGroup {
    /// Every rank passes its `outcome`; all return when every rank succeeded, otherwise each throws:
    /// its own error, or one naming the first rank that failed (whose own error it printed). The
    /// one collective a rank reaches whether or not its work failed, so no rank waits forever.
    public func allSucceeded(_ outcome: Result<Void, any Error>) throws {
        var failed = [Int](repeating: 0, count: size)
        if case .failure = outcome { failed[rank] = 1 }
        try allreduce(&failed, .max)
        try outcome.get()
        if let first = failed.firstIndex(of: 1) {
            throw StackGANError(.training, "rank \(first)", "failed (its error is printed above); this rank stops too")
        }
    }
}
