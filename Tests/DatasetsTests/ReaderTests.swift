import Datasets
import Foundation
import XCTest

final class ReaderTests: XCTestCase {
    func testPerExampleTrainReadsPixelsEmbeddingsCaptionsAndClasses() throws {
        let path = try Fixture.path("per_example.h5")
        let data = try TextImageDataset.open(path: path, split: "train")
        XCTAssertEqual(data.layout, .perExample)
        XCTAssertEqual(data.count, 4)
        XCTAssertEqual(data.captionsPerImage, 2)
        XCTAssertEqual(data.embeddingWidth, Fixture.width)
        XCTAssertEqual(data.names, ["example_0", "example_1", "example_2", "example_3"])
        // Variable-length (ex0, ex2) and fixed-length (ex1, ex3) caption strings.
        for i in 0..<4 { XCTAssertEqual(data.captions[i], ["caption \(i) 0", "caption \(i) 1"]) }
        XCTAssertEqual(data.classNames, ["blue", "green", "red"])
        XCTAssertEqual(data.classIndices.map { data.classNames[$0] }, ["red", "blue", "red", "green"])
        // float32 (ex0, ex2) and float64 (ex1, ex3) embeddings.
        for i in 0..<4 {
            for k in 0..<2 {
                let v = Array(data.embedding(i, caption: k))
                for j in 0..<Fixture.width { XCTAssertEqual(v[j], Fixture.embedding(example: i, k: k, j: j), accuracy: 1e-6) }
            }
        }
        // ex0: PNG opaque, ex1: JPEG opaque, ex2: PNG uint8 array, ex3: JPEG vlen uint8.
        Fixture.assertPattern(try data.image(at: 0), example: 0, tolerance: 0)
        Fixture.assertPattern(try data.image(at: 1), example: 1, tolerance: 12)
        Fixture.assertPattern(try data.image(at: 2), example: 2, tolerance: 0)
        Fixture.assertPattern(try data.image(at: 3), example: 3, tolerance: 12)
        XCTAssertTrue(data.skipped.isEmpty)
    }

    func testCaptionGroupsSharingANameAreOneImageWithItsCaptions() throws {
        let data = try TextImageDataset.open(path: try Fixture.path("caption_groups.h5"), split: "train")
        XCTAssertEqual(data.count, 2, "6 groups of 2 names are 2 images")
        XCTAssertEqual(data.captionsPerImage, 3)
        XCTAssertEqual(data.names, ["img0", "img1"])
        XCTAssertEqual(data.captions[0], ["image 0 caption 0", "image 0 caption 1", "image 0 caption 2"])
        XCTAssertEqual(data.captions[1], ["image 1 caption 0", "image 1 caption 1", "image 1 caption 2"])
        XCTAssertEqual(data.classIndices.map { data.classNames[$0] }, ["class0", "class1"])
        for i in 0..<2 {
            for k in 0..<3 {
                let v = Array(data.embedding(i, caption: k))
                for j in 0..<Fixture.width { XCTAssertEqual(v[j], Fixture.embedding(example: i, k: k, j: j), accuracy: 1e-6) }
            }
        }
        Fixture.assertPattern(try data.image(at: 0), example: 0, tolerance: 0)
        Fixture.assertPattern(try data.image(at: 1), example: 1, tolerance: 0)
        let report = try DatasetInspector.report(path: try Fixture.path("caption_groups.h5"), samples: 2, thumbnail: 8)
        XCTAssertTrue(report.contains("split train: 2 examples, 3 captions per image"), report)
    }

    func testCaptionGroupsOfUnevenCountAreAnError() throws {
        let path = try Fixture.path("bad_caption_groups.h5")
        assertDatasetError(.wrongRank, file: path, innerPath: "/train", contains: "'img1' has 3 caption groups where 'img0' has 2") {
            _ = try TextImageDataset.open(path: path, split: "train")
        }
    }

