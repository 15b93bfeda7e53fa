import Datasets
import Foundation
import StackGAN
@testable import StackGANCLI
import XCTest

/// `stackgan evaluate` and `stackgan ablate` in-process on the tiny config. A deliberately weak
/// classifier and matcher (64 images, 1 epoch) are trained once per process: these tests check the
/// plumbing and the files; the models' quality is EvaluationTests' business.
final class EvaluateAblateTests: XCTestCase {
    private static var sharedClassifier: URL?
    private static var sharedMatcher: URL?

    static func matcher() throws -> URL {
        if let url = Self.sharedMatcher { return url }
        let data = try TextImageDataset.open(path: CommandHarness.dataset, split: "train")
        var options = MatcherTrainingOptions()
        (options.epochs, options.batchSize, options.limit, options.width, options.hiddenWidth) = (1, 16, 64, 4, 8)
        let (model, _) = try ImageTextMatcher.train(on: data, options: options)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("stackgan-cli-matcher-\(UUID().uuidString).safetensors")
        try model.save(to: url)
        atexit { if let url = EvaluateAblateTests.sharedMatcher { try? FileManager.default.removeItem(at: url) } }
        Self.sharedMatcher = url
        return url
    }

    static func classifier() throws -> URL {
        if let url = Self.sharedClassifier { return url }
        let data = try TextImageDataset.open(path: CommandHarness.dataset, split: "train")
        var options = ClassifierTrainingOptions()
        (options.epochs, options.batchSize, options.limit, options.width, options.featureWidth) = (1, 16, 64, 4, 8)
        let (model, _) = try ConditionClassifier.train(on: data, options: options)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("stackgan-cli-classifier-\(UUID().uuidString).safetensors")
        try model.save(to: url)
        atexit { if let url = EvaluateAblateTests.sharedClassifier { try? FileManager.default.removeItem(at: url) } }
        Self.sharedClassifier = url
        return url
    }

