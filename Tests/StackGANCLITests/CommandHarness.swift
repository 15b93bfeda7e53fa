import Autograd
import Datasets
import Foundation
import NN
import StackGAN
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

    /// `trainedRun()`'s checkpoint with every generator conv and linear weight scaled by
    /// `generatorGain`, written once. After one step, eval-mode BN still divides by running
    /// variances near their initial 1, so the small initial weights shrink the signal layer by
    /// layer until the last ReLUs are dead and every image is the same flat gray: equal PNGs would
    /// prove nothing. Scaled, images differ with z and text.
    static func scaledCheckpoint() throws -> String {
        if let scaled { return scaled.path }
        let run = try trainedRun()
        let (stored, metadata) = try SafeTensors.read(run.appendingPathComponent(RunFile.checkpoint.path))
        let tensors = try stored.sorted { $0.key < $1.key }.map { name, entry -> NamedTensor in
            let gain = name.hasPrefix("generator.") && entry.shape.count >= 2 ? generatorGain : 1
            return NamedTensor(name, try Tensor(shape: entry.shape, scalars: entry.values.map { $0 * gain }))
        }
        let url = run.appendingPathComponent("scaled.safetensors")
        try SafeTensors.write(tensors, metadata: metadata, to: url)
        scaled = url
        return url.path
    }

    static let generatorGain: Float = 8
    private static var scaled: URL?

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
