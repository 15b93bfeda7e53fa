import Autograd
import Datasets
import Foundation
import NN
import StackGAN
import XCTest

/// `stackgan generate` on a one-step tiny Stage-I run: files, grid and captions, that an image
/// depends only on its own caption and noise, interpolation end points, Stage-II with a separate
/// Stage-I, and the bad inputs a user can give.
final class GenerateCommandTests: XCTestCase {
    typealias H = CommandHarness

    /// `CommandHarness.scaledCheckpoint()`: images that differ with z and text.
    func checkpoint() throws -> String { try H.scaledCheckpoint() }

    private static let gain = H.generatorGain

    /// Scales a generator's own conv and linear weights in place, as `checkpoint()` does.
    private static func scaleWeights(_ generator: any TextToImageGenerator) throws {
        for t in generator.namedTensors where t.tensor.shape.count >= 2 && !t.name.hasPrefix("STAGE1_G.") {
            try t.tensor.scalars.map { $0 * gain }.withUnsafeBufferPointer { try t.tensor.assign($0) }
        }
    }

    /// Fails when an image has too few distinct values to tell images apart.
    private func assertVaried(_ url: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let distinct = Set(try H.png(url).pixels).count
        XCTAssertGreaterThan(distinct, 2, "\(url.lastPathComponent) is nearly flat", file: file, line: line)
    }

    private func generate(_ out: URL, _ arguments: [String]) throws -> (code: Int32, error: String) {
        H.run(["generate", "--checkpoint", try checkpoint(), "--out", out.path] + arguments)
    }

    private func bytes(_ folder: URL, _ name: String) throws -> Data { try Data(contentsOf: folder.appendingPathComponent(name)) }

    private func splitEmbeddings(_ rows: [Int]) throws -> [Float] {
        let data = try TextImageDataset.open(path: H.dataset, split: "test")
        return rows.flatMap { Array(data.embedding($0, caption: 0)) }
    }

