import Foundation
import XCTest
@testable import Autograd

/// One op's reference values from scripts/make_torch_fixtures.py (Fixtures/<op>.json): a list of
/// cases, each with number parameters and named tensors ("x", "out", "upstream", "grad.x", ...).
struct Fixture: Decodable {
    struct Entry: Decodable {
        let shape: [Int]
        let values: [Double]
    }
    struct Case: Decodable {
        let name: String
        let params: [String: Double]
        let tensors: [String: Entry]

        /// A fresh Float32 tensor holding the named values (JSON numbers read as Double, then rounded).
        func tensor(_ key: String, requiresGrad: Bool = false) throws -> Tensor {
            guard let e = tensors[key] else { throw FixtureError("case \(name) has no tensor \(key)") }
            return try Tensor(shape: e.shape, scalars: e.values.map { Float($0) }, requiresGrad: requiresGrad)
        }

        func entry(_ key: String) throws -> Entry {
            guard let e = tensors[key] else { throw FixtureError("case \(name) has no tensor \(key)") }
            return e
        }

        func param(_ key: String) throws -> Double {
            guard let v = params[key] else { throw FixtureError("case \(name) has no parameter \(key)") }
            return v
        }
    }
    let script: String
    let cases: [Case]

    /// Loads Fixtures/<op>.json from the test bundle.
    init(_ op: String) throws {
        guard let url = Bundle.module.url(forResource: op, withExtension: "json", subdirectory: "Fixtures") else {
            throw FixtureError("Fixtures/\(op).json is not in the test bundle; run scripts/make_torch_fixtures.py")
        }
        self = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    func named(_ name: String) throws -> Case {
        guard let c = cases.first(where: { $0.name == name }) else { throw FixtureError("no case \(name)") }
        return c
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Relative tolerance for Float32 results against PyTorch's float64 ones. Each element must satisfy
/// |actual - expected| <= tolerance * (|expected| + max|expected|): relative to the element, with a
/// floor relative to the tensor's largest value so that elements that cancel to ~0 are not held to a
/// relative bound that Float32 rounding of the larger terms cannot meet. Float32 results of these
/// small ops carry errors of a few ulp (~1e-7 relative) times the length of their sums (<= 400 here),
/// so 1e-4 leaves a wide margin; a wrong index, sign or factor is off by O(1).
let fixtureTolerance = 1e-4

func assertClose(_ actual: Tensor?, _ expected: Fixture.Entry, tolerance: Double = fixtureTolerance,
                 _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    guard let actual else { return XCTFail("\(what): no tensor (gradient missing?)", file: file, line: line) }
    XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", file: file, line: line)
    guard actual.count == expected.values.count else { return }
    assertClose(actual.scalars.map(Double.init), expected.values, tolerance: tolerance, what, file: file, line: line)
}

func assertClose(_ actual: [Double], _ expected: [Double], tolerance: Double, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(what): count", file: file, line: line)
    let scale = expected.map(abs).max() ?? 0
    var worst = (index: -1, excess: 0.0)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        // An all-zero expectation (a second derivative that vanishes) must be met exactly.
        let excess = scale == 0 ? (a == 0 ? 0 : .infinity) : abs(a - e) / (tolerance * (abs(e) + scale))
        if !(excess <= 1), !(excess <= worst.excess) { worst = (i, excess) }  // NaN counts as a failure
    }
    if worst.index >= 0 {
        let i = worst.index
        XCTFail("\(what): element \(i) is \(actual[i]), expected \(expected[i]) (error \(String(format: "%.1f", worst.excess))x the tolerance \(tolerance))",
                file: file, line: line)
    }
}

extension Fixture.Case {
    /// Runs `f`, compares its output with "out", backpropagates "upstream" and compares each named
    /// input's gradient with "grad.<name>" (nil inputs are skipped). Leaves the gradients cleared.
    func check(_ inputs: [(String, Tensor?)], tolerance: Double = fixtureTolerance,
               file: StaticString = #filePath, line: UInt = #line, _ f: () throws -> Tensor) throws {
        let present = inputs.compactMap { name, t in t.map { (name, $0) } }
        for (_, t) in present { t.zeroGrad() }
        let out = try f()
        assertClose(out, try entry("out"), tolerance: tolerance, "\(name) forward", file: file, line: line)
        try out.backward(seed: tensor("upstream"))
        for (key, t) in present {
            assertClose(t.grad, try entry("grad." + key), tolerance: tolerance, "\(name) d/d\(key)", file: file, line: line)
            t.zeroGrad()
        }
    }
}
