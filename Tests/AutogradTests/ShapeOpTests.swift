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