    func testFromNpyWritesImagesGridAndCaptions() throws {
        let folder = try H.temporaryFolder(for: self)
        let npy = folder.appendingPathComponent("captions.npy").path
        try Npy.write(try splitEmbeddings([0, 1, 2]), shape: [3, 384], to: npy)
        let out = folder.appendingPathComponent("out")
        let result = try generate(out, ["--embeddings", npy, "--samples-per-caption", "2"])
        XCTAssertEqual(result.code, 0, result.error)

        for caption in 0..<3 {
            for sample in 0..<2 {
                let image = try H.png(out.appendingPathComponent(String(format: "caption%03d_sample%02d.png", caption, sample)))
                XCTAssertEqual([image.width, image.height], [64, 64])
            }
        }
        let grid = try H.png(out.appendingPathComponent("grid.png"))
        XCTAssertEqual([grid.width, grid.height], [2 * 64 + 3 * 2, 3 * 64 + 4 * 2])
        let rows = try String(contentsOf: out.appendingPathComponent("captions.txt"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(rows.first.map(String.init), "row 0: caption 0 (row 0 of \(npy))")

        // A (E,) file is one caption; from a .npy or from the dataset, the same embedding and seed
        // make the same image.
        let single = folder.appendingPathComponent("one.npy").path
        try Npy.write(try splitEmbeddings([5]), shape: [384], to: single)
        let fromNpy = folder.appendingPathComponent("npy"), fromDataset = folder.appendingPathComponent("dataset")
        XCTAssertEqual(try generate(fromNpy, ["--embeddings", single, "--samples-per-caption", "1"]).code, 0)
        XCTAssertEqual(try generate(fromDataset, ["--dataset", H.dataset, "--indices", "5", "--samples-per-caption", "1"]).code, 0)
        XCTAssertEqual(try bytes(fromNpy, "caption000_sample00.png"), try bytes(fromDataset, "caption005_sample00.png"))
    }

    /// Eval mode and per-image noise rows: caption 5's images are the same alone or among others.
    func testDatasetIndicesAndBatchIndependence() throws {
        let folder = try H.temporaryFolder(for: self)
        let three = folder.appendingPathComponent("three"), one = folder.appendingPathComponent("one")
        XCTAssertEqual(try generate(three, ["--dataset", H.dataset, "--split", "test", "--indices", "0,5,7",
                                            "--samples-per-caption", "2", "--seed", "3"]).code, 0)
        XCTAssertEqual(try generate(one, ["--dataset", H.dataset, "--indices", "5", "--samples-per-caption", "2",
                                          "--seed", "3"]).code, 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: three.path).sorted()
        XCTAssertEqual(names, ["caption000_sample00.png", "caption000_sample01.png", "caption005_sample00.png",
                               "caption005_sample01.png", "caption007_sample00.png", "caption007_sample01.png",
                               "captions.txt", "grid.png"])
        try assertVaried(three.appendingPathComponent("caption005_sample00.png"))
        for name in ["caption005_sample00.png", "caption005_sample01.png"] {
            XCTAssertEqual(try bytes(three, name), try bytes(one, name), name)
        }
        XCTAssertNotEqual(try H.png(three.appendingPathComponent("caption005_sample00.png")),
                          try H.png(three.appendingPathComponent("caption005_sample01.png")), "columns use different noise")

        let text = try TextImageDataset.open(path: H.dataset, split: "test").captions[5][0]
        let rows = try String(contentsOf: three.appendingPathComponent("captions.txt"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(String(rows[1]), "row 1: caption 5 (test example 'test_00005'): \(text)")
    }

    /// The walk's ends are exactly the two captions' plain samples (column 0: same z and CA noise).
    func testInterpolateCaptions() throws {
        let folder = try H.temporaryFolder(for: self)
        let plain = folder.appendingPathComponent("plain"), walk = folder.appendingPathComponent("walk")
        XCTAssertEqual(try generate(plain, ["--dataset", H.dataset, "--indices", "0,5", "--samples-per-caption", "1"]).code, 0)
        let result = try generate(walk, ["--dataset", H.dataset, "--indices", "0,5", "--interpolate", "captions", "--steps", "4"])
        XCTAssertEqual(result.code, 0, result.error)
        let grid = try H.png(walk.appendingPathComponent("grid.png"))
        XCTAssertEqual([grid.width, grid.height], [4 * 64 + 5 * 2, 64 + 2 * 2])
        XCTAssertEqual(try bytes(walk, "interp_captions_000_005_step00.png"), try bytes(plain, "caption000_sample00.png"))
        XCTAssertEqual(try bytes(walk, "interp_captions_000_005_step03.png"), try bytes(plain, "caption005_sample00.png"))
        try assertVaried(walk.appendingPathComponent("interp_captions_000_005_step00.png"))
        XCTAssertNotEqual(try bytes(plain, "caption000_sample00.png"), try bytes(plain, "caption005_sample00.png"))
        XCTAssertNotEqual(try bytes(walk, "interp_captions_000_005_step01.png"), try bytes(walk, "interp_captions_000_005_step00.png"))
        let rows = try String(contentsOf: walk.appendingPathComponent("captions.txt"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 1)
        XCTAssertTrue(rows[0].contains("caption 0 (") && rows[0].contains("-> caption 5 ("), String(rows[0]))
    }

    /// Noise from a file: K rows make K columns; the noise walk ends at rows 0 and 1.
    func testInterpolateNoiseFromANoiseFile() throws {
        let folder = try H.temporaryFolder(for: self)
        let noise = folder.appendingPathComponent("z.npy").path
        var rng = RandomGenerator(seed: 11)
        try Npy.write(rng.normals(2 * 8), shape: [2, 8], to: noise)
        let plain = folder.appendingPathComponent("plain"), walk = folder.appendingPathComponent("walk")
        XCTAssertEqual(try generate(plain, ["--dataset", H.dataset, "--indices", "5", "--noise", noise]).code, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: plain.path).filter { $0.hasSuffix(".png") && $0.hasPrefix("caption") }.count, 2)
        let result = try generate(walk, ["--dataset", H.dataset, "--indices", "5", "--noise", noise, "--interpolate", "noise",
                                         "--steps", "3"])
        XCTAssertEqual(result.code, 0, result.error)
        XCTAssertEqual(try bytes(walk, "interp_noise_caption005_step00.png"), try bytes(plain, "caption005_sample00.png"))
        XCTAssertEqual(try bytes(walk, "interp_noise_caption005_step02.png"), try bytes(plain, "caption005_sample01.png"))
        XCTAssertNotEqual(try bytes(plain, "caption005_sample00.png"), try bytes(plain, "caption005_sample01.png"))
        XCTAssertNotEqual(try bytes(walk, "interp_noise_caption005_step01.png"), try bytes(walk, "interp_noise_caption005_step00.png"))
    }

    /// Files already in --out survive a run and a failed run; a failed run writes nothing.
    func testExistingFilesInOutAreKept() throws {
        let out = try H.temporaryFolder(for: self).appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: out.appendingPathComponent("keep.txt"))
        XCTAssertEqual(try generate(out, ["--dataset", H.dataset, "--indices", "1", "--samples-per-caption", "1"]).code, 0)
        let grid = try bytes(out, "grid.png")
        XCTAssertEqual(try generate(out, ["--dataset", H.dataset, "--indices", "1,999"]).code, 2)
        XCTAssertEqual(try bytes(out, "keep.txt"), Data("mine".utf8))
        XCTAssertEqual(try bytes(out, "grid.png"), grid)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted(),
                       ["caption001_sample00.png", "captions.txt", "grid.png", "keep.txt"])
    }

    func testBadCheckpoints() throws {
        let folder = try H.temporaryFolder(for: self)
        let out = folder.appendingPathComponent("out")
        let missing = folder.appendingPathComponent("missing.safetensors").path
        var result = H.run(["generate", "--checkpoint", missing, "--dataset", H.dataset, "--out", out.path])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains(missing) && result.error.contains("--checkpoint"), result.error)

        result = H.run(["generate", "--checkpoint", H.dataset, "--dataset", H.dataset, "--out", out.path])
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains(H.dataset) && result.error.contains("safetensors"), result.error)

        // A valid safetensors file that `train` did not write.
        let foreign = folder.appendingPathComponent("foreign.safetensors")
        try SafeTensors.write([NamedTensor("w", try Tensor(shape: [2], scalars: [1, 2]))], to: foreign)
        result = H.run(["generate", "--checkpoint", foreign.path, "--dataset", H.dataset, "--out", out.path])
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains(foreign.path) && result.error.contains("config"), result.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
    }

