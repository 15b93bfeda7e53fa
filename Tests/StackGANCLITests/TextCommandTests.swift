import Autograd
import Datasets
import Foundation
import NN
import StackGANCLI
import TextEncoder
import XCTest

/// `embed`, `generate --caption/--captions` and `make-dataset` with the native sentence encoder
/// (fetched by scripts/fetch_text_encoder.sh; absent, these tests fail with the CLI's message
/// naming that command).
final class TextCommandTests: XCTestCase {
    typealias H = CommandHarness

    func write(_ text: String, _ url: URL) throws { try text.write(to: url, atomically: true, encoding: .utf8) }

    func testEmbedWritesTheEncodersVectorsAndRefusesBlankLines() throws {
        let folder = try H.temporaryFolder(for: self)
        let captions = ["a big red star on a black background", "a tiny blue square", String(repeating: "a green circle ", count: 100)]
        let text = folder.appendingPathComponent("captions.txt"), out = folder.appendingPathComponent("captions.npy")
        try write(captions.joined(separator: "\n") + "\n", text)
        let result = H.run(["embed", text.path, "--out", out.path])
        XCTAssertEqual(result.code, 0, result.error)
        let array = try Npy.read(path: out.path)
        XCTAssertEqual(array.shape, [3, 384])
        let encoder = try SentenceEncoder(folder: try SentenceEncoder.locate(nil))
        XCTAssertEqual(array.values, try encoder.encode(captions).embeddings)

        try write("one\n\nthree\n", text)
        let blank = H.run(["embed", text.path, "--out", folder.appendingPathComponent("blank.npy").path])
        XCTAssertEqual(blank.code, 1)
        XCTAssert(blank.error.contains("line 2") && blank.error.contains("empty"), blank.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("blank.npy").path))

