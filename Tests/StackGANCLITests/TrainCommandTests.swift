import Foundation
import NN
import StackGAN
import XCTest

/// `stackgan train` end to end on the tiny config: outputs, resume equality, a crash during a
/// checkpoint write, and the errors a user can cause.
final class TrainCommandTests: XCTestCase {
    typealias H = CommandHarness

    func testTrainWritesCheckpointSamplesMetricsAndEvents() throws {
        let run = try H.temporaryFolder(for: self).appendingPathComponent("run")
        let result = H.train(out: run, ["--set", "train.max_steps=2"])
        XCTAssertEqual(result.code, 0, result.error)

        let checkpoint = run.appendingPathComponent(RunFile.checkpoint.path)
        let models = try Checkpoint.load(checkpoint.path)
        let (generator, config) = (models.generator, models.config)
        XCTAssertNotNil(models.discriminator, "a training checkpoint has its discriminator")
        XCTAssertTrue(generator is Stage1Generator)
        XCTAssertEqual(config.model.generatorWidth, 4)
        let grid = try H.png(run.appendingPathComponent("samples/latest.png"))
        // sample_count 2 rows x samples_per_caption 2 columns of 64 px with 2 px gaps.
        XCTAssertEqual([grid.width, grid.height], [2 * 64 + 3 * 2, 2 * 64 + 3 * 2])
        XCTAssertEqual(try H.metrics(run).compactMap { $0["step"] as? Int }, [1, 2])
        XCTAssertTrue(try H.metrics(run).allSatisfy { ($0["d_loss"] as? Double)?.isFinite == true })
        let events = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(events.count, 1)
        let size = try FileManager.default.attributesOfItem(atPath: run.appendingPathComponent(events[0]).path)[.size] as? Int
        XCTAssertGreaterThan(size ?? 0, 0)
    }

    /// `bench train --config` runs that config's own step on synthetic data, with the separate
    /// wrong images of `differentClass` and the main job's quality options; a missing config is a
    /// usage error, not a crash.
    func testBenchTrainRunsAConfigsOwnStep() {
        let recipe = ["--set", "data.wrong_pairs=differentClass", "--set", "model.stage1_head=projection",
                      "--set", "model.spectral_norm=true", "--set", "loss.loss=hinge", "--set", "loss.contrastive_weight=1",
                      "--set", "loss.mode_seeking_weight=1", "--set", "train.augment=[translation]"]
        let result = H.run(["bench", "train", "--config", H.tinyConfig, "--iterations", "1"] + recipe)
        XCTAssertEqual(result.code, 0, result.error)
        let missing = H.run(["bench", "train", "--config", "/nonexistent/config.yml", "--iterations", "1"])
        XCTAssertNotEqual(missing.code, 0)
        XCTAssertTrue(missing.error.contains("cannot read the config file"), missing.error)
    }

    /// 4 steps straight and 2 + `--resume` 2 must give the same weights and the same step-3/4 losses:
    /// the checkpoint holds everything the next step depends on (weights, Adam moments, RNG, loader position).
    func testResumeReproducesAStraightRun() throws {
        let folder = try H.temporaryFolder(for: self)
        let straight = folder.appendingPathComponent("straight"), resumed = folder.appendingPathComponent("resumed")
        XCTAssertEqual(H.train(out: straight, ["--set", "train.max_steps=4", "--set", "train.checkpoint_every=2"]).code, 0)
        XCTAssertEqual(H.train(out: resumed, ["--set", "train.max_steps=2"]).code, 0)
        let atStepTwo = try H.tensors(resumed.appendingPathComponent(RunFile.checkpoint.path))
        let second = H.run(["train", "--resume", "--out", resumed.path, "--set", "train.max_steps=4"])
        XCTAssertEqual(second.code, 0, second.error)

        let a = try H.tensors(straight.appendingPathComponent(RunFile.checkpoint.path))
        let b = try H.tensors(resumed.appendingPathComponent(RunFile.checkpoint.path))
        let names = a.keys.filter { $0.hasPrefix("generator.") || $0.hasPrefix("discriminator.") }.sorted()
        XCTAssertGreaterThan(names.count, 20)
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for name in names {
            XCTAssertEqual(a[name]?.shape, b[name]?.shape, name)
            let difference = zip(a[name]?.values ?? [], b[name]?.values ?? []).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(difference, 1e-6, name)
        }
        // Steps 3-4 moved the weights, so the equality is not of two unchanged step-2 files.
        XCTAssertNotEqual(atStepTwo["generator.fc.0.weight"]?.values, b["generator.fc.0.weight"]?.values)

        let straightLosses = try H.metrics(straight).filter { ($0["step"] as? Int ?? 0) >= 3 }
        let resumedLosses = try H.metrics(resumed).filter { ($0["step"] as? Int ?? 0) >= 3 }
        XCTAssertEqual(straightLosses.compactMap { $0["step"] as? Int }, [3, 4])
        XCTAssertEqual(resumedLosses.compactMap { $0["step"] as? Int }, [3, 4])
        for (x, y) in zip(straightLosses, resumedLosses) {
            for key in ["d_loss", "g_loss"] {
                let (u, v) = (try XCTUnwrap(x[key] as? Double), try XCTUnwrap(y[key] as? Double))
                XCTAssertEqual(u, v, accuracy: 1e-6, "\(key) at step \(x["step"] ?? "?")")
            }
        }
    }

