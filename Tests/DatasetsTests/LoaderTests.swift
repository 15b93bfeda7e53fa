import Datasets
import Foundation
import XCTest

final class LoaderTests: XCTestCase {
    private func perExample(_ split: String = "train") throws -> TextImageDataset {
        try TextImageDataset.open(path: try Fixture.path("per_example.h5"), split: split)
    }

    private func options(batch: Int = 2, size: Int = 4, seed: UInt64 = 11, wrong: WrongPairStrategy = .shift,
                         captions: Int = 1, workers: Int = 0) -> LoaderOptions {
        LoaderOptions(batchSize: batch, imageSize: size, loadSize: 6, captionsPerStep: captions, wrongPairs: wrong,
                      seed: seed, workers: workers)
    }

    func testBatchShapesAndRange() throws {
        let loader = try BatchLoader(dataset: try perExample(), options: options(), mode: .train)
        let b = try loader.next()
        XCTAssertEqual(b.size, 2)
        XCTAssertEqual(b.images.count, 2 * 3 * 4 * 4)
        XCTAssertNil(b.wrongImages, "shift: the wrong images are the real ones, rolled by the discriminator")
        XCTAssertEqual(b.embeddings.count, 2 * Fixture.width)
        XCTAssertEqual(b.embeddingWidth, Fixture.width)
        XCTAssertTrue(b.images.allSatisfy { $0 >= -1 && $0 <= 1 })
        XCTAssertEqual(b.captions.count, 2)
        XCTAssertTrue(b.captions[0].hasPrefix("caption \(b.indices[0]) "), b.captions[0])
    }

    func testSameSeedSameBatchesAndWorkersDoNotChangeThem() throws {
        let data = try perExample()
        let serial = try BatchLoader(dataset: data, options: options(workers: 0), mode: .train)
        let threaded = try BatchLoader(dataset: data, options: options(workers: 2), mode: .train)
        let again = try BatchLoader(dataset: data, options: options(workers: 1), mode: .train)
        var orders: [[Int]] = []
        for _ in 0..<6 {
            let a = try serial.next(), b = try threaded.next(), c = try again.next()
            XCTAssertEqual(a.indices, b.indices)
            XCTAssertEqual(a.images, b.images)
            XCTAssertEqual(a.embeddings, b.embeddings)
            XCTAssertEqual(a.images, c.images)
            orders.append(a.indices)
        }
        let other = try BatchLoader(dataset: data, options: options(seed: 12), mode: .train)
        let otherOrders = try (0..<6).map { _ in try other.next().indices }
        XCTAssertNotEqual(orders, otherOrders, "another seed gives another order")
    }

    func testImageCacheGivesTheSameBatchesAsDecodingEachStep() throws {
        let data = try perExample()
        for mode in [DataMode.train, .eval] {
            var cached = options(wrong: .differentClass, workers: 1)
            cached.cacheBytes = 1 << 20
            let plain = try BatchLoader(dataset: data, options: options(wrong: .differentClass), mode: mode)
            let fast = try BatchLoader(dataset: data, options: cached, mode: mode)
            for _ in 0..<6 {
                let a = try plain.next(), b = try fast.next()
                XCTAssertEqual(a.indices, b.indices)
                XCTAssertEqual(a.images, b.images, "\(mode): cached crops must equal decoded ones bit for bit")
                XCTAssertEqual(a.wrongImages, b.wrongImages)
            }
        }
        // Over budget: no cache, and still the same batches (4 images of 6x6x3 Floats = 1728 bytes).
        var small = options()
        small.cacheBytes = 1727
        let a = try BatchLoader(dataset: data, options: options(), mode: .train), b = try BatchLoader(dataset: data, options: small, mode: .train)
        XCTAssertEqual(try a.next().images, try b.next().images)
    }

    func testFlatRowsReadFromWorkerThreadsMatchSerialReads() throws {
        // Flat pixels stay on disk and are read through HDF5 (serial build, one lock)
        // from the prefetch threads.
        let data = try TextImageDataset.open(path: try Fixture.path("flat.h5"), split: "train")
        let serial = try BatchLoader(dataset: data, options: options(wrong: .differentClass, workers: 0), mode: .train)
        let threaded = try BatchLoader(dataset: data, options: options(wrong: .differentClass, workers: 2), mode: .train)
        for _ in 0..<8 {
            let a = try serial.next(), b = try threaded.next()
            XCTAssertEqual(a.images, b.images)
            XCTAssertNotNil(a.wrongImages, "differentClass decodes its wrong images")
            XCTAssertEqual(a.wrongImages, b.wrongImages)
            XCTAssertEqual(a.wrongIndices, b.wrongIndices)
        }
    }

