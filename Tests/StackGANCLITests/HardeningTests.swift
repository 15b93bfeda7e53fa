import Autograd
import Foundation
import NN
import StackGAN
import XCTest

/// Issue 13: a run folder is never corrupted (one process per folder, repair after a kill,
/// deterministic checkpoints, no empty folder after a failed start) and hostile inputs end in a
/// one-line error.
final class HardeningTests: XCTestCase {
    typealias H = CommandHarness

    /// A second process on a run folder gets an error naming the holder's pid; the lock goes with
    /// the holder.
    func testASecondTrainOnALockedFolderNamesTheHolder() throws {
        let run = try H.copyOfTrainedRun(for: self)
        var lock: RunFolderLock? = try RunFolderLock(folder: run)
        let metricsBefore = try Data(contentsOf: run.appendingPathComponent("metrics.jsonl"))
        let result = H.run(["train", "--resume", "--out", run.path, "--set", "train.max_steps=2"])
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains("in use by another stackgan process (pid \(getpid()))"), result.error)
        XCTAssertEqual(try Data(contentsOf: run.appendingPathComponent("metrics.jsonl")), metricsBefore, "nothing written")
        XCTAssertNotNil(lock)
        lock = nil
        let again = H.run(["train", "--resume", "--out", run.path, "--set", "train.max_steps=2"])
        XCTAssertEqual(again.code, 0, again.error)
    }

    /// After a kill -9 past the checkpoint: metrics lines past it (and a half-written one), sample
    /// grids past it, `.dat.nosync*` temporaries and TensorBoard records past it are gone after
    /// --resume, so each step is logged once.
    func testResumeRepairsWhatAKilledRunLeft() throws {
        let run = try H.copyOfTrainedRun(for: self)  // checkpoint at step 1
        let metrics = run.appendingPathComponent("metrics.jsonl")
        let handle = try FileHandle(forWritingTo: metrics)
        handle.seekToEndOfFile()
        handle.write(Data("{\"step\": 2, \"d_loss\": 1}\n{\"step\": 3, \"d_lo".utf8))
        try handle.close()
        let leftovers = ["samples/.dat.nosync1234.abcd", ".dat.nosync99.x", "samples/step_000005.png", "samples/latest.png.tmp-77-123"]
        for name in leftovers { try Data("partial".utf8).write(to: run.appendingPathComponent(name)) }
        let events = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(events.count, 1)
        let eventFile = run.appendingPathComponent(events[0])
        let original = try Data(contentsOf: eventFile)
        // A record logged at step 7 by the killed run, then a half-written one.
        let writer = try TensorBoardWriter(file: run.appendingPathComponent("events.out.tfevents.stray"))
        writer.scalar("loss/d_loss", 9, step: 7)
        var stray = try Data(contentsOf: URL(fileURLWithPath: writer.path))
        stray = stray.dropFirst(16 + Int(stray[stray.startIndex]))  // the file's version record (step 0)
        try (original + stray + Data([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17])).write(to: eventFile)
        try FileManager.default.removeItem(atPath: writer.path)

        let result = H.run(["train", "--resume", "--out", run.path, "--set", "train.max_steps=2"])
        XCTAssertEqual(result.code, 0, result.error)
        XCTAssertEqual(try H.metrics(run).compactMap { $0["step"] as? Int }, [1, 2], "each step once")
        for name in leftovers { XCTAssertFalse(FileManager.default.fileExists(atPath: run.appendingPathComponent(name).path), name) }
        XCTAssertEqual(try Data(contentsOf: eventFile), original, "the old stream ends at the checkpoint's step")
    }

    /// Two identical runs give byte-identical checkpoints (the stored state's JSON keys are sorted).
    func testIdenticalRunsGiveIdenticalCheckpoints() throws {
        let folder = try H.temporaryFolder(for: self)
        let a = folder.appendingPathComponent("a"), b = folder.appendingPathComponent("b")
        XCTAssertEqual(H.train(out: a, ["--set", "train.max_steps=1"]).code, 0)
        XCTAssertEqual(H.train(out: b, ["--set", "train.max_steps=1"]).code, 0)
        let cmp = try Process.run(URL(fileURLWithPath: "/usr/bin/cmp"),
                                  arguments: [a.appendingPathComponent(RunFile.checkpoint.path).path, b.appendingPathComponent(RunFile.checkpoint.path).path])
        cmp.waitUntilExit()
        XCTAssertEqual(cmp.terminationStatus, 0, "cmp of the two checkpoints")
    }

    /// A start that fails leaves no run folder it created; a folder that existed is kept.
    func testAFailedStartLeavesNoEmptyRunFolder() throws {
        let folder = try H.temporaryFolder(for: self)
        let run = folder.appendingPathComponent("new/run")
        let result = H.train(out: run, ["--data", folder.appendingPathComponent("missing.h5").path])
        XCTAssertEqual(result.code, 1, result.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.path))
    }

    /// Checkpoints whose stored state or config a hostile edit damaged: errors, not traps.
    func testDamagedCheckpointMetadataIsAnError() throws {
        let run = try H.copyOfTrainedRun(for: self)
        let url = run.appendingPathComponent(RunFile.checkpoint.path)
        let (tensors, metadata) = try SafeTensors.read(url)
        let named = try tensors.keys.sorted().map { name -> NamedTensor in
            let entry = try XCTUnwrap(tensors[name])
            return NamedTensor(name, try Tensor(shape: entry.shape, scalars: entry.values))
        }
        func rewrite(_ change: (inout [String: String]) -> Void) throws {
            var m = metadata
            change(&m)
            try SafeTensors.write(named, metadata: m, to: url)
        }
        let out = try H.temporaryFolder(for: self).path
        try rewrite { $0["stage"] = "3" }
        var result = H.run(["generate", "--checkpoint", url.path, "--dataset", H.dataset, "--out", out])
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains("metadata `stage` is 3"), result.error)
        try rewrite { $0["config"] = ($0["config"] ?? "").replacingOccurrences(of: "stage: 1", with: "stage: 3") }
        result = H.run(["evaluate", "--checkpoint", url.path])
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains("`stage` must be 1 or 2, got 3"), result.error)
        for state in [#"{"step": -4, "epoch": 0, "batch": 0, "generatorOptimizerStep": 0, "discriminatorOptimizerStep": 0, "random": {"state": [1, 2, 3, 4]}}"#,
                      #"{"step": 1, "epoch": 0, "batch": 0, "generatorOptimizerStep": 0, "discriminatorOptimizerStep": 0, "random": {"state": []}}"#] {
            try rewrite { $0["state"] = state }
            result = H.run(["train", "--resume", "--out", run.path, "--set", "train.max_steps=2"])
            XCTAssertEqual(result.code, 1, state)
            XCTAssertTrue(result.error.contains("state"), result.error)
        }
    }

    /// Bounds and flags of generate and evaluate that used to trap, allocate without end or be ignored.
    func testGenerateAndEvaluateBoundsAndFlags() throws {
        let checkpoint = try H.trainedRun().appendingPathComponent(RunFile.checkpoint.path).path
        let folder = try H.temporaryFolder(for: self)
        let out = folder.appendingPathComponent("out").path
        var result = H.run(["generate", "--checkpoint", checkpoint, "--dataset", H.dataset, "--out", out, "--samples-per-caption", "100000"])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains("--samples-per-caption must be in 1...64"), result.error)
        result = H.run(["generate", "--checkpoint", checkpoint, "--dataset", H.dataset, "--out", out, "--steps", "4"])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains("--steps applies only to --interpolate"), result.error)
        // evaluate checks its report path before any work: a report "inside" a file.
        let blocker = folder.appendingPathComponent("file")
        try Data().write(to: blocker)
        result = H.run(["evaluate", "--checkpoint", checkpoint, "--out", blocker.appendingPathComponent("report.json").path,
                        "--classifier-cache", folder.appendingPathComponent("cache").path])
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains("is a file"), result.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("cache").path), "nothing trained")
        result = H.run(["evaluate", "--checkpoint", checkpoint, "--dataset", H.dataset,
                        "--classifier-cache", blocker.appendingPathComponent("cache").path])
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains("cannot create the model cache"), result.error)
    }

    /// Errors are one line of bounded length, whatever they quote.
    func testErrorsAreOneBoundedLine() throws {
        let folder = try H.temporaryFolder(for: self)
        let config = folder.appendingPathComponent("bad.yml")
        try "model:\n  gf_dim: [4\n  z_dim: 3\n".write(to: config, atomically: true, encoding: .utf8)
        var result = H.run(["train", "--config", config.path, "--out", folder.appendingPathComponent("r").path])
        XCTAssertEqual(result.code, 2)
        XCTAssertFalse(result.error.contains("\n"), result.error)
        let npy = folder.appendingPathComponent("odd.npy")
        try Data([0x93] + Array("NUMPY".utf8) + [1, 0, 40, 0] + Array("{'descr': '\r\n\u{7}\u{1b}[31m', 'shape': (2,)}".utf8.prefix(40))).write(to: npy)
        result = H.run(["generate", "--checkpoint", try H.trainedRun().appendingPathComponent(RunFile.checkpoint.path).path,
                        "--embeddings", npy.path, "--out", folder.appendingPathComponent("g").path])
        XCTAssertEqual(result.code, 1)
        XCTAssertFalse(result.error.contains(where: { $0.isNewline || $0 == "\u{1b}" }), result.error)
        result = H.run(["train", "--config", config.path, "--set", "name=" + String(repeating: "y", count: 10_000_000), "--set", "a=b"])
        XCTAssertEqual(result.code, 2)
        XCTAssertLessThan(result.error.count, 1100, String(result.error.prefix(200)))
    }
}