    func testGrayscaleBecomesGrayRGBAndAlphaIsCompositedOnWhite() throws {
        let data = try TextImageDataset.open(path: try Fixture.path("per_example.h5"), split: "test")
        XCTAssertEqual(data.count, 2)
        XCTAssertEqual(data.captionsPerImage, 1, "(E,) embeddings are one caption")
        XCTAssertEqual(data.captions[0], ["test caption 0"])
        XCTAssertEqual(Array(data.embedding(1, caption: 0))[3], Fixture.embedding(example: 11, k: 0, j: 3), accuracy: 1e-6)
        let gray = try data.image(at: 0)
        for (x, y) in [(0, 0), (3, 5), (7, 7)] {
            let v = UInt8((y * 8 + x) * 3)
            XCTAssertTrue(gray[x, y] == (v, v, v), "gray pixel (\(x),\(y)) = \(gray[x, y])")
        }
        let alpha = try data.image(at: 1)
        XCTAssertTrue(alpha[1, 2] == (255, 255, 255), "transparent pixel should be white, got \(alpha[1, 2])")
        let e = Fixture.pixel(example: 5, x: 6, y: 2)
        XCTAssertTrue(alpha[6, 2] == (UInt8(e.0), UInt8(e.1), UInt8(e.2)), "opaque pixel kept, got \(alpha[6, 2])")
    }

    func testDescribeDetectsLayoutsAndSplits() throws {
        let perExample = try TextImageDataset.describe(path: try Fixture.path("per_example.h5"))
        XCTAssertEqual(perExample.layout, .perExample)
        XCTAssertEqual(Set(perExample.splits), ["train", "test"])
        let flat = try TextImageDataset.describe(path: try Fixture.path("flat.h5"))
        XCTAssertEqual(flat.layout, .flat)
        XCTAssertEqual(flat.splits, ["train", "test"])
        let groups = try TextImageDataset.describe(path: try Fixture.path("flat_groups.h5"))
        XCTAssertEqual(groups.layout, .flat)
        XCTAssertEqual(Set(groups.splits), ["train", "test"])
    }

    func testFlatLayoutWithSplitArray() throws {
        let path = try Fixture.path("flat.h5")
        let train = try TextImageDataset.open(path: path, split: "train")
        let test = try TextImageDataset.open(path: path, split: "test")
        XCTAssertEqual(train.count, 4)
        XCTAssertEqual(test.count, 2)
        XCTAssertEqual(test.names, ["img_4.png", "img_5.png"])
        XCTAssertEqual(test.captionsPerImage, 3)
        XCTAssertEqual(test.captions[1], ["flat 5 0", "flat 5 1", "flat 5 2"])
        XCTAssertEqual(train.classIndices.map { train.classNames[$0] }, ["0", "1", "0", "1"])
        XCTAssertEqual(Array(test.embedding(0, caption: 2))[5], Fixture.embedding(example: 4, k: 2, j: 5), accuracy: 1e-6)
        Fixture.assertPattern(try test.image(at: 1), example: 5, tolerance: 0)
        Fixture.assertPattern(try train.image(at: 2), example: 2, tolerance: 0)
    }

    func testFlatLayoutWithSplitGroupsAndFloat64() throws {
        let path = try Fixture.path("flat_groups.h5")
        let train = try TextImageDataset.open(path: path, split: "train")
        XCTAssertEqual(train.count, 3)
        XCTAssertEqual(train.captionsPerImage, 1)
        XCTAssertEqual(train.classNames, ["a", "b"])
        XCTAssertEqual(train.classIndices, [0, 1, 0])
        XCTAssertEqual(Array(train.embedding(2, caption: 0))[7], Fixture.embedding(example: 2, k: 0, j: 7), accuracy: 1e-6)
        Fixture.assertPattern(try train.image(at: 1), example: 1, tolerance: 0)
        let test = try TextImageDataset.open(path: path, split: "test")
        Fixture.assertPattern(try test.image(at: 0), example: 3, tolerance: 0)
        // float16 storage (HDF5 converts): 3.07 is 3.0703125 in half precision.
        XCTAssertEqual(Array(test.embedding(0, caption: 0))[7], Fixture.embedding(example: 3, k: 0, j: 7), accuracy: 2e-3)
    }