    func testEachEpochVisitsEveryExampleOnceAndDropsTheRemainder() throws {
        let data = try perExample()
        let loader = try BatchLoader(dataset: data, options: options(batch: 2), mode: .train)
        XCTAssertEqual(loader.batchesPerEpoch, 2)
        for epoch in 0..<3 {
            let a = try loader.next(), b = try loader.next()
            XCTAssertEqual(a.epoch, epoch)
            XCTAssertEqual(b.batchIndex, 1)
            XCTAssertEqual(Set(a.indices + b.indices), [0, 1, 2, 3])
        }
        let dropping = try BatchLoader(dataset: data, options: options(batch: 3), mode: .train)
        XCTAssertEqual(dropping.batchesPerEpoch, 1)
        var keep = options(batch: 3)
        keep.dropLast = false
        let keeping = try BatchLoader(dataset: data, options: keep, mode: .train)
        XCTAssertEqual(keeping.batchesPerEpoch, 2)
        _ = try keeping.next()
        XCTAssertEqual(try keeping.next().size, 1)
    }

    func testResumeFromSavedStateGivesTheSameBatches() throws {
        let data = try perExample()
        let first = try BatchLoader(dataset: data, options: options(workers: 1), mode: .train)
        for _ in 0..<3 { _ = try first.next() }
        let saved = try JSONEncoder().encode(first.state)
        XCTAssertEqual(first.state, LoaderState(epoch: 1, batch: 1))
        let expected = try (0..<3).map { _ in try first.next() }

        let state = try JSONDecoder().decode(LoaderState.self, from: saved)
        let resumed = try BatchLoader(dataset: data, options: options(workers: 2), mode: .train, state: state)
        for e in expected {
            let b = try resumed.next()
            XCTAssertEqual(b.indices, e.indices)
            XCTAssertEqual(b.images, e.images)
            XCTAssertEqual(b.wrongImages, e.wrongImages)
            XCTAssertEqual(b.embeddings, e.embeddings)
        }
        resumed.restore(LoaderState(epoch: 1, batch: 1))
        XCTAssertEqual(try resumed.next().images, expected[0].images)
        XCTAssertEqual(try resumed.makeBatch(epoch: 2, batch: 0).indices, expected[1].indices)
        assertDatasetError(.invalidValue, file: "per_example.h5", innerPath: "train", contains: "0..<2") {
            try resumed.makeBatch(epoch: 0, batch: 2)
        }
    }

    func testShiftPairsImageIWithRealImageIPlusOne() throws {
        var o = options(batch: 4)
        o.wrongPairs = .shift
        let b = try BatchLoader(dataset: try perExample(), options: o, mode: .train).next()
        XCTAssertNil(b.wrongImages, "no copy of the real images is built: the discriminator rolls their features")
        for i in 0..<4 {
            XCTAssertEqual(b.wrongIndices[i], b.indices[(i + 1) % 4])
            XCTAssertNotEqual(b.wrongIndices[i], b.indices[i])
        }
    }

    func testDifferentClassWrongImagesHaveAnotherClassValue() throws {
        let data = try perExample()  // classes red, blue, red, green
        let loader = try BatchLoader(dataset: data, options: options(batch: 4, wrong: .differentClass), mode: .train)
        for _ in 0..<25 {
            let b = try loader.next()
            for i in 0..<b.size {
                XCTAssertNotEqual(data.classNames[b.wrongClassLabels[i]], data.classNames[b.classLabels[i]])
                XCTAssertEqual(b.wrongClassLabels[i], data.classIndices[b.wrongIndices[i]])
            }
        }
        // Both "red" examples (0 and 2) must never be each other's wrong image.
        let b = try loader.makeBatch(epoch: 0, batch: 0)
        for i in 0..<4 where data.classNames[b.classLabels[i]] == "red" {
            XCTAssertFalse([0, 2].contains(b.wrongIndices[i]))
        }
    }