        try write("one\n", text)
        let noEncoder = H.run(["embed", text.path, "--out", out.path, "--encoder", folder.appendingPathComponent("none").path])
        XCTAssertEqual(noEncoder.code, 2)
        XCTAssert(noEncoder.error.contains(SentenceEncoder.fetchCommand), noEncoder.error)
    }

    /// The shapes images and captions of `count` test examples as a folder: one sub-folder per
    /// class, `NNNNN.png` with `NNNNN.txt` beside it. Returns the examples' names in order.
    func shapesFolder(_ folder: URL, count: Int) throws -> TextImageDataset {
        let data = try TextImageDataset.open(path: H.dataset, split: "test")
        for i in 0..<count {
            let classFolder = folder.appendingPathComponent(data.classNames[data.classIndices[i]].replacingOccurrences(of: " ", with: "_"))
            try FileManager.default.createDirectory(at: classFolder, withIntermediateDirectories: true)
            try ImageCodec.writePNG(try data.image(at: i), to: classFolder.appendingPathComponent(String(format: "%05d.png", i)).path)
            try write(data.captions[i].joined(separator: "\n") + "\n", classFolder.appendingPathComponent(String(format: "%05d.txt", i)))
        }
        return data
    }

    func testMakeDatasetFromAFolderTrains() throws {
        let folder = try H.temporaryFolder(for: self)
        let images = folder.appendingPathComponent("images")
        let shapes = try shapesFolder(images, count: 10)
        // A damaged image and an image without captions are skipped, not fatal.
        try FileManager.default.createDirectory(at: images.appendingPathComponent("bad"), withIntermediateDirectories: true)
        try Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).write(to: images.appendingPathComponent("bad/broken.png"))
        try write("a broken picture\n", images.appendingPathComponent("bad/broken.txt"))
        try FileManager.default.copyItem(at: images.appendingPathComponent(String(format: "%@/00000.png", shapes.classNames[shapes.classIndices[0]].replacingOccurrences(of: " ", with: "_"))),
                                         to: images.appendingPathComponent("bad/uncaptioned.png"))
        let out = folder.appendingPathComponent("mine.h5")
        let result = H.run(["make-dataset", images.path, "--out", out.path, "--test-fraction", "0.3", "--seed", "4"])
        XCTAssertEqual(result.code, 0, result.error)

        let train = try TextImageDataset.open(path: out.path, split: "train"), test = try TextImageDataset.open(path: out.path, split: "test")
        // 11 captioned images, 3 drawn for test; the broken one is skipped from its split.
        XCTAssertEqual(train.count + test.count, 10)
        XCTAssert((2...3).contains(test.count), "\(test.count)")
        XCTAssertEqual(train.captionsPerImage, 5)
        XCTAssertEqual(train.embeddingWidth, 384)
        for part in [train, test] {
            for i in 0..<part.count {
                // Names are the files' paths; the text and class survive; the embeddings are
                // those data/shapes.h5 stores for the same captions (there float16-rounded).
                let index = try XCTUnwrap(Int(part.names[i].suffix(9).prefix(5)))
                XCTAssertEqual(part.captions[i], shapes.captions[index])
                XCTAssertEqual(part.classNames[part.classIndices[i]], shapes.classNames[shapes.classIndices[index]].replacingOccurrences(of: " ", with: "_"))
                for k in 0..<5 {
                    let difference = zip(part.embedding(i, caption: k), shapes.embedding(index, caption: k)).map { abs($0 - $1) }.max() ?? 1
                    XCTAssertLessThan(difference, 2e-4, part.names[i])
                }
                XCTAssertEqual(try part.image(at: i).pixels, try shapes.image(at: index).pixels)
            }
        }
        // The same seed gives the same split; the file trains.
        let again = folder.appendingPathComponent("again.h5")
        XCTAssertEqual(H.run(["make-dataset", images.path, "--out", again.path, "--test-fraction", "0.3", "--seed", "4"]).code, 0)
        XCTAssertEqual(try TextImageDataset.open(path: again.path, split: "test").names, test.names)
        let run = folder.appendingPathComponent("run")
        let trained = H.run(["train", "--config", H.tinyConfig, "--data", out.path, "--out", run.path, "--set", "train.max_steps=1", "--set", "train.batch_size=4"])
        XCTAssertEqual(trained.code, 0, trained.error)
        XCTAssert(FileManager.default.fileExists(atPath: run.appendingPathComponent("checkpoint.safetensors").path))

        // A TSV instead of the .txt files: one caption per line, several lines per image.
        let tsv = folder.appendingPathComponent("captions.tsv")
        let first = train.names[0], second = train.names[1]
        try write("\(first)\tone\n\(first)\ttwo\n./\(second)\tthree\n", tsv)
        let fromTSV = folder.appendingPathComponent("tsv.h5")
        let tsvResult = H.run(["make-dataset", images.path, "--out", fromTSV.path, "--captions", tsv.path, "--test-fraction", "0"])
        XCTAssertEqual(tsvResult.code, 0, tsvResult.error)
        let tsvData = try TextImageDataset.open(path: fromTSV.path, split: "train")
        XCTAssertEqual(tsvData.names, [first, second].sorted())
        XCTAssertEqual(tsvData.captions[tsvData.names.firstIndex(of: second) ?? 0], ["three", "three"])
    }

    func testMakeDatasetBadInput() throws {
        let folder = try H.temporaryFolder(for: self)
        let out = folder.appendingPathComponent("out.h5").path
        let missing = H.run(["make-dataset", folder.appendingPathComponent("nope").path, "--out", out])
        XCTAssertEqual(missing.code, 2)
        XCTAssert(missing.error.contains("no such folder"), missing.error)

        let empty = folder.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let noImages = H.run(["make-dataset", empty.path, "--out", out])
        XCTAssertEqual(noImages.code, 1)
        XCTAssert(noImages.error.contains("no images"), noImages.error)

        try write("an orphan caption\n", empty.appendingPathComponent("orphan.txt"))
        try write("x", empty.appendingPathComponent("dummy.dat"))
        let images = folder.appendingPathComponent("images")
        _ = try shapesFolder(images, count: 2)
        try FileManager.default.copyItem(at: empty.appendingPathComponent("orphan.txt"), to: images.appendingPathComponent("orphan.txt"))
        let orphan = H.run(["make-dataset", images.path, "--out", out])
        XCTAssertEqual(orphan.code, 1)
        XCTAssert(orphan.error.contains("orphan.txt") && orphan.error.contains("captions without an image"), orphan.error)

        try FileManager.default.removeItem(at: images.appendingPathComponent("orphan.txt"))
        let tsv = folder.appendingPathComponent("c.tsv")
        try write("missing.png\ta caption\n", tsv)
        let badRow = H.run(["make-dataset", images.path, "--out", out, "--captions", tsv.path])
        XCTAssertEqual(badRow.code, 1)
        XCTAssert(badRow.error.contains("line 1") && badRow.error.contains("missing.png"), badRow.error)
        XCTAssertEqual(H.run(["make-dataset", images.path, "--out", out, "--test-fraction", "1"]).code, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing is written on an error")
    }
}

