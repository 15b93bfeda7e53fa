import Datasets
import Foundation
import NN
import StackGANCLI
import XCTest

/// Runs `stackgan` command lines in-process on the tiny config and the bundled shapes dataset, in a
/// fresh temporary folder per test case.
enum CommandHarness {
    /// The package root, found from this file so tests do not depend on the working directory.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let tinyConfig = root.appendingPathComponent("configs/shapes_tiny.yml").path
    static let dataset = root.appendingPathComponent("data/shapes.h5").path

    /// A new empty folder, removed by `XCTestCase.addTeardownBlock` of `test`.
    static func temporaryFolder(for test: XCTestCase) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("stackgan-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// The exit code and the one-line error a user would see on stderr.
    @discardableResult
    static func run(_ arguments: [String]) -> (code: Int32, error: String) {
        let (code, error) = CommandLineTool.execute(arguments)
        return (code, error ?? "")
    }

    /// `stackgan train` on the tiny config (data path made absolute) into `out`, plus `extra` flags.
    @discardableResult
    static func train(out: URL, _ extra: [String] = []) -> (code: Int32, error: String) {
        run(["train", "--config", tinyConfig, "--data", dataset, "--out", out.path] + extra)
    }

    /// A one-step tiny run, trained once per test process (training is the slow part). Tests that
    /// change a run work on `copyOfTrainedRun`.
    static func trainedRun() throws -> URL {
        if let sharedRun { return sharedRun }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("stackgan-cli-shared-\(UUID().uuidString)")
        let result = train(out: folder, ["--set", "train.max_steps=1"])
        guard result.code == 0 else { throw XCTSkip("training the tiny model failed: \(result.error)") }
        sharedRun = folder
        atexit { CommandHarness.removeTrainedRun() }
        return folder
    }

    private static var sharedRun: URL?

    /// A private copy of `trainedRun()` in a temporary folder of `test`.
    static func copyOfTrainedRun(for test: XCTestCase) throws -> URL {
        let copy = try temporaryFolder(for: test).appendingPathComponent("run")
        try FileManager.default.copyItem(at: try trainedRun(), to: copy)
        return copy
    }

    /// Removes the shared run when the test process exits: several test classes use it.
    static func removeTrainedRun() {
        if let sharedRun { try? FileManager.default.removeItem(at: sharedRun) }
        sharedRun = nil
    }

    /// The tensors of a checkpoint by name.
    static func tensors(_ url: URL) throws -> [String: SafeTensors.Entry] {
        try SafeTensors.read(url).tensors
    }

    /// metrics.jsonl as one dictionary per line.
    static func metrics(_ run: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    static func png(_ url: URL) throws -> RGBImage {
        try ImageCodec.decodePNG([UInt8](try Data(contentsOf: url)), file: url.path)
    }
}