    func testSimilarCaptionWrongPairsAreHardNegativesOfAnotherClass() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("data/shapes.h5").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("data/shapes.h5 not present") }
        let data = try TextImageDataset.open(path: path, split: "train")  // classes "<colour> <shape>"
        // Of the 29 other classes 9 share the colour or the shape: differentClass draws one of those
        // about 31% of the time; the caption-closest of 8 candidates should do so far more often.
        func sharedWordRate(_ wrong: WrongPairStrategy) throws -> Double {
            var o = options(batch: 32, size: 8, wrong: wrong)
            o.loadSize = 8
            let loader = try BatchLoader(dataset: data, options: o, mode: .train)
            var shared = 0, pairs = 0
            for _ in 0..<6 {
                let b = try loader.next()
                for i in 0..<b.size {
                    let own = data.classNames[b.classLabels[i]].split(separator: " ")
                    let other = data.classNames[b.wrongClassLabels[i]].split(separator: " ")
                    XCTAssertNotEqual(own, other, "a wrong pair is of another class")
                    if own[0] == other[0] || own[1] == other[1] { shared += 1 }
                    pairs += 1
                }
            }
            return Double(shared) / Double(pairs)
        }
        let random = try sharedWordRate(.differentClass), similar = try sharedWordRate(.similarCaption)
        XCTAssertLessThan(random, 0.45, "differentClass: \(random)")
        XCTAssertGreaterThan(similar, 0.75, "similarCaption: \(similar) (differentClass: \(random))")
    }

    func testDifferentClassFallsBackToAnotherExampleWithOneClass() throws {
        let test = try TextImageDataset.open(path: try Fixture.path("flat.h5"), split: "test")  // both class 2
        XCTAssertEqual(test.classNames, ["2"])
        let loader = try BatchLoader(dataset: test, options: options(batch: 2, wrong: .differentClass), mode: .train)
        for _ in 0..<10 {
            let b = try loader.next()
            XCTAssertNotEqual(b.wrongIndices[0], b.indices[0])
            XCTAssertNotEqual(b.wrongIndices[1], b.indices[1])
        }
    }

    func testCaptionSamplingOneOrMeanOfK() throws {
        let data = try perExample()
        let one = try BatchLoader(dataset: data, options: options(captions: 1), mode: .train)
        let mean = try BatchLoader(dataset: data, options: options(captions: 2), mode: .train)
        var chosen = Set<Float>()
        for _ in 0..<8 {
            let a = try one.next(), b = try mean.next()
            for i in 0..<2 {
                let ex = a.indices[i]
                let first = a.embeddings[i * Fixture.width]
                XCTAssertTrue([0, 1].contains { abs(first - Fixture.embedding(example: ex, k: $0, j: 0)) < 1e-6 })
                chosen.insert(((first - Float(ex)) * 10).rounded())
                let m = b.embeddings[i * Fixture.width + 3]
                XCTAssertEqual(m, (Fixture.embedding(example: b.indices[i], k: 0, j: 3) + Fixture.embedding(example: b.indices[i], k: 1, j: 3)) / 2, accuracy: 1e-6)
            }
        }
        XCTAssertEqual(chosen.count, 2, "both captions get drawn")
    }

    func testEvalModeIsDeterministicCentreCropWithoutFlip() throws {
        let data = try perExample()
        var o = options(batch: 4)
        o.shuffle = false
        o.loadSize = 8
        let loader = try BatchLoader(dataset: data, options: o, mode: .eval)
        let a = try loader.makeBatch(epoch: 0, batch: 0)
        let b = try loader.makeBatch(epoch: 5, batch: 0)
        XCTAssertEqual(a.indices, [0, 1, 2, 3])
        XCTAssertEqual(a.images, b.images, "eval images do not depend on epoch")
        // Example 0 is an exact PNG: crop origin (2, 2), no flip.
        for y in 0..<4 {
            for x in 0..<4 {
                XCTAssertEqual(a.images[y * 4 + x], Float(Fixture.pixel(example: 0, x: x + 2, y: y + 2).0) / 127.5 - 1, accuracy: 1e-6)
            }
        }
    }

    func testInvalidOptionsAndTooFewExamplesThrow() throws {
        let data = try perExample()
        assertDatasetError(.emptySplit, file: "per_example.h5", innerPath: "train", contains: "at least 5") {
            try BatchLoader(dataset: data, options: options(batch: 5), mode: .train)
        }
        assertDatasetError(.invalidValue, file: "per_example.h5", innerPath: "loader options", contains: "imageSize") {
            try BatchLoader(dataset: data, options: LoaderOptions(batchSize: 2, imageSize: 8, loadSize: 4), mode: .train)
        }
    }

    func testLoaderOptionsDecodeFromJSON() throws {
        let json = #"{"batchSize": 16, "imageSize": 256, "loadSize": 304, "captionsPerStep": 4, "wrongPairs": "differentClass", "seed": 3, "shuffle": true, "dropLast": true, "prefetch": 2, "workers": 2}"#
        let o = try JSONDecoder().decode(LoaderOptions.self, from: Data(json.utf8))
        XCTAssertEqual(o.wrongPairs, .differentClass)
        XCTAssertEqual(o.effectiveLoadSize, 304)
        XCTAssertEqual(LoaderOptions(imageSize: 64).effectiveLoadSize, 76)
        let partial = try JSONDecoder().decode(LoaderOptions.self, from: Data(#"{"imageSize": 256}"#.utf8))
        XCTAssertEqual(partial, LoaderOptions(imageSize: 256), "missing keys take the defaults")
        let data = try JSONDecoder().decode(DatasetOptions.self, from: Data(#"{"invalidImages": "skip"}"#.utf8))
        XCTAssertEqual(data, DatasetOptions(invalidImages: .skip))
    }
}
