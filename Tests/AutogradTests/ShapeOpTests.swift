import XCTest
@testable import Autograd

/// Ops that move or sum values (reshape, sum/mean, upsample, concat, tile, batch slice and roll)
/// against PyTorch's values (Fixtures/*.json, written by scripts/make_torch_fixtures.py) and central
/// finite differences.
final class ShapeOpTests: XCTestCase {
    // Fixtures/reshape.json: scripts/make_torch_fixtures.py
    func testReshape() throws {
        let c = try Fixture("reshape").named("reshape")
        let x = try c.tensor("x", requiresGrad: true)
        try c.check([("x", x)]) { try x.reshaped([3, -1]) }
        try gradCheck("reshape", [x]) { try x.reshaped([3, -1]) }
        XCTAssertEqual(try x.reshaped([3, -1]).shape, [3, Int(try c.param("columns"))])
    }

    // Fixtures/reduce.json: scripts/make_torch_fixtures.py
    func testSumAndMean() throws {
        let fixture = try Fixture("reduce")
        let sum = try fixture.named("sum"), mean = try fixture.named("mean")
        let x = try sum.tensor("x", requiresGrad: true), y = try mean.tensor("x", requiresGrad: true)
        try sum.check([("x", x)]) { x.sum() }
        try mean.check([("x", y)]) { y.mean() }
        try gradCheck("sum", [x]) { x.sum() }
        try gradCheck("mean", [y]) { y.mean() }
        XCTAssertEqual(x.sum().shape, [])
    }

    // Fixtures/upsample.json: scripts/make_torch_fixtures.py (F.interpolate nearest, scale 2, on 3x3)
    func testUpsampleNearest2x() throws {
        let c = try Fixture("upsample").named("nearest2x")
        let x = try c.tensor("x", requiresGrad: true)
        try c.check([("x", x)]) { try x.upsampleNearest2x() }
        try gradCheck("upsample", [x]) { try x.upsampleNearest2x() }
    }

    // Fixtures/concat.json: scripts/make_torch_fixtures.py (2 + 5 + 1 channels)
    func testConcatChannels() throws {
        let c = try Fixture("concat").named("channels")
        let parts = try ["a", "b", "c"].map { try c.tensor($0, requiresGrad: true) }
        try c.check(zip(["a", "b", "c"], parts).map { ($0, $1) }) { try Tensor.concatChannels(parts) }
        try gradCheck("concat", parts) { try Tensor.concatChannels(parts) }
    }

    // Fixtures/tile.json: scripts/make_torch_fixtures.py ([3,5] -> [3,5,3,4])
    func testTiled() throws {
        let c = try Fixture("tile").named("tile")
        let x = try c.tensor("x", requiresGrad: true)
        let (height, width) = (Int(try c.param("height")), Int(try c.param("width")))
        try c.check([("x", x)]) { try x.tiled(height: height, width: width) }
        try gradCheck("tile", [x]) { try x.tiled(height: height, width: width) }
    }

    // Fixtures/pairwiseSum.json: scripts/make_torch_fixtures.py (a [3,...] + b [4,...] -> [12,...])
    func testPairwiseSum() throws {
        let c = try Fixture("pairwiseSum").named("pairs")
        let (a, b) = (try c.tensor("a", requiresGrad: true), try c.tensor("b", requiresGrad: true))
        try c.check([("a", a), ("b", b)]) { try Tensor.pairwiseSum(a, b) }
        try gradCheck("pairwiseSum", [a, b]) { try Tensor.pairwiseSum(a, b) }
        XCTAssertThrowsError(try Tensor.pairwiseSum(a, Tensor(repeating: 0, shape: [4, 2, 2, 3])))
    }

