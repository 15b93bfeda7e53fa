import ArgumentParser
import Foundation
import StackGAN

/// Set by SIGINT; the training loop stops after the current step and writes a checkpoint.
nonisolated(unsafe) private var interruptRequested: sig_atomic_t = 0

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train Stage-I, Stage-II or GAN-CLS from a YAML config.",
        discussion: """
        Writes to the run folder: config.yml, checkpoint.safetensors (atomic), metrics.jsonl, TensorBoard \
        events, samples/latest.png and at the end report.html (see `stackgan report`). Ctrl-C stops after the current step with a final checkpoint.
        Example: stackgan train --config configs/shapes_stage1.yml --set train.max_steps=4 --set train.checkpoint_every=2
        """)

    @Option(help: "A YAML config (configs/*.yml). Not with --resume, which uses the run folder's config.yml.") var config: String?
    @Option(help: "An HDF5 dataset replacing data.path.") var data: String?
    @Option(help: "The run folder (default runs/<name>).") var out: String?
    @Flag(help: "Continue the run in --out from its checkpoint.") var resume = false
    @Option(help: "Seed replacing train.seed.") var seed: UInt64?
    @Option(name: .customLong("set"), help: "Override a config key: --set train.max_steps=100 (repeatable).") var overrides: [String] = []

    func run() throws {
        var settings = overrides
        if let data { settings.append("data.path=\(data)") }
        if let seed { settings.append("train.seed=\(seed)") }
        var configFile = config
        if resume {
            guard config == nil else {
                throw StackGANError.usage("--config does not apply to --resume: the run folder's config.yml is used; change settings with --set key=value")
            }
            guard let out else { throw StackGANError.usage("--resume needs --out naming the run folder") }
            let run = RunFolder(path: out)
            configFile = run.url(.config).path
            guard FileManager.default.fileExists(atPath: run.url(.config).path) else {
                throw StackGANError.usage("\(out): no \(RunFile.config.path) to resume from")
            }
            // A named input that does not exist is a usage error, as for generate's --checkpoint.
            guard FileManager.default.fileExists(atPath: run.url(.checkpoint).path) else {
                throw StackGANError.usage("\(run.url(.checkpoint).path): no checkpoint to resume from")
            }
        } else if config == nil {
            throw StackGANError.usage("train needs --config FILE (see configs/)")
        }
        let architecture = try Architecture(ExperimentConfig.load(file: configFile, overrides: settings))
        let folder = URL(fileURLWithPath: out ?? "runs/\(architecture.config.name)")
        // A start that fails (a locked folder, a bad dataset) leaves no run folder it created behind.
        let created = !FileManager.default.fileExists(atPath: folder.path)
        let trainer: Trainer
        do {
            trainer = try Trainer(architecture: architecture, folder: RunFolder(folder), resume: resume, log: printLine)
        } catch {
            if created { try? FileManager.default.removeItem(at: folder) }
            throw error
        }
        signal(SIGINT) { _ in
            interruptRequested = 1
            signal(SIGINT, SIG_DFL)  // a second Ctrl-C ends the process at once
        }
        let outcome = Result { try trainer.run(shouldStop: { interruptRequested != 0 }) }
        // Also after a run that stopped on a non-finite loss: its curves show the way there.
        if trainer.parallel.isWriter { refreshReport(folder) }
        try outcome.get()
        try DataParallel.finish()  // under mpirun/srun: every rank ends MPI; a rank that failed never gets here
    }
}