    func testBadEmbeddings() throws {
        let folder = try H.temporaryFolder(for: self)
        let out = folder.appendingPathComponent("out")
        func check(_ name: String, _ bytes: [UInt8], code: Int32 = 1, mentions words: [String],
                   file: StaticString = #filePath, line: UInt = #line) throws {
            let path = folder.appendingPathComponent(name).path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let result = try generate(out, ["--embeddings", path])
            XCTAssertEqual(result.code, code, result.error, file: file, line: line)
            for word in [path] + words {
                XCTAssertTrue(result.error.contains(word), "'\(word)' not in: \(result.error)", file: file, line: line)
            }
        }
        try check("width.npy", Npy.encode([Float](repeating: 0.1, count: 2 * 100), shape: [2, 100]), mentions: ["100", "384"])
        // int32 of the same size: only the header's dtype differs from a float32 file.
        var int32 = Npy.encode([Float](repeating: 0, count: 384), shape: [384])
        let dtype = try XCTUnwrap((0..<(int32.count - 3)).first { Array(int32[$0..<($0 + 3)]) == Array("<f4".utf8) })
        int32[dtype + 1] = UInt8(ascii: "i")
        try check("int.npy", int32, mentions: ["<i4", "descr"])
        try check("rank.npy", Npy.encode([Float](repeating: 0.1, count: 2 * 2 * 384), shape: [2, 2, 384]), mentions: ["shape"])
        var values = try splitEmbeddings([0, 1])
        values[384 + 7] = .nan
        try check("nan.npy", Npy.encode(values, shape: [2, 384]), mentions: ["row 1", "nan"])
        try check("text.npy", Array("not numpy".utf8), mentions: ["magic"])

        let missing = folder.appendingPathComponent("absent.npy").path
        let result = try generate(out, ["--embeddings", missing])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains(missing), result.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
    }