    // Fixtures/neighbourMix.json: scripts/make_torch_fixtures.py (3x3 window, x4, centre bias 1.5;
    // 5x5 window, x2, reaching past the border; 3x3 window, x4, 20 columns: a 16-wide block and a tail)
    func testNeighbourMix() throws {
        for name in ["window3", "window5", "wide"] {
            let c = try Fixture("neighbourMix").named(name)
            let (x, logits) = (try c.tensor("x", requiresGrad: true), try c.tensor("logits", requiresGrad: true))
            let (window, bias) = (Int(try c.param("window")), Float(try c.param("centreBias")))
            try c.check([("x", x), ("logits", logits)]) { try x.neighbourMix(logits: logits, window: window, centreBias: bias) }
            try gradCheck("neighbourMix \(name)", [x, logits]) { try x.neighbourMix(logits: logits, window: window, centreBias: bias) }
        }
        // Peaked logits pick one pixel: all weight on the right-hand neighbour shifts the image left.
        let image = try Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4])
        var peaked = [Float](repeating: -50, count: 9 * 16)
        for p in 0..<16 { peaked[5 * 16 + p] = 50 }  // tap 5 = (dy 0, dx +1)
        let shifted = try image.neighbourMix(logits: Tensor(shape: [1, 9, 4, 4], scalars: peaked), window: 3)
        XCTAssertEqual(shifted.scalars, [2, 2, 2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4])
        XCTAssertThrowsError(try image.neighbourMix(logits: Tensor(repeating: 0, shape: [1, 4, 4, 4]), window: 2))
        XCTAssertThrowsError(try image.neighbourMix(logits: Tensor(repeating: 0, shape: [1, 9, 5, 5]), window: 3))
    }

    // Fixtures/neighbourChoice.json: scripts/make_torch_fixtures.py (3x3 window, x4, centre bias 1.5,
    // temperature 0.5; the Stage-II recipe's bias 2 and temperature 0.05 over 20 columns)
    func testNeighbourChoiceLoss() throws {
        for name in ["window3", "wide"] {
            let c = try Fixture("neighbourChoice").named(name)
            let (x, target, logits) = (try c.tensor("x"), try c.tensor("target"), try c.tensor("logits", requiresGrad: true))
            let (window, bias, temperature) = (Int(try c.param("window")), Float(try c.param("centreBias")), Float(try c.param("temperature")))
            func loss() throws -> Tensor {
                try x.neighbourChoiceLoss(logits: logits, target: target, window: window, centreBias: bias, temperature: temperature)
            }
            try c.check([("logits", logits)]) { try loss() }
            try gradCheck("neighbourChoiceLoss \(name)", [logits]) { try loss() }
        }
        // The target distribution favours the neighbour whose colour the target has: peaked logits
        // on it cost nearly nothing, on another tap a lot.
        let image = try Tensor(shape: [1, 1, 1, 2], scalars: [0, 1])
        XCTAssertThrowsError(try image.neighbourChoiceLoss(logits: Tensor(repeating: 0, shape: [1, 9, 2, 4]), target: Tensor(repeating: 0, shape: [1, 1, 2, 4]),
                                                           window: 3, temperature: 0.1), "a non-square image")
        let square = try Tensor(shape: [1, 1, 2, 2], scalars: [0, 1, 0, 1])
        let wantRight = try Tensor(repeating: 1, shape: [1, 1, 4, 4])  // every pixel should take colour 1
        var right = [Float](repeating: -20, count: 9 * 16), centre = right
        for p in 0..<16 { right[5 * 16 + p] = 20; centre[4 * 16 + p] = 20 }  // tap 5: dx +1; tap 4: the centre
        let good = try square.neighbourChoiceLoss(logits: Tensor(shape: [1, 9, 4, 4], scalars: right), target: wantRight, window: 3, temperature: 0.1)
        let bad = try square.neighbourChoiceLoss(logits: Tensor(shape: [1, 9, 4, 4], scalars: centre), target: wantRight, window: 3, temperature: 0.1)
        XCTAssertLessThan(good.item, bad.item)
    }

    // Fixtures/pixelShuffle.json: scripts/make_torch_fixtures.py (F.pixel_shuffle, [2, 12, 3, 2] -> [2, 3, 6, 4])
    func testPixelShuffled() throws {
        let c = try Fixture("pixelShuffle").named("factor2")
        let x = try c.tensor("x", requiresGrad: true)
        try c.check([("x", x)]) { try x.pixelShuffled(factor: 2) }
        try gradCheck("pixelShuffle", [x]) { try x.pixelShuffled(factor: 2) }
        XCTAssertThrowsError(try x.pixelShuffled(factor: 3), "12 channels are not a multiple of 9")
    }

    // Fixtures/transpose.json: scripts/make_torch_fixtures.py ([3, 5] -> [5, 3])
    func testTransposed() throws {
        let c = try Fixture("transpose").named("matrix")
        let x = try c.tensor("x", requiresGrad: true)
        try c.check([("x", x)]) { try x.transposed() }
        try gradCheck("transpose", [x]) { try x.transposed() }
        XCTAssertThrowsError(try Tensor(repeating: 0, shape: [2, 2, 2]).transposed())
    }

    // Fixtures/batchSlice.json: scripts/make_torch_fixtures.py (x[1:4]; torch.roll by -1 and by 7)
    func testSlicedAndRolledBatch() throws {
        let fixture = try Fixture("batchSlice")
        let slice = try fixture.named("slice1to4")
        let x = try slice.tensor("x", requiresGrad: true)
        let range = Int(try slice.param("lower"))..<Int(try slice.param("upper"))
        try slice.check([("x", x)]) { try x.slicedBatch(range) }
        try gradCheck("slicedBatch", [x]) { try x.slicedBatch(range) }
        for name in ["roll1", "roll-7"] {
            let c = try fixture.named(name)
            let y = try c.tensor("x", requiresGrad: true), shift = Int(try c.param("shift"))
            try c.check([("x", y)]) { try y.rolledBatch(by: shift) }
            try gradCheck("rolledBatch \(shift)", [y]) { try y.rolledBatch(by: shift) }
        }
    }
}