    /// A crash in the middle of `SafeTensors.write` leaves its temporary file half written and never
    /// renamed. The previous checkpoint must be untouched and loadable, and `--resume` must work.
    func testCheckpointWriteInterruptedLeavesThePreviousOneUsable() throws {
        let run = try H.copyOfTrainedRun(for: self)
        let checkpoint = run.appendingPathComponent(RunFile.checkpoint.path)
        let before = try Data(contentsOf: checkpoint)

        // What a training process killed mid-write leaves behind: a prefix of the new file under its
        // temporary name (SafeTensors.write: ".<name>.<pid>.tmp" in the same folder), with the dead
        // process's id, never renamed over the checkpoint.
        let exited = try Process.run(URL(fileURLWithPath: "/bin/true"), arguments: [])
        exited.waitUntilExit()
        let deadProcess = exited.processIdentifier
        let temporary = run.appendingPathComponent(".\(RunFile.checkpoint.path).\(deadProcess).tmp")
        try before.prefix(before.count / 3).write(to: temporary)

        XCTAssertEqual(try Data(contentsOf: checkpoint), before)
        XCTAssertNoThrow(try Checkpoint.load(checkpoint.path))
        let resumed = H.run(["train", "--resume", "--out", run.path, "--set", "train.max_steps=2"])
        XCTAssertEqual(resumed.code, 0, resumed.error)
        let state = try XCTUnwrap(SafeTensors.read(checkpoint).metadata["state"])
        XCTAssertEqual(try JSONDecoder().decode(TrainingState.self, from: Data(state.utf8)).step, 2)
        XCTAssertNoThrow(try Checkpoint.load(checkpoint.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: temporary.path), "the next checkpoint write removes the dead process's file")
    }

    func testResumeWithoutACheckpoint() throws {
        let folder = try H.temporaryFolder(for: self)
        // No run folder at all: a usage error naming the folder.
        let missing = folder.appendingPathComponent("never-trained").path
        var result = H.run(["train", "--resume", "--out", missing])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains(missing) && result.error.contains("config.yml"), result.error)
        result = H.run(["train", "--resume"])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains("--out"), result.error)

        // A run folder whose checkpoint is gone: a missing named input like generate's --checkpoint,
        // a usage error naming the checkpoint it looked for.
        let run = try H.copyOfTrainedRun(for: self)
        try FileManager.default.removeItem(at: run.appendingPathComponent(RunFile.checkpoint.path))
        result = H.run(["train", "--resume", "--out", run.path])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains(run.appendingPathComponent(RunFile.checkpoint.path).path), result.error)
    }

    /// --resume reads the run folder's config.yml; a --config beside it used to be ignored silently.
    func testResumeRefusesAConfig() throws {
        let run = try H.copyOfTrainedRun(for: self)
        let before = try Data(contentsOf: run.appendingPathComponent(RunFile.checkpoint.path))
        let result = H.run(["train", "--resume", "--config", H.tinyConfig, "--out", run.path])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains("--config") && result.error.contains("config.yml") && result.error.contains("--set"), result.error)
        XCTAssertEqual(try Data(contentsOf: run.appendingPathComponent(RunFile.checkpoint.path)), before)
    }

    func testTrainRefusesToOverwriteARunWithoutResume() throws {
        let run = try H.copyOfTrainedRun(for: self)
        let before = try Data(contentsOf: run.appendingPathComponent(RunFile.checkpoint.path))
        let again = H.train(out: run, ["--set", "train.max_steps=1"])
        XCTAssertEqual(again.code, 1)
        XCTAssertTrue(again.error.contains("--resume"), again.error)
        XCTAssertEqual(try Data(contentsOf: run.appendingPathComponent(RunFile.checkpoint.path)), before)
    }

    func testUnwritableOutFolder() throws {
        let file = try H.temporaryFolder(for: self).appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        let out = file.appendingPathComponent("run")
        let result = H.train(out: out)
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains(out.path) && result.error.contains("\(file.path) is a file"), result.error)
        XCTAssertFalse(result.error.contains("NSCocoaErrorDomain"), result.error)
    }

    func testBadConfigsNameTheFileAndKey() throws {
        let folder = try H.temporaryFolder(for: self)
        let malformed = folder.appendingPathComponent("malformed.yml")
        try "model:\n  gf_dim: [4\n".write(to: malformed, atomically: true, encoding: .utf8)
        var result = H.run(["train", "--config", malformed.path, "--out", folder.appendingPathComponent("r1").path])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains(malformed.path) && result.error.contains("YAML"), result.error)

        let unknown = folder.appendingPathComponent("unknown.yml")
        try "model:\n  gf_dimm: 4\n".write(to: unknown, atomically: true, encoding: .utf8)
        result = H.run(["train", "--config", unknown.path, "--out", folder.appendingPathComponent("r2").path])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains(unknown.path) && result.error.contains("model.gf_dimm"), result.error)

        result = H.train(out: folder.appendingPathComponent("r3"), ["--set", "train.max_stepz=3"])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains("max_stepz"), result.error)

        let absent = folder.appendingPathComponent("absent.yml").path
        result = H.run(["train", "--config", absent])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains(absent), result.error)
        result = H.run(["train"])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains("--config"), result.error)
        // Nothing was trained by any of these.
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("r3").path))
    }

    func testUnknownCommandAndFlag() {
        var result = H.run(["frobnicate"])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains("frobnicate"), result.error)
        result = H.run(["train", "--config", H.tinyConfig, "--no-such-flag"])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains("--no-such-flag"), result.error)
        XCTAssertEqual(H.run(["generate", "--help"]).code, 0)
    }
}