    func testBadSelectionAndFlags() throws {
        let folder = try H.temporaryFolder(for: self)
        let out = folder.appendingPathComponent("out")
        let cases: [([String], [String])] = [
            (["--dataset", H.dataset, "--indices", "0,200"], ["--indices 200", "200 examples", H.dataset]),
            (["--dataset", H.dataset, "--indices=-1"], ["--indices -1"]),
            (["--dataset", H.dataset, "--indices", "0,x"], ["'x'"]),
            (["--dataset", H.dataset, "--embeddings", "e.npy"], ["--embeddings", "--dataset"]),
            ([], ["--embeddings", "--dataset"]),
            (["--dataset", H.dataset, "--indices", "3", "--interpolate", "captions"], ["two captions"]),
            (["--dataset", H.dataset, "--interpolate", "noise", "--steps", "1"], ["--steps"]),
            (["--dataset", H.dataset, "--samples-per-caption", "0"], ["--samples-per-caption"]),
            (["--dataset", H.dataset, "--interpolate", "sideways"], ["sideways"]),
            (["--dataset", H.dataset, "--no-such-flag"], ["--no-such-flag"]),
            (["--dataset", H.dataset, "--split", "nope"], ["nope"]),
        ]
        for (arguments, words) in cases {
            let result = try generate(out, arguments)
            // An unknown split is found by the dataset reader once the file is open: a runtime error.
            XCTAssertEqual(result.code, arguments.contains("nope") ? 1 : 2, "\(arguments): \(result.error)")
            for word in words { XCTAssertTrue(result.error.contains(word), "\(arguments): '\(word)' not in: \(result.error)") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
    }

    func testBadNoise() throws {
        let folder = try H.temporaryFolder(for: self)
        let out = folder.appendingPathComponent("out")
        let wide = folder.appendingPathComponent("wide.npy").path
        try Npy.write([Float](repeating: 0.5, count: 2 * 5), shape: [2, 5], to: wide)
        var result = try generate(out, ["--dataset", H.dataset, "--noise", wide])
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains(wide) && result.error.contains("z_dim is 8"), result.error)

        let one = folder.appendingPathComponent("one.npy").path
        try Npy.write([Float](repeating: 0.5, count: 8), shape: [8], to: one)
        result = try generate(out, ["--dataset", H.dataset, "--noise", one, "--samples-per-caption", "3"])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains(one) && result.error.contains("3"), result.error)
        result = try generate(out, ["--dataset", H.dataset, "--noise", one, "--interpolate", "noise"])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains(one), result.error)
    }

    func testUnwritableOut() throws {
        let file = try H.temporaryFolder(for: self).appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        let out = file.appendingPathComponent("out")
        let result = try generate(out, ["--dataset", H.dataset, "--indices", "0"])
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains(out.path) && result.error.contains("\(file.path) is a file"), result.error)
        XCTAssertEqual(try Data(contentsOf: file), Data("x".utf8))
    }

    /// Stage-II checkpoints built from the trained Stage-I: one holding STAGE1_G.*, one without it
    /// (so it needs --stage1), and the wrong Stage-I checkpoints --stage1 must refuse.
    func testStageTwoWithASeparateStageOne() throws {
        let folder = try H.temporaryFolder(for: self)
        let stageOnePath = try checkpoint()
        var config = try Checkpoint(path: stageOnePath).config
        config.stage = 2
        config.model.residualBlocks = 1
        config.train.stage1Checkpoint = stageOnePath
        let stageOne = try XCTUnwrap(try Checkpoint.load(stageOnePath).generator as? Stage1Generator)
        var rng = RandomGenerator(seed: 5)
        let stageTwo = Stage2Generator(config: config.model, stageOne: stageOne, using: &rng)
        try Self.scaleWeights(stageTwo)
        let metadata = ["config": try ConfigLoader.yaml(config), "family": "stackgan", "stage": "2"]
        let full = folder.appendingPathComponent("full.safetensors"), bare = folder.appendingPathComponent("bare.safetensors")
        try SafeTensors.write(stageTwo.namedTensors(prefix: "generator"), metadata: metadata, to: full)
        try SafeTensors.write(stageTwo.namedTensors(prefix: "generator").filter { !$0.name.hasPrefix("generator.STAGE1_G.") },
                              metadata: metadata, to: bare)
        // A Stage-I of another width: gf_dim 8.
        var wideConfig = try Checkpoint(path: stageOnePath).config
        wideConfig.model.generatorWidth = 8
        let wide = folder.appendingPathComponent("wide.safetensors")
        try SafeTensors.write(Stage1Generator(config: wideConfig.model, using: &rng).namedTensors(prefix: "generator"),
                              metadata: ["config": try ConfigLoader.yaml(wideConfig), "family": "stackgan", "stage": "1"], to: wide)

        func run(_ checkpoint: URL, stageOne: String?, out: String) -> (code: Int32, error: String) {
            H.run(["generate", "--checkpoint", checkpoint.path, "--dataset", H.dataset, "--indices", "2", "--samples-per-caption", "1",
                   "--out", folder.appendingPathComponent(out).path] + (stageOne.map { ["--stage1", $0] } ?? []))
        }
        var result = run(full, stageOne: nil, out: "full")
        XCTAssertEqual(result.code, 0, result.error)
        let image = try H.png(folder.appendingPathComponent("full/caption002_sample00.png"))
        XCTAssertEqual([image.width, image.height], [256, 256])
        try assertVaried(folder.appendingPathComponent("full/caption002_sample00.png"))

        result = run(bare, stageOne: nil, out: "bare")
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains(bare.path) && result.error.contains("--stage1"), result.error)

        result = run(bare, stageOne: stageOnePath, out: "separate")
        XCTAssertEqual(result.code, 0, result.error)
        XCTAssertEqual(try bytes(folder, "separate/caption002_sample00.png"), try bytes(folder, "full/caption002_sample00.png"))

        result = run(bare, stageOne: full.path, out: "another-stage")
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains(full.path) && result.error.contains("stage 2"), result.error)

        result = run(bare, stageOne: wide.path, out: "another-width")
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains(wide.path) && result.error.contains("model.gf_dim 8"), result.error)

        // A Stage-I with conditional batch norm, which this Stage-II config's Stage-I lacks: refused
        // as a separate Stage-I, and as the Stage-I stored inside a Stage-II checkpoint.
        var modulatedConfig = try Checkpoint(path: stageOnePath).config
        modulatedConfig.model.generatorConditioning = .everyBlock
        let modulatedStageOne = Stage1Generator(config: modulatedConfig.model, using: &rng)
        let modulated = folder.appendingPathComponent("modulated.safetensors")
        try SafeTensors.write(modulatedStageOne.namedTensors(prefix: "generator"),
                              metadata: ["config": try ConfigLoader.yaml(modulatedConfig), "family": "stackgan", "stage": "1"], to: modulated)
        result = run(bare, stageOne: modulated.path, out: "another-conditioning")
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains(modulated.path) && result.error.contains("model.generator_conditioning every_block"), result.error)
        let mismatched = folder.appendingPathComponent("mismatched.safetensors")
        try SafeTensors.write(Stage2Generator(config: config.model, stageOne: modulatedStageOne, using: &rng).namedTensors(prefix: "generator"),
                              metadata: metadata, to: mismatched)
        result = run(mismatched, stageOne: nil, out: "mismatched")
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains(mismatched.path) && result.error.contains("STAGE1_G.condition1"), result.error)

        // The check runs even when the checkpoint has its own Stage-I.
        result = run(full, stageOne: wide.path, out: "another-width-full")
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains(wide.path), result.error)

        result = run(URL(fileURLWithPath: stageOnePath), stageOne: stageOnePath, out: "not-stage-two")
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains("Stage-II"), result.error)

        result = run(bare, stageOne: folder.appendingPathComponent("absent.safetensors").path, out: "absent")
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains("--stage1") && result.error.contains("absent.safetensors"), result.error)
    }
}