extension GenerateCommandTests {
    func testFromCaptionText() throws {
        let folder = try H.temporaryFolder(for: self)
        let captions = ["a big red star on a black background", "a tiny blue square"]
        let text = folder.appendingPathComponent("captions.txt"), npy = folder.appendingPathComponent("captions.npy")
        try captions.joined(separator: "\n").write(to: text, atomically: true, encoding: .utf8)
        XCTAssertEqual(H.run(["embed", text.path, "--out", npy.path]).code, 0)
        let fromText = folder.appendingPathComponent("text"), fromFile = folder.appendingPathComponent("file"), fromNpy = folder.appendingPathComponent("npy")
        let common = ["--checkpoint", try checkpoint(), "--samples-per-caption", "1"]
        let result = H.run(["generate", "--caption", captions[0], "--caption", captions[1], "--out", fromText.path] + common)
        XCTAssertEqual(result.code, 0, result.error)
        XCTAssertEqual(H.run(["generate", "--captions", text.path, "--out", fromFile.path] + common).code, 0)
        XCTAssertEqual(H.run(["generate", "--embeddings", npy.path, "--out", fromNpy.path] + common).code, 0)
        let rows = try String(contentsOf: fromText.appendingPathComponent("captions.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(rows, ["row 0: caption 0: \(captions[0])", "row 1: caption 1: \(captions[1])"])
        for name in ["caption000_sample00.png", "caption001_sample00.png"] {
            let image = try Data(contentsOf: fromText.appendingPathComponent(name))
            XCTAssertEqual(image, try Data(contentsOf: fromFile.appendingPathComponent(name)))
            XCTAssertEqual(image, try Data(contentsOf: fromNpy.appendingPathComponent(name)))
        }
        XCTAssertNotEqual(try Data(contentsOf: fromText.appendingPathComponent("caption000_sample00.png")),
                          try Data(contentsOf: fromText.appendingPathComponent("caption001_sample00.png")))

        let both = H.run(["generate", "--caption", "x", "--embeddings", npy.path, "--out", fromText.path] + common)
        XCTAssertEqual(both.code, 2)
        XCTAssert(both.error.contains("--embeddings and --caption"), both.error)
    }

    /// An encoder whose width is not the checkpoint's embedding_dim: a 4-wide BERT folder.
    func testCaptionWidthMismatch() throws {
        let folder = try H.temporaryFolder(for: self)
        let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"]
        try vocabulary.joined(separator: "\n").write(to: folder.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        try """
        {"hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 4, "max_position_embeddings": 8, "vocab_size": 5}
        """.write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        var shapes: [(String, [Int])] = [("embeddings.word_embeddings.weight", [5, 4]), ("embeddings.position_embeddings.weight", [8, 4]),
                                         ("embeddings.token_type_embeddings.weight", [2, 4]), ("embeddings.LayerNorm.weight", [4]), ("embeddings.LayerNorm.bias", [4])]
        let p = "encoder.layer.0."
        for name in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense"] {
            shapes += [(p + name + ".weight", [4, 4]), (p + name + ".bias", [4])]
        }
        for name in ["attention.output.LayerNorm", "output.LayerNorm"] { shapes += [(p + name + ".weight", [4]), (p + name + ".bias", [4])] }
        try SafeTensors.write(try shapes.map { NamedTensor($0.0, try .init(shape: $0.1, scalars: [Float](repeating: 0.5, count: $0.1.reduce(1, *)))) },
                              to: folder.appendingPathComponent("model.safetensors"))
        let result = H.run(["generate", "--checkpoint", try checkpoint(), "--caption", "a", "--encoder", folder.path,
                            "--out", folder.appendingPathComponent("out").path])
        XCTAssertEqual(result.code, 1)
        XCTAssert(result.error.contains("embedding_dim 384") && result.error.contains("4-d"), result.error)
    }
}
