import Autograd
import Datasets
import Foundation
import NN
import StackGAN
import StackGANCLI
import TextEncoder
import XCTest

/// Issue 28: each class of hostile input found in the second round ends in a one-line error
/// (exit 1 or 2) or a correct result. MPI ranks that disagree are in DataParallelTrainTests, the
/// server's callers in ServeTests, the readers' own cases in DatasetsTests.
final class HardeningRoundTwoTests: XCTestCase {
    typealias H = CommandHarness

    static let fixtures = H.root.appendingPathComponent("Tests/DatasetsTests/Fixtures")

    func write(_ text: String, _ url: URL) throws { try Data(text.utf8).write(to: url) }

    func assertOneLineError(_ result: (code: Int32, error: String), code: Int32, contains expected: String...,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.code, code, result.error, file: file, line: line)
        XCTAssertFalse(result.error.contains("\n"), result.error, file: file, line: line)
        for text in expected { XCTAssertTrue(result.error.contains(text), "no '\(text)' in: \(result.error)", file: file, line: line) }
    }

    func kind(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : 0
    }

    // MARK: 1. A damaged HDF5 group structure

    /// `inspect`, `train` and `generate --dataset` died with SIGSEGV/SIGABRT inside libhdf5.
    func testDamagedGroupStructuresEndInOneLine() throws {
        let folder = try H.temporaryFolder(for: self)
        for name in ["hostile_link_message_version.h5", "hostile_link_info_heap.h5"] {
            let data = Self.fixtures.appendingPathComponent(name).path
            assertOneLineError(H.run(["inspect", data]), code: 1, contains: name, "libhdf5 crashed")
            assertOneLineError(H.train(out: folder.appendingPathComponent("run"), ["--data", data]), code: 1, contains: "libhdf5 crashed")
            let checkpoint = try H.trainedRun().appendingPathComponent(RunFile.checkpoint.path).path
            assertOneLineError(H.run(["generate", "--checkpoint", checkpoint, "--dataset", data, "--split", "train",
                                      "--out", folder.appendingPathComponent("g").path]), code: 1, contains: "libhdf5 crashed")
        }
    }

    // MARK: 2. Evaluation models whose metadata lies

    /// A classifier and a matcher with widths 2 (tiny files), and what `evaluate` says of each
    /// tampered copy: it used to build the model from the metadata first (SIGILL on a negative or
    /// 2^63 width, a 192 GB allocation on 1e9, 9.7 GB from a 400 KB file on 2000).
    func testEvaluationModelsAreCheckedBeforeTheyAreBuilt() throws {
        let folder = try H.temporaryFolder(for: self)
        var rng = RandomGenerator(seed: 1)
        let classifier = folder.appendingPathComponent("classifier.safetensors"), matcher = folder.appendingPathComponent("matcher.safetensors")
        try ConditionClassifier(classNames: ["a", "b"], width: 2, featureWidth: 4, using: &rng).save(to: classifier)
        try ImageTextMatcher(embeddingWidth: 384, width: 2, hiddenWidth: 4, jointWidth: 4, using: &rng).save(to: matcher)
        func tampered(_ url: URL, _ key: String, _ value: String) throws -> String {
            let (tensors, metadata) = try SafeTensors.read(url)
            let copy = folder.appendingPathComponent("\(key)-\(value.prefix(12))-\(url.lastPathComponent)")
            try SafeTensors.write(try tensors.keys.sorted().map { NamedTensor($0, try Tensor(shape: tensors[$0]!.shape, scalars: tensors[$0]!.values)) },
                                  metadata: metadata.merging([key: value]) { $1 }, to: copy)
            return copy.path
        }
        let checkpoint = try H.trainedRun().appendingPathComponent(RunFile.checkpoint.path).path
        func evaluate(_ extra: [String]) -> (code: Int32, error: String) {
            H.run(["evaluate", "--checkpoint", checkpoint, "--dataset", H.dataset, "--limit", "2",
                   "--classifier-cache", folder.appendingPathComponent("cache").path] + extra)
        }
        for width in ["-4", "9223372036854775807", "1000000000", "2000", "x"] {
            assertOneLineError(evaluate(["--classifier", try tampered(classifier, "width", width)]), code: 1, contains: "metadata `width`")
            assertOneLineError(evaluate(["--classifier", classifier.path, "--matcher", try tampered(matcher, "width", width)]),
                               code: 1, contains: "metadata `width`")
        }
        assertOneLineError(evaluate(["--classifier", try tampered(classifier, "classes", #"["a", "b", "c"]"#)]), code: 1,
                           contains: "3 labels in the metadata for output, but tensor output.weight has shape [2, 4]")
        assertOneLineError(evaluate(["--classifier", classifier.path, "--matcher", try tampered(matcher, "joint_width", "4096")]),
                           code: 1, contains: "metadata `joint_width` is 4096, but tensor projection.weight has shape [4, 4]")
        // 9. Trained on another dataset, as its metadata says: refused, not scored at 4%.
        assertOneLineError(evaluate(["--classifier", try tampered(classifier, "dataset_fingerprint", "123-abc")]),
                           code: 1, contains: "was trained on another dataset")
        // A tampered file in the cache is checked the same way (the cache's name for this dataset).
        let cached = try ModelCache.url(formatTag: ConditionClassifier.formatTag, datasetPath: H.dataset,
                                        options: ClassifierTrainingOptions(), directory: folder.appendingPathComponent("cache"))
        try FileManager.default.createDirectory(at: cached.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try tampered(classifier, "feature_width", "1000000000"), toPath: cached.path)
        assertOneLineError(evaluate([]), code: 1, contains: "metadata `feature_width`")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("out.json").path))
    }

    /// 9. A matcher with all-zero weights ranked nothing (R-precision 0%) without a word: the
    /// report now warns, as it does for a classifier no better than the majority class.
    func testADegenerateMatcherIsWarnedAbout() throws {
        let folder = try H.temporaryFolder(for: self)
        var rng = RandomGenerator(seed: 1)
        let classifier = folder.appendingPathComponent("classifier.safetensors"), matcher = folder.appendingPathComponent("matcher.safetensors")
        let classes = try TextImageDataset.open(path: H.dataset, split: "test").classNames
        try ConditionClassifier(classNames: classes, width: 2, featureWidth: 4, using: &rng).save(to: classifier)
        let zero = ImageTextMatcher(embeddingWidth: 384, width: 2, hiddenWidth: 4, jointWidth: 4, using: &rng)
        for t in zero.namedTensors { try t.tensor.assign([Float](repeating: 0, count: t.tensor.count).withUnsafeBufferPointer { $0 }) }
        try zero.save(to: matcher)
        let out = folder.appendingPathComponent("report.json")
        let result = H.run(["evaluate", "--checkpoint", try H.trainedRun().appendingPathComponent(RunFile.checkpoint.path).path,
                            "--dataset", H.dataset, "--limit", "8", "--classifier", classifier.path, "--matcher", matcher.path, "--out", out.path])
        XCTAssertEqual(result.code, 0, result.error)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
        XCTAssertTrue((report["matcher_warning"] as? String ?? "").contains("not clearly above chance"), "\(report)")
    }

    // MARK: 5. Outputs onto devices, FIFOs, links and inputs

    func testOutputsOntoDevicesFIFOsLinksAndInputs() throws {
        let folder = try H.temporaryFolder(for: self)
        let captions = folder.appendingPathComponent("captions.txt")
        try write("a big red star on a black background\na tiny blue square\n", captions)
        // A device is written in place (as root, /dev/null was replaced by a regular file).
        XCTAssertEqual(H.run(["embed", captions.path, "--out", "/dev/null"]).code, 0)
        XCTAssertEqual(kind("/dev/null"), S_IFCHR)
        XCTAssertEqual(H.run(["inspect", H.dataset, "--grid", "/dev/null"]).code, 0)
        XCTAssertEqual(kind("/dev/null"), S_IFCHR)
        // A FIFO nobody reads: an error at once, not a wait forever.
        let fifo = folder.appendingPathComponent("pipe").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        assertOneLineError(H.run(["embed", captions.path, "--out", fifo]), code: 1, contains: "a FIFO that no process is reading")
        XCTAssertEqual(kind(fifo), S_IFIFO)
        // An --out that is an input is refused before anything is written.
        assertOneLineError(H.run(["embed", captions.path, "--out", captions.path]), code: 1, contains: "is also an input")
        XCTAssertEqual(try String(contentsOf: captions, encoding: .utf8), "a big red star on a black background\na tiny blue square\n")
        let run = try H.copyOfTrainedRun(for: self)
        let checkpoint = run.appendingPathComponent(RunFile.checkpoint.path)
        let before = try Data(contentsOf: checkpoint)
        assertOneLineError(H.run(["evaluate", "--checkpoint", checkpoint.path, "--out", checkpoint.path]), code: 1, contains: "is also an input")
        XCTAssertEqual(try Data(contentsOf: checkpoint), before)
        let metrics = run.appendingPathComponent("metrics.jsonl")
        assertOneLineError(H.run(["report", run.path, "--out", metrics.path]), code: 1, contains: "is also an input")
        XCTAssertEqual(H.run(["report", run.path, "--out", "/dev/null"]).code, 0)
        // A link the user named is followed; the link stays.
        let target = folder.appendingPathComponent("target.html"), link = folder.appendingPathComponent("link.html")
        try write("old", target)
        XCTAssertEqual(symlink(target.path, link.path), 0)
        XCTAssertEqual(H.run(["report", run.path, "--out", link.path]).code, 0)
        XCTAssertEqual(kind(link.path), S_IFLNK)
        XCTAssertTrue(try String(contentsOf: target, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
        // make-dataset's HDF5 file, written by libhdf5 to a temporary file, goes into the device.
        let images = folder.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        let data = try TextImageDataset.open(path: H.dataset, split: "test")
        for i in 0..<2 {
            try ImageCodec.writePNG(try data.image(at: i), to: images.appendingPathComponent("\(i).png").path)
            try write(data.captions[i][0] + "\n", images.appendingPathComponent("\(i).txt"))
        }
        XCTAssertEqual(H.run(["make-dataset", images.path, "--out", "/dev/null", "--test-fraction", "0"]).code, 0)
        XCTAssertEqual(kind("/dev/null"), S_IFCHR)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: images.path).sorted(), ["0.png", "0.txt", "1.png", "1.txt"])
        assertOneLineError(H.run(["make-dataset", images.path, "--out", images.appendingPathComponent("0.png").path]),
                           code: 1, contains: "is also an input")
    }

    // MARK: 6 and 7. Caption files with Windows line ends, captions with nothing in them

    func testWindowsLineEndsAndEmptyCaptions() throws {
        let folder = try H.temporaryFolder(for: self)
        let lf = folder.appendingPathComponent("lf.txt"), crlf = folder.appendingPathComponent("crlf.txt")
        let captions = ["a big red star on a black background", "a tiny blue square", "a green circle"]
        try write(captions.joined(separator: "\n") + "\n", lf)
        try write(captions.joined(separator: "\r\n") + "\r\n", crlf)
        for file in [lf, crlf] { XCTAssertEqual(H.run(["embed", file.path, "--out", file.path + ".npy"]).code, 0) }
        let a = try Npy.read(path: lf.path + ".npy"), b = try Npy.read(path: crlf.path + ".npy")
        XCTAssertEqual(b.shape, [3, 384], "three captions, not one")
        XCTAssertEqual(a, b)
        let out = folder.appendingPathComponent("g")
        XCTAssertEqual(H.run(["generate", "--checkpoint", try H.scaledCheckpoint(), "--captions", crlf.path, "--samples-per-caption", "1",
                              "--out", out.path]).code, 0)
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("captions.txt"), encoding: .utf8).split(separator: "\n").count, 3)

        // Nothing to embed: NUL, zero-width space, BOM, soft hyphen, a combining mark, a control character.
        for nothing in ["\u{0}", "\u{200B}", "\u{FEFF}", "\u{00AD}", "\u{0301}", "\u{7}", " \u{200B}\t\u{FEFF} "] {
            try write("a red star\r\n\(nothing)\r\na blue square\r\n", crlf)
            assertOneLineError(H.run(["embed", crlf.path, "--out", folder.appendingPathComponent("x.npy").path]), code: 1,
                               contains: "crlf.txt: line 2", "empty caption")
        }
        for nothing in ["\u{200B}", "\u{0301}"] {
            assertOneLineError(H.run(["generate", "--checkpoint", try H.scaledCheckpoint(), "--caption", "a red star", "--caption", nothing,
                                      "--out", out.path]), code: 1, contains: "--caption number 2", "empty caption")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("x.npy").path))
    }

    /// make-dataset: a CRLF TSV gave one image all the other lines; captions of nothing are
    /// dropped like blank lines; a JPEG cut mid-scan is skipped as undecodable, not stored (8);
    /// the 64 MiB cap holds for a link to a large file (10).
    func testMakeDatasetReadsCRLFAndRefusesBrokenImages() throws {
        let folder = try H.temporaryFolder(for: self), images = folder.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        let data = try TextImageDataset.open(path: H.dataset, split: "test")
        var tsv = ""
        for i in 0..<3 {
            try ImageCodec.writePNG(try data.image(at: i), to: images.appendingPathComponent("\(i).png").path)
            tsv += "\(i).png\t\(data.captions[i][0])\r\n\(i).png\t\(data.captions[i][1])\r\n\(i).png\t\u{00AD}\u{FEFF}\r\n"
        }
        let jpegFile = [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent("per_example.h5")))
        let start = try XCTUnwrap(jpegFile.indices.first { jpegFile[$0...].starts(with: [0xFF, 0xD8, 0xFF]) })
        let scan = try XCTUnwrap(jpegFile.indices.first { $0 > start && jpegFile[$0...].starts(with: [0xFF, 0xDA]) })
        try Data(jpegFile[start..<(scan + 20)]).write(to: images.appendingPathComponent("cut.jpg"))
        tsv += "cut.jpg\ta picture cut in half\r\n"
        let sparse = folder.appendingPathComponent("sparse.png")
        XCTAssertTrue(FileManager.default.createFile(atPath: sparse.path, contents: Data([0x89, 0x50, 0x4E, 0x47])))
        XCTAssertEqual(truncate(sparse.path, 100 << 20), 0)  // 100 MB that take no disk
        XCTAssertEqual(symlink(sparse.path, images.appendingPathComponent("big.png").path), 0)
        tsv += "big.png\ta huge picture\r\n"
        let captionsFile = folder.appendingPathComponent("captions.tsv")
        try write(tsv, captionsFile)
        let out = folder.appendingPathComponent("mine.h5")
        let result = H.run(["make-dataset", images.path, "--captions", captionsFile.path, "--out", out.path, "--test-fraction", "0"])
        XCTAssertEqual(result.code, 0, result.error)
        let made = try TextImageDataset.open(path: out.path, split: "train")
        XCTAssertEqual(made.names, ["0.png", "1.png", "2.png"], "the cut JPEG and the 100 MB file are skipped")
        XCTAssertEqual(made.captionsPerImage, 2)
        for i in 0..<3 { XCTAssertEqual(made.captions[i], Array(data.captions[i].prefix(2))) }
    }

    // MARK: 9 and 10. Non-finite images, bounds set by the input

    func testHugeEmbeddingsAndTooManyNoiseRowsAreErrors() throws {
        let folder = try H.temporaryFolder(for: self)
        let huge = folder.appendingPathComponent("huge.npy")
        try Npy.write([Float](repeating: 1e30, count: 384), shape: [1, 384], to: huge.path)
        assertOneLineError(H.run(["generate", "--checkpoint", try H.scaledCheckpoint(), "--embeddings", huge.path,
                                  "--out", folder.appendingPathComponent("g").path]), code: 1, contains: "image 0", "largest value is 1e+30")
        let noise = folder.appendingPathComponent("noise.npy")
        let z = try Checkpoint(path: try H.scaledCheckpoint()).config.model.noiseDimension
        try Npy.write([Float](repeating: 0.1, count: 2000 * z), shape: [2000, z], to: noise.path)
        assertOneLineError(H.run(["generate", "--checkpoint", try H.scaledCheckpoint(), "--dataset", H.dataset, "--noise", noise.path,
                                  "--out", folder.appendingPathComponent("g").path]), code: 2, contains: "2000 rows", "at most 64")
    }

    /// `report` drew one chart per metrics key without a bound (200,000 keys: a 280 MB page).
    func testReportChartsABoundedNumberOfTerms() throws {
        let run = try H.copyOfTrainedRun(for: self)
        let keys = (0..<20_000).map { "\"term\($0)\": 1.5" }.joined(separator: ", ")
        try write("{\"step\": 1, \(keys)}\n{\"step\": 2, \(keys)}\n", run.appendingPathComponent("metrics.jsonl"))
        let out = run.appendingPathComponent("report.html")
        XCTAssertEqual(H.run(["report", run.path, "--out", out.path]).code, 0)
        let html = try String(contentsOf: out, encoding: .utf8)
        XCTAssertEqual(html.components(separatedBy: "aria-label=\"term").count - 1, 32)
        XCTAssertTrue(html.contains("19968 more terms not charted"), String(html.prefix(2000)))
        XCTAssertLessThan(html.utf8.count, 4 << 20)
    }

    // MARK: 4. Links in a run folder

    /// A `.stackgan.lock` link made `train` truncate its target; a `samples/` link made `report`
    /// embed files from outside the run.
    func testLinksInARunFolderAreNotFollowed() throws {
        let folder = try H.temporaryFolder(for: self)
        let victim = folder.appendingPathComponent("victim.txt")
        try write("keep me", victim)
        let run = folder.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: run.appendingPathComponent(".stackgan.lock").path, withDestinationPath: victim.path)
        assertOneLineError(H.train(out: run, ["--set", "train.max_steps=1"]), code: 1, contains: ".stackgan.lock", "symbolic link")
        XCTAssertEqual(try String(contentsOf: victim, encoding: .utf8), "keep me")

        let copy = try H.copyOfTrainedRun(for: self)
        let elsewhere = folder.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: copy.appendingPathComponent("samples/latest.png"), to: elsewhere.appendingPathComponent("step_000009.png"))
        try write("a caption from outside the run\n", elsewhere.appendingPathComponent("captions.txt"))
        try FileManager.default.removeItem(at: copy.appendingPathComponent("samples"))
        try FileManager.default.createSymbolicLink(atPath: copy.appendingPathComponent("samples").path, withDestinationPath: elsewhere.path)
        XCTAssertEqual(H.run(["report", copy.path]).code, 0)
        let html = try String(contentsOf: copy.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertFalse(html.contains("outside the run"))
        XCTAssertFalse(html.contains("step 9<"), "no grid read through the link")
        XCTAssertTrue(html.contains("No sample grids."))
        // Training into it again is refused before anything is written through the link.
        assertOneLineError(H.run(["train", "--out", copy.path, "--resume"]), code: 1, contains: "samples", "not a folder")
    }

    // MARK: Leftover: tensors a checkpoint holds under a model's prefix that the model has no place for

    func testACheckpointWithAnExtraTensorUnderAModelsPrefixIsRefused() throws {
        let run = try H.copyOfTrainedRun(for: self)
        let url = run.appendingPathComponent(RunFile.checkpoint.path)
        let (tensors, metadata) = try SafeTensors.read(url)
        var named = try tensors.keys.sorted().map { NamedTensor($0, try Tensor(shape: tensors[$0]!.shape, scalars: tensors[$0]!.values)) }
        let extra = try Checkpoint(path: url.path).samplingPrefix.rawValue + ".extra.weight"
        named.append(NamedTensor(extra, try Tensor(shape: [2], scalars: [1, 2])))
        try SafeTensors.write(named, metadata: metadata, to: url)
        assertOneLineError(H.run(["generate", "--checkpoint", url.path, "--dataset", H.dataset, "--out", run.appendingPathComponent("g").path]),
                           code: 1, contains: "unexpected tensor \(extra)")
    }
}