    func testEvaluateWritesTheReport() throws {
        let run = try CommandHarness.trainedRun()
        let report = try CommandHarness.temporaryFolder(for: self).appendingPathComponent("report.json")
        let result = CommandHarness.run(["evaluate", "--checkpoint", run.appendingPathComponent("checkpoint.safetensors").path,
                                         "--dataset", CommandHarness.dataset, "--classifier", try Self.classifier().path, "--matcher", try Self.matcher().path,
                                         "--limit", "12", "--samples-per-caption", "2", "--out", report.path])
        XCTAssertEqual(result.code, 0, result.error)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any])
        XCTAssertEqual(json["examples"] as? Int, 12)
        XCTAssertEqual(json["generated_images"] as? Int, 12 * 5 * 2, "5 captions per example, 2 samples each")
        XCTAssertEqual(json["split"] as? String, "test")
        XCTAssertEqual(json["head"] as? String, "single")
        XCTAssertEqual(json["step"] as? Int, 1)
        // 12 examples of up to 30 classes: the most common class has at least 1 of 12.
        let majority = try XCTUnwrap(json["majority_rate"] as? Double)
        XCTAssertGreaterThanOrEqual(majority, 1.0 / 12 - 1e-12)
        XCTAssertEqual(try XCTUnwrap(json["chance"] as? Double), majority, accuracy: 1e-12, "chance is the majority rate")
        for key in ["condition_accuracy", "real_accuracy", "r_precision", "r_precision_real"] {
            XCTAssertTrue((0...1).contains(try XCTUnwrap(json[key] as? Double)), key)
        }
        // 12 examples x 5 captions: a query's negatives are the 55 captions of the 11 other images.
        XCTAssertEqual(try XCTUnwrap(json["r_precision_chance"] as? Double), 1.0 / 56, accuracy: 1e-12)
        XCTAssertEqual(json["r_precision_candidates"] as? Int, 56)
        let attributes = try XCTUnwrap(json["attributes"] as? [String: Double])
        XCTAssertEqual(Set(attributes.keys), ["background", "color", "shape", "size"])
        let real = try XCTUnwrap(json["attributes_real"] as? [String: Double])
        XCTAssertEqual(Set(real.keys), Set(attributes.keys))
        for value in Array(attributes.values) + Array(real.values) { XCTAssertTrue((0...1).contains(value)) }
        // Every shapes caption names the colour by its label; 7 of the 10 templates name the
        // background, so some of these 60 captions do and some do not.
        let share = try XCTUnwrap(json["attributes_named_share"] as? [String: Double])
        XCTAssertEqual(share["color"], 1)
        XCTAssertTrue((0.3...0.95).contains(try XCTUnwrap(share["background"])), "\(share)")
        XCTAssertEqual(Set(try XCTUnwrap(json["attributes_named"] as? [String: Double]).keys), Set(attributes.keys))
        XCTAssertNil(json["detail"], "64 px images have no detail measures")
        let fid = try XCTUnwrap(json["fid"] as? Double)
        XCTAssertTrue(fid.isFinite && fid > 0, "one training step is far from the real images: FID \(fid)")
        let d = try XCTUnwrap(json["discriminator"] as? [String: Double])
        for key in ["real", "wrong", "fake"] { XCTAssertTrue((0...1).contains(try XCTUnwrap(d[key])), key) }
        XCTAssertEqual(try XCTUnwrap(d["separation"]), d["real"]! - max(d["wrong"]!, d["fake"]!), accuracy: 1e-12)
        XCTAssertNil(d["realness_real"], "a single head has no realness logit")
    }

    func testEvaluateInARunFolderFeedsItsReport() throws {
        let run = try CommandHarness.copyOfTrainedRun(for: self)
        let out = try CommandHarness.temporaryFolder(for: self).appendingPathComponent("report.json")
        let result = CommandHarness.run(["evaluate", "--checkpoint", run.appendingPathComponent("checkpoint.safetensors").path,
                                         "--dataset", CommandHarness.dataset, "--classifier", try Self.classifier().path, "--matcher", try Self.matcher().path,
                                         "--limit", "8", "--out", out.path])
        XCTAssertEqual(result.code, 0, result.error)
        let kept = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("evaluation.json"))) as? [String: Any])
        let asked = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
        XCTAssertEqual(kept["fid"] as? Double, asked["fid"] as? Double, "the same report beside the checkpoint")
        let fid = try XCTUnwrap(asked["fid"] as? Double)
        let html = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains(String(format: "<div class=\"value\">%.1f</div>", fid)), "the refreshed report shows the FID")
        XCTAssertFalse(html.contains("Not evaluated yet"))
    }

    func testEvaluateRejectsBadInputs() throws {
        let folder = try CommandHarness.temporaryFolder(for: self)
        let missing = folder.appendingPathComponent("nope.safetensors").path
        var result = CommandHarness.run(["evaluate", "--checkpoint", missing, "--dataset", CommandHarness.dataset])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains(missing), result.error)

        // The fixture's captions are 8-d; the tiny model was built for 384.
        let run = try CommandHarness.trainedRun()
        let narrow = CommandHarness.root.appendingPathComponent("Tests/DatasetsTests/Fixtures/per_example.h5").path
        result = CommandHarness.run(["evaluate", "--checkpoint", run.appendingPathComponent("checkpoint.safetensors").path,
                                     "--dataset", narrow, "--split", "train", "--classifier", try Self.classifier().path,
                                     "--matcher", try Self.matcher().path])
        XCTAssertEqual(result.code, 1, "a file that exists but cannot be used, as for generate: \(result.error)")
        XCTAssertTrue(result.error.contains("embedding width 8, expected 384"), result.error)

        result = CommandHarness.run(["evaluate", "--checkpoint", run.appendingPathComponent("checkpoint.safetensors").path,
                                     "--classifier", folder.appendingPathComponent("none.safetensors").path])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains("none.safetensors"), result.error)
    }

    func testAblateUnknownHeadIsAUsageError() throws {
        let result = CommandHarness.run(["ablate", "--config", CommandHarness.tinyConfig, "--heads", "single,dual"])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains("'dual'"), result.error)
    }

    func testAblateTwoHeadsTwoSeeds() throws {
        let out = try CommandHarness.temporaryFolder(for: self).appendingPathComponent("ablation")
        let result = CommandHarness.run(["ablate", "--config", CommandHarness.tinyConfig, "--set", "data.path=\(CommandHarness.dataset)",
                                         "--heads", "single,split", "--seeds", "2", "--steps", "1", "--limit", "8",
                                         "--classifier", try Self.classifier().path, "--matcher", try Self.matcher().path, "--out", out.path])
        XCTAssertEqual(result.code, 0, result.error)
        let csv = try String(contentsOf: out.appendingPathComponent("summary.csv"), encoding: .utf8)
        let lines = csv.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        let header = try XCTUnwrap(lines.first)
        for column in ["head", "runs", "condition_accuracy_mean", "condition_accuracy_std", "r_precision_mean", "fid_mean", "fid_std",
                       "d_separation_mean", "train_seconds_std"] {
            XCTAssertTrue(header.contains(column), "summary.csv lacks \(column)")
        }
        XCTAssertEqual(lines.dropFirst().map { $0[0] }, ["single", "split"])
        XCTAssertEqual(lines.dropFirst().map { $0[2] }, ["2", "2"])
        let markdown = try String(contentsOf: out.appendingPathComponent("summary.md"), encoding: .utf8)
        XCTAssertTrue(markdown.contains("| single | as configured | 2 |") && markdown.contains("| split | as configured | 2 |"), markdown)
        XCTAssertTrue(markdown.contains(" ± "), "mean ± spread cells")
        let runs = try String(contentsOf: out.appendingPathComponent("runs.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(runs.count, 5, "a header and four runs")
        for name in ["single-seed0", "single-seed1", "split-seed0", "split-seed1"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("samples/\(name).png").path), name)
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("runs/\(name)/checkpoint.safetensors").path), name)
        }
        // The report: a bar chart per metric, a bar per head, a grid per run.
        let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertEqual(html.components(separatedBy: "<svg ").count - 1, AblationSummary.metrics.count)
        XCTAssertEqual(html.components(separatedBy: "<rect class=\"bar\"").count - 1, 2 * AblationSummary.metrics.count)
        XCTAssertEqual(html.components(separatedBy: "data:image/png;base64,").count - 1, 4)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("runs/split-seed1/evaluation.json").path))
        // The split runs really trained a split head: their checkpoints hold the realness logit.
        let split = try CommandHarness.tensors(out.appendingPathComponent("runs/split-seed0/checkpoint.safetensors"))
        XCTAssertNotNil(split["discriminator.get_uncond_logits.outlogits.0.weight"])
        let single = try CommandHarness.tensors(out.appendingPathComponent("runs/single-seed1/checkpoint.safetensors"))
        XCTAssertNil(single["discriminator.get_uncond_logits.outlogits.0.weight"])
    }

    func testAblateTechniqueSets() throws {
        let bad = CommandHarness.run(["ablate", "--config", CommandHarness.tinyConfig, "--techniques", "none,dropout"])
        XCTAssertEqual(bad.code, 2)
        XCTAssertTrue(bad.error.contains("'dropout'"), bad.error)

        let out = try CommandHarness.temporaryFolder(for: self).appendingPathComponent("ablation")
        // Every head carries every technique: nothing is skipped.
        let result = CommandHarness.run(["ablate", "--config", CommandHarness.tinyConfig, "--set", "data.path=\(CommandHarness.dataset)",
                                         "--set", "model.stage1_head=projection", "--set", "loss.contrastive_weight=1",
                                         "--heads", "split,projection", "--techniques", "none,spectral_norm+contrastive",
                                         "--seeds", "1", "--steps", "1", "--limit", "8",
                                         "--classifier", try Self.classifier().path, "--matcher", try Self.matcher().path, "--out", out.path])
        XCTAssertEqual(result.code, 0, result.error)
        let rows = try String(contentsOf: out.appendingPathComponent("summary.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        XCTAssertEqual(rows.map { $0.split(separator: ",").prefix(2).joined(separator: " ") },
                       ["split none", "split spectral_norm+contrastive", "projection none", "projection spectral_norm+contrastive"])
        let split = try CommandHarness.tensors(out.appendingPathComponent("runs/split+spectral_norm+contrastive-seed0/checkpoint.safetensors"))
        XCTAssertNotNil(split["discriminator.get_uncond_logits.outlogits.0.weight_u"])

        // A variant the architecture rejects stops the ablation before any training, naming the key.
        let ganCLS = CommandHarness.run(["ablate", "--config", CommandHarness.tinyConfig, "--set", "data.path=\(CommandHarness.dataset)",
                                         "--set", "family=gan_cls", "--heads", "single", "--techniques", "none,contrastive",
                                         "--seeds", "1", "--steps", "1", "--out", out.appendingPathComponent("gancls").path])
        XCTAssertEqual(ganCLS.code, 2, ganCLS.error)
        XCTAssertTrue(ganCLS.error.contains("single+contrastive") && ganCLS.error.contains("loss.contrastive_weight"), ganCLS.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("gancls/runs").path), "nothing trained")
        // The technique really was on: spectral normalisation's u vectors are in that checkpoint only.
        let on = try CommandHarness.tensors(out.appendingPathComponent("runs/projection+spectral_norm+contrastive-seed0/checkpoint.safetensors"))
        XCTAssertNotNil(on["discriminator.encode_img.0.weight_u"])
        let off = try CommandHarness.tensors(out.appendingPathComponent("runs/projection+none-seed0/checkpoint.safetensors"))
        XCTAssertNil(off["discriminator.encode_img.0.weight_u"])
    }
}