    func testConvertedStackGANPickleFile() throws {
        // Written by scripts/convert_stackgan_pickle.py --self-test (train 5, test 2, K 3, E 16, 8x8).
        let path = try Fixture.path("converted_pickle.h5")
        let train = try TextImageDataset.open(path: path, split: "train")
        let test = try TextImageDataset.open(path: path, split: "test")
        XCTAssertEqual(train.layout, .flat)
        XCTAssertEqual(train.count, 5)
        XCTAssertEqual(test.count, 2)
        XCTAssertEqual(train.captionsPerImage, 3)
        XCTAssertEqual(train.embeddingWidth, 16)
        XCTAssertEqual(train.names.first, "train/img_0")
        XCTAssertEqual(test.classNames, ["10", "11"])
        let image = try test.image(at: 1)
        XCTAssertEqual(image.width, 8)
        XCTAssertEqual(image.pixels.count, 8 * 8 * 3)
    }

    func testPathOverridesNameOtherDatasets() throws {
        let path = try Fixture.path("per_example.h5")
        let options = DatasetOptions(paths: DatasetPaths(captions: "class", names: "txt"))
        let data = try TextImageDataset.open(path: path, split: "train", options: options)
        XCTAssertEqual(data.captions[1], ["blue"])
        XCTAssertEqual(data.names[2], "caption 2 0")
        // A named dataset that is not there is an error, not a silent fallback.
        assertDatasetError(.unknownLayout, file: path, innerPath: "/", contains: "vectors") {
            try TextImageDataset.open(path: path, split: "train", options: DatasetOptions(paths: DatasetPaths(embeddings: "vectors")))
        }
    }

    func testDatasetPathsDecodeFromJSON() throws {
        let json = #"{"images": "pixels", "embeddings": "emb"}"#
        let paths = try JSONDecoder().decode(DatasetPaths.self, from: Data(json.utf8))
        XCTAssertEqual(paths, DatasetPaths(images: "pixels", embeddings: "emb"))
    }

    func testInspectionReportAndGrid() throws {
        let path = try Fixture.path("per_example.h5")
        let grid = NSTemporaryDirectory() + "inspect-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: grid) }
        let report = try DatasetInspector.report(path: path, grid: try OutputFile(grid, named: true), samples: 4, thumbnail: 16)
        XCTAssertTrue(report.contains("layout: perExample"), report)
        XCTAssertTrue(report.contains("split train: 4 examples, 2 captions per image, embedding width 8, 3 classes"), report)
        XCTAssertTrue(report.contains("caption 0 0"), report)
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: grid))
        let image = try ImageCodec.decode([UInt8](bytes))
        XCTAssertEqual(image.width, 2 * 16 + 3 * 2, "2 columns of 16 px with 2 px gaps")
    }

    func testBundledShapesDataset() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("data/shapes.h5").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("data/shapes.h5 not present") }
        let train = try TextImageDataset.open(path: path, split: "train", options: DatasetOptions(expectedEmbeddingWidth: 384))
        let test = try TextImageDataset.open(path: path, split: "test")
        XCTAssertEqual(train.embeddingWidth, 384)
        XCTAssertEqual(train.captionsPerImage, 5)
        XCTAssertGreaterThanOrEqual(train.count, 1000)
        XCTAssertGreaterThanOrEqual(test.count, 100)
        XCTAssertGreaterThan(train.classNames.count, 1)
        XCTAssertEqual(train.captions[0].count, 5)
        let image = try train.image(at: 0)
        XCTAssertEqual(image.width, 304)
        XCTAssertEqual(image.height, 304)
        // Stored as float16 of L2-normalised MiniLM vectors: norms read back close to 1.
        let norm = train.embedding(0, caption: 0).reduce(0) { $0 + $1 * $1 }.squareRoot()
        XCTAssertEqual(norm, 1, accuracy: 1e-2)
        XCTAssertEqual(train.classNames.count, 30)
    }
}
