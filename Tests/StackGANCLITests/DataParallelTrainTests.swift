import Foundation
import NN
import StackGAN
import XCTest

/// `mpirun -np 2 stackgan train` against one process on the same global batch. The ranks are real
/// processes of the built binary under Open MPI's launcher (installed by scripts/install_deps.sh;
/// in CI these tests must run, elsewhere they skip when mpirun is missing).
final class DataParallelTrainTests: XCTestCase {
    /// The `stackgan` binary built beside this test bundle.
    static let binary: URL = {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("stackgan")
    }()

    static var mpirun: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    override func setUpWithError() throws {
        if Self.mpirun == nil && ProcessInfo.processInfo.environment["CI"] == nil {
            throw XCTSkip("mpirun not found (scripts/install_deps.sh installs openmpi-bin); the data-parallel tests need it")
        }
        XCTAssertNotNil(Self.mpirun, "mpirun must be installed in CI (scripts/install_deps.sh)")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.binary.path), "no stackgan binary at \(Self.binary.path)")
    }

    /// Runs `stackgan COMMAND ARGS` on `ranks` processes (1: without mpirun), one thread each;
    /// returns the exit code and output.
    @discardableResult
    func train(ranks: Int, command: String = "train", _ arguments: [String]) throws -> (code: Int32, output: String) {
        let oneThread = ["OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"]
        if ranks == 1 { return try Self.output(of: Self.binary, [command] + arguments, environment: oneThread) }
        return try Self.output(of: URL(fileURLWithPath: try XCTUnwrap(Self.mpirun)),
                               ["--allow-run-as-root", "--oversubscribe", "-np", String(ranks), Self.binary.path, command] + arguments,
                               environment: oneThread)
    }

    /// `scripts/two_hosts.sh stackgan COMMAND ARGS`: one rank in each of two network namespaces
    /// joined by a veth pair, talking over TCP only. The script fails unless `minBytes` crossed the
    /// pair each way; a machine that cannot make namespaces (exit 77) skips, saying why.
    func twoHosts(command: String, _ arguments: [String], minBytes: Int) throws -> (code: Int32, output: String) {
        let result = try Self.output(of: URL(fileURLWithPath: "/bin/bash"),
                                     [CommandHarness.root.appendingPathComponent("scripts/two_hosts.sh").path, Self.binary.path, command] + arguments,
                                     environment: ["MIN_BYTES": String(minBytes)])
        if result.code == 77 {
            throw XCTSkip(result.output.split(separator: "\n").last.map(String.init) ?? "scripts/two_hosts.sh: skipped")
        }
        return result
    }

    /// `executable ARGUMENTS` with `extra` added to this process's environment: its exit code and
    /// its output (stdout and stderr together).
    static func output(of executable: URL, _ arguments: [String], environment extra: [String: String]) throws -> (code: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        let pipe = Pipe()
        (process.standardOutput, process.standardError) = (pipe, pipe)
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The ablation both ablation tests run: 2 heads x 2 seeds of 2 steps on the tiny config.
    static func ablationArguments() throws -> [String] {
        ["--config", CommandHarness.tinyConfig, "--set", "data.path=\(CommandHarness.dataset)", "--heads", "single,split",
         "--seeds", "2", "--steps", "2", "--limit", "8",
         "--classifier", try EvaluateAblateTests.classifier().path, "--matcher", try EvaluateAblateTests.matcher().path]
    }

    /// The ablation in one process (one thread), run once per test process.
    func oneProcessAblation() throws -> URL {
        if let folder = Self.sharedAblation { return folder }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("stackgan-cli-ablation-\(UUID().uuidString)")
        let single = try train(ranks: 1, command: "ablate", Self.ablationArguments() + ["--out", folder.path])
        XCTAssertEqual(single.code, 0, single.output)
        atexit { if let url = DataParallelTrainTests.sharedAblation { try? FileManager.default.removeItem(at: url) } }
        Self.sharedAblation = folder
        return folder
    }

    private static var sharedAblation: URL?

    /// Rank 0 of a distributed ablation in `folder` wrote the one-process summary.csv and runs.csv
    /// (timings and paths aside) and every run's sample grid.
    func checkSameAblation(_ folder: URL) throws {
        /// A CSV's rows without the columns that hold wall times or the run folder's path.
        func comparable(_ folder: URL, _ file: String) throws -> [[String]] {
            let rows = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            let keep = try XCTUnwrap(rows.first).indices.filter { !rows[0][$0].contains("seconds") && !rows[0][$0].contains("dir") }
            return rows.map { row in keep.map { $0 < row.count ? row[$0] : "" } }
        }
        let one = try oneProcessAblation()
        for file in ["summary.csv", "runs.csv"] {
            let expected = try comparable(one, file)
            XCTAssertEqual(expected.count, file == "runs.csv" ? 5 : 3, file)
            XCTAssertEqual(try comparable(folder, file), expected, file)
        }
        for name in ["single-seed0", "single-seed1", "split-seed0", "split-seed1"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("samples/\(name).png").path), name)
        }
    }

    /// `mpirun -np 2 stackgan ablate`: the four runs are dealt out to the two ranks and rank 0
    /// writes the summaries a single process writes (both one thread a process), timings aside.
    func testAblationOverTwoRanksWritesTheOneProcessSummary() throws {
        let two = try CommandHarness.temporaryFolder(for: self).appendingPathComponent("two")
        let parallel = try train(ranks: 2, command: "ablate", Self.ablationArguments() + ["--out", two.path])
        XCTAssertEqual(parallel.code, 0, parallel.output)
        XCTAssertEqual(parallel.output.components(separatedBy: "[rank 1] ablation: ").count - 1, 4, "rank 1 trained and evaluated two runs")
        try checkSameAblation(two)
    }

    /// `train` and `ablate` with one rank on each of two "hosts" (scripts/two_hosts.sh): the train
    /// run's replicas stay bit-identical (checked every step) with the gradients crossing the veth
    /// pair, and the ablation writes the one-process summary.
    func testTrainAndAblateAcrossTwoNetworkNamespaces() throws {
        let folder = try CommandHarness.temporaryFolder(for: self)
        let run = folder.appendingPathComponent("train"), steps = 3
        // Each step allreduces D's and G's gradients: at least the parameters' bytes leave each rank.
        let parameters = try Checkpoint(path: CommandHarness.trainedRun().appendingPathComponent(RunFile.checkpoint.path).path).tensors
            .filter { $0.key.hasPrefix("generator.") || $0.key.hasPrefix("discriminator.") }.reduce(0) { $0 + $1.value.values.count }
        let train = try twoHosts(command: "train", ["--config", CommandHarness.tinyConfig, "--data", CommandHarness.dataset, "--out", run.path,
                                                    "--set", "train.max_steps=\(steps)", "--set", "train.replica_check_every=1"],
                                 minBytes: steps * parameters * 4 / 2)
        XCTAssertEqual(train.code, 0, train.output)
        XCTAssertEqual(train.output.components(separatedBy: "on 2 ranks").count - 1, steps, train.output)
        XCTAssertEqual(try Checkpoint(path: run.appendingPathComponent(RunFile.checkpoint.path).path).state?.step, steps)
        let ablation = folder.appendingPathComponent("ablation")
        let result = try twoHosts(command: "ablate", Self.ablationArguments() + ["--out", ablation.path], minBytes: 1)
        XCTAssertEqual(result.code, 0, result.output)
        XCTAssertEqual(result.output.components(separatedBy: "[rank 1] ablation: ").count - 1, 4, "rank 1 trained and evaluated two runs")
        try checkSameAblation(ablation)
    }

    /// ||a - b|| / ||a|| over every tensor whose name starts with `prefix`, concatenated.
    func relativeDifference(_ a: Checkpoint, _ b: Checkpoint, prefix: String) throws -> Double {
        var difference = 0.0, norm = 0.0
        for (name, entry) in a.tensors where name.hasPrefix(prefix) {
            let other = try XCTUnwrap(b.tensors[name], name)
            XCTAssertEqual(entry.shape, other.shape, name)
            for (x, y) in zip(entry.values, other.values) {
                difference += Double(x - y) * Double(x - y)
                norm += Double(x) * Double(x)
            }
        }
        XCTAssertGreaterThan(norm, 0, "no tensors under \(prefix)")
        return (difference / norm).squareRoot()
    }

    /// One D+G step with synchronised batch norm and per-example wrong pairs: 2 ranks x 4 and
    /// 1 rank x 8 end with the same weights (up to summation order) and the same D gradients.
    func checkExactness(config: String, _ settings: [String]) throws {
        let folder = try CommandHarness.temporaryFolder(for: self)
        let common = ["--config", CommandHarness.root.appendingPathComponent(config).path, "--data", CommandHarness.dataset,
                      "--set", "train.max_steps=1", "--set", "train.batch_size=8", "--set", "train.sync_batchnorm=true",
                      "--set", "data.wrong_pairs=differentClass", "--set", "train.replica_check_every=1",
                      // 4 KiB buckets: about 20 allreduces per backward pass, started while it runs.
                      "--set", "train.allreduce_bucket_kib=4"]
            + settings.flatMap { ["--set", $0] }
        let one = folder.appendingPathComponent("one"), two = folder.appendingPathComponent("two")
        let single = try train(ranks: 1, common + ["--out", one.path])
        XCTAssertEqual(single.code, 0, single.output)
        let parallel = try train(ranks: 2, common + ["--out", two.path])
        XCTAssertEqual(parallel.code, 0, parallel.output)
        XCTAssertTrue(parallel.output.contains("on 2 ranks"), parallel.output)
        let a = try Checkpoint(path: one.appendingPathComponent(RunFile.checkpoint.path).path)
        let b = try Checkpoint(path: two.appendingPathComponent(RunFile.checkpoint.path).path)
        XCTAssertEqual(b.state?.step, 1)
        // D's gradients (its Adam moments) agree to 1e-5. The weights get a looser bound: Adam's first
        // step moves each weight by about lr * g / |g|, so where a gradient is near 0 the summation
        // order of batch norm (oneDNN's kernel on one rank, the synchronised one on two) shows.
        for (prefix, bound) in [("generator.", 1e-4), ("discriminator.", 1e-4), ("optimizer_d.", 1e-5)] {
            let error = try relativeDifference(a, b, prefix: prefix)
            XCTAssertLessThan(error, bound, "\(config) \(prefix): relative difference \(error) between 1 rank x 8 and 2 ranks x 4")
        }
    }

    func testStageOneStepOnTwoRanksEqualsOneRankOnTheGlobalBatch() throws {
        try checkExactness(config: "configs/shapes_tiny.yml", [])
    }

    func testGANCLSStepOnTwoRanksEqualsOneRankOnTheGlobalBatch() throws {
        try checkExactness(config: "configs/shapes_gan_cls.yml", ["model.gf_dim=4", "model.df_dim=4", "train.log_every=1",
                                                                  "train.sample_every=0", "train.checkpoint_every=0"])
    }

    /// Local batch norm and shifted wrong pairs (the tiny config as it is): the replica checksum,
    /// compared every step, proves both ranks hold bit-identical weights and optimizer state; rank
    /// 0's checkpoint then resumes on 1 rank and on 2 ranks from the global step it holds.
    func testReplicasStayIdenticalAndTheCheckpointResumesOnOneAndTwoRanks() throws {
        let out = try CommandHarness.temporaryFolder(for: self).appendingPathComponent("run")
        let start = try train(ranks: 2, ["--config", CommandHarness.tinyConfig, "--data", CommandHarness.dataset, "--out", out.path,
                                         "--set", "train.max_steps=3", "--set", "train.replica_check_every=1"])
        XCTAssertEqual(start.code, 0, start.output)
        XCTAssertEqual(start.output.components(separatedBy: "on 2 ranks").count - 1, 3, "one progress line per step from rank 0 only: \(start.output)")
        let checkpoint = out.appendingPathComponent(RunFile.checkpoint.path).path
        XCTAssertEqual(try Checkpoint(path: checkpoint).state?.step, 3)

        let onOne = try train(ranks: 1, ["--out", out.path, "--resume", "--set", "train.max_steps=4"])
        XCTAssertEqual(onOne.code, 0, onOne.output)
        XCTAssertTrue(onOne.output.contains("steps 3..<4"), onOne.output)
        XCTAssertEqual(try Checkpoint(path: checkpoint).state?.step, 4)

        let onTwo = try train(ranks: 2, ["--out", out.path, "--resume", "--set", "train.max_steps=6", "--set", "train.replica_check_every=1"])
        XCTAssertEqual(onTwo.code, 0, onTwo.output)
        XCTAssertTrue(onTwo.output.contains("steps 4..<6"), onTwo.output)
        let final = try Checkpoint(path: checkpoint)
        XCTAssertEqual(final.state?.step, 6)
        XCTAssertTrue(final.tensors.values.allSatisfy { $0.values.allSatisfy(\.isFinite) })
    }

    /// A rank killed mid-run ends the whole job with a non-zero exit and the launcher's message
    /// naming the killed rank; the last checkpoint (written atomically by rank 0) still loads.
    func testAKilledRankEndsTheJobAndTheCheckpointLoads() throws {
        let out = try CommandHarness.temporaryFolder(for: self).appendingPathComponent("run")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try XCTUnwrap(Self.mpirun))
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "2", Self.binary.path, "train",
                             "--config", CommandHarness.tinyConfig, "--data", CommandHarness.dataset, "--out", out.path,
                             "--set", "train.max_steps=100000", "--set", "train.checkpoint_every=1"]
        var environment = ProcessInfo.processInfo.environment
        environment["OMP_NUM_THREADS"] = "1"
        environment["OMP_WAIT_POLICY"] = "PASSIVE"
        process.environment = environment
        let log = out.deletingLastPathComponent().appendingPathComponent("mpirun.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let checkpoint = out.appendingPathComponent(RunFile.checkpoint.path).path
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: checkpoint) && process.isRunning && Date() < deadline { usleep(200_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint), "no checkpoint within 120 s")
        let ranks = Self.children(of: process.processIdentifier)
        XCTAssertEqual(ranks.count, 2, "expected two rank processes under mpirun, found \(ranks)")
        let victim = try XCTUnwrap(ranks.last)
        XCTAssertEqual(kill(victim, SIGKILL), 0)
        let stop = Date().addingTimeInterval(60)
        while process.isRunning && Date() < stop { usleep(200_000) }
        XCTAssertFalse(process.isRunning, "the job did not end within 60 s of a rank's death")
        process.waitUntilExit()
        let output = String(decoding: FileManager.default.contents(atPath: log.path) ?? Data(), as: UTF8.self)
        XCTAssertNotEqual(process.terminationStatus, 0, output)
        XCTAssertTrue(output.contains("signal 9") || output.contains("Killed"), "the launcher names the killed rank: \(output)")
        let loaded = try Checkpoint(path: checkpoint)
        XCTAssertGreaterThanOrEqual(loaded.state?.step ?? 0, 1)
        XCTAssertTrue(loaded.tensors.values.allSatisfy { $0.values.allSatisfy(\.isFinite) })
    }

    /// Process ids whose parent is `parent` (from /proc; Linux).
    static func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.sorted().filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent
        }
    }

    /// Issue 28: ranks that disagree ended in a double free (another `model.gf_dim`), hung in an
    /// allreduce (another `max_steps`) or trained without a word on inconsistent data (another
    /// seed or dataset). Now rank 0's resolved config and the dataset's identity are compared on
    /// every rank before anything else, and a difference is one error naming the key and the ranks.
    func testRanksThatDisagreeEndWithOneErrorNamingTheKey() throws {
        let folder = try CommandHarness.temporaryFolder(for: self)
        let out = folder.appendingPathComponent("run").path
        func rank(_ extra: [String], in directory: URL? = nil) -> [String] {
            ["-np", "1"] + (directory.map { ["-wdir", $0.path] } ?? []) + [Self.binary.path, "train", "--config", CommandHarness.tinyConfig,
                                                                          "--out", out, "--set", "train.max_steps=2"] + extra
        }
        let data = ["--data", CommandHarness.dataset]
        let cases: [(rank1: [String], says: String)] = [
            (data + ["--set", "model.gf_dim=8"], "model.gf_dim: differs between the MPI ranks: rank 0 has 4, rank 1 has 8 (ranks that differ from rank 0: 1)"),
            (data + ["--set", "train.max_steps=3"], "train.max_steps: differs between the MPI ranks: rank 0 has 2, rank 1 has 3"),
            (data + ["--seed", "7"], "train.seed: differs between the MPI ranks: rank 0 has 0, rank 1 has 7"),
        ]
        for (rank1, says) in cases {
            let result = try mpirun(rank(data) + [":"] + rank(rank1))
            XCTAssertNotEqual(result.code, 0, result.output)
            XCTAssertTrue(result.output.contains(says), result.output)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/" + RunFile.checkpoint.path), "nothing trained")
        }
        // The same relative --data on each rank, another file behind it (a copy on another node).
        let a = folder.appendingPathComponent("a"), b = folder.appendingPathComponent("b")
        for directory in [a, b] { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        try FileManager.default.copyItem(atPath: CommandHarness.dataset, toPath: a.appendingPathComponent("data.h5").path)
        var other = try Data(contentsOf: URL(fileURLWithPath: CommandHarness.dataset))
        other.append(0)
        try other.write(to: b.appendingPathComponent("data.h5"))
        let result = try mpirun(rank(["--data", "data.h5"], in: a) + [":"] + rank(["--data", "data.h5"], in: b))
        XCTAssertNotEqual(result.code, 0, result.output)
        XCTAssertTrue(result.output.contains("dataset: differs between the MPI ranks: rank 0 has \(other.count - 1) bytes"), result.output)
        XCTAssertTrue(result.output.contains("rank 1 has \(other.count) bytes"), result.output)
    }

    /// `mpirun ARGUMENTS` (app contexts may differ per rank), killed after `seconds`: a hang is a failure, not a stuck test.
    func mpirun(_ arguments: [String], seconds: Double = 300) throws -> (code: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try XCTUnwrap(Self.mpirun))
        process.arguments = ["--allow-run-as-root", "--oversubscribe"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OMP_NUM_THREADS"] = "1"
        environment["OMP_WAIT_POLICY"] = "PASSIVE"
        process.environment = environment
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("mpirun-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        (process.standardOutput, process.standardError) = (handle, handle)
        try process.run()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(100_000) }
        if process.isRunning {
            process.terminate()
            XCTFail("mpirun did not end within \(seconds) s (a hang)")
        }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: FileManager.default.contents(atPath: log.path) ?? Data(), as: UTF8.self))
    }

    /// A global batch that does not split over the ranks is refused with the key named, on every rank.
    func testAGlobalBatchThatDoesNotSplitIsAUsageError() throws {
        let out = try CommandHarness.temporaryFolder(for: self).appendingPathComponent("run")
        let result = try train(ranks: 2, ["--config", CommandHarness.tinyConfig, "--data", CommandHarness.dataset, "--out", out.path,
                                          "--set", "train.batch_size=7"])
        XCTAssertNotEqual(result.code, 0)
        XCTAssertTrue(result.output.contains("train.batch_size: the global batch 7 does not split evenly over 2 ranks"), result.output)
    }
}
