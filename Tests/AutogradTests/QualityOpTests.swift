import Foundation
import XCTest
@testable import Autograd

/// The ops behind the projection head, spectral normalisation, DiffAugment and the contrastive and
/// mode-seeking losses: each against PyTorch's values (Fixtures/*.json, written by scripts/make_quality_fixtures.py)
/// and central finite differences.
final class QualityOpTests: XCTestCase {
    // Fixtures/abs.json, reciprocal.json: scripts/make_quality_fixtures.py
    func testAbsAndReciprocal() throws {
        for (op, f) in [("abs", { (x: Tensor) in x.absolute() }), ("reciprocal", { (x: Tensor) in x.reciprocal() })] {
            let c = try Fixture(op).named(op)
            let x = try c.tensor("x", requiresGrad: true)
            try c.check([("x", x)]) { f(x) }
            try gradCheck(op, [x]) { f(x) }
        }
    }

    // Fixtures/rowSums.json: scripts/make_quality_fixtures.py
    func testRowSums() throws {
        let c = try Fixture("rowSums").named("rowSums")
        let x = try c.tensor("x", requiresGrad: true)
        try c.check([("x", x)]) { try x.rowSums() }
        try gradCheck("rowSums", [x]) { try x.rowSums() }
    }

    // Fixtures/l2Normalize.json: scripts/make_quality_fixtures.py
    func testL2NormalizedRows() throws {
        let c = try Fixture("l2Normalize").named("rows")
        let x = try c.tensor("x", requiresGrad: true)
        try c.check([("x", x)]) { try x.l2NormalizedRows() }
        try gradCheck("l2Normalize", [x]) { try x.l2NormalizedRows() }
        let norms = try x.l2NormalizedRows().multiplying(x.l2NormalizedRows()).rowSums().scalars
        for norm in norms { XCTAssertEqual(norm, 1, accuracy: 1e-6) }
    }

    // Fixtures/softmaxCrossEntropy.json: scripts/make_quality_fixtures.py
    func testSoftmaxCrossEntropy() throws {
        let c = try Fixture("softmaxCrossEntropy").named("ce")
        let x = try c.tensor("x", requiresGrad: true)
        let targets = try (0..<4).map { Int(try c.param("t\($0)")) }
        try c.check([("x", x)]) { try x.softmaxCrossEntropy(targets: targets) }
        try gradCheck("softmaxCrossEntropy", [x]) { try x.softmaxCrossEntropy(targets: targets) }
        // Large logits do not overflow: a confident right answer costs ~0.
        let big = try Tensor(shape: [1, 3], scalars: [1000, 0, -1000])
        XCTAssertEqual(try big.softmaxCrossEntropy(targets: [0]).item, 0, accuracy: 1e-6)
        XCTAssertThrowsError(try big.softmaxCrossEntropy(targets: [3]))
        // A row without a label (-1) counts for neither the loss nor the mean, and gets no gradient.
        let partial = try c.tensor("x", requiresGrad: true)
        let rows = try partial.slicedBatch(0..<1)
        let masked = try partial.softmaxCrossEntropy(targets: [targets[0], -1, -1, -1])
        XCTAssertEqual(masked.item, try rows.softmaxCrossEntropy(targets: [targets[0]]).item, accuracy: 1e-6)
        try masked.backward()
        XCTAssertTrue(try XCTUnwrap(partial.grad).scalars.dropFirst(5).allSatisfy { $0 == 0 })
    }

    // Fixtures/spectralNorm.json: scripts/make_quality_fixtures.py
    func testSpectralNormalized() throws {
        for name in ["conv", "linear"] {
            let c = try Fixture("spectralNorm").named(name)
            let w = try c.tensor("weight", requiresGrad: true)
            let u = try c.tensor("u")
            try c.check([("weight", w)]) { try w.spectralNormalized(u: u, powerIteration: true) }
            // check() ran one power iteration on u: the stored u after one step.
            assertClose(u, try c.entry("u.after"), "\(name) u after one power iteration")
            // Without the power iteration u is left as it is; the gradient treats u and v as constants.
            let before = u.scalars
            try gradCheck("spectralNorm \(name)", [w]) { try w.spectralNormalized(u: u, powerIteration: false) }
            XCTAssertEqual(u.scalars, before)
        }
        // Many iterations converge to the largest singular value: diag(3, 1) -> W / 3.
        let w = try Tensor(shape: [2, 2], scalars: [3, 0, 0, 1])
        let u = try Tensor(shape: [2], scalars: [0.6, 0.8])
        var out = w
        for _ in 0..<30 { out = try w.spectralNormalized(u: u, powerIteration: true) }
        XCTAssertEqual(out.scalars[0], 1, accuracy: 1e-5)
        XCTAssertEqual(out.scalars[3], 1.0 / 3, accuracy: 1e-5)
    }

    // Fixtures/translate.json: scripts/make_quality_fixtures.py
    func testTranslated() throws {
        let c = try Fixture("translate").named("translate")
        let x = try c.tensor("x", requiresGrad: true)
        let dx = try (0..<4).map { Int(try c.param("dx\($0)")) }, dy = try (0..<4).map { Int(try c.param("dy\($0)")) }
        try c.check([("x", x)]) { try x.translated(dx: dx, dy: dy) }
        try gradCheck("translate", [x]) { try x.translated(dx: dx, dy: dy) }
        // A shift past the border leaves zeros.
        XCTAssertEqual(try x.translated(dx: [9, 0, 0, 0], dy: [0, 0, 0, 0]).scalars.prefix(60).allSatisfy { $0 == 0 }, true)
    }

    // Fixtures/modulate.json: scripts/make_quality_fixtures.py
    func testModulated() throws {
        let c = try Fixture("modulate").named("modulate")
        let x = try c.tensor("x", requiresGrad: true), scale = try c.tensor("scale", requiresGrad: true)
        let shift = try c.tensor("shift", requiresGrad: true)
        try c.check([("x", x), ("scale", scale), ("shift", shift)]) { try x.modulated(scale: scale, shift: shift) }
        try gradCheck("modulate", [x, scale, shift]) { try x.modulated(scale: scale, shift: shift) }
        XCTAssertThrowsError(try x.modulated(scale: shift.reshaped([4, 3]), shift: shift))
    }

    // Fixtures/colorJitter.json: scripts/make_quality_fixtures.py
    func testColorJittered() throws {
        let c = try Fixture("colorJitter").named("color")
        let x = try c.tensor("x", requiresGrad: true)
        let b = try c.tensor("brightness").scalars, s = try c.tensor("saturation").scalars, k = try c.tensor("contrast").scalars
        try c.check([("x", x)]) { try x.colorJittered(brightness: b, saturation: s, contrast: k) }
        try gradCheck("colorJitter", [x]) { try x.colorJittered(brightness: b, saturation: s, contrast: k) }
    }
}
