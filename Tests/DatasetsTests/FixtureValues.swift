// Expected fixture contents. The formulas mirror pattern() and embedding() in
// scripts/make_dataset_fixtures.py, which wrote the files under Fixtures/.
import Datasets
import Foundation
import XCTest

enum Fixture {
    static let size = 8
    static let width = 8

    static func path(_ name: String) throws -> String {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")
            ?? Bundle.module.url(forResource: name, withExtension: nil), "fixture \(name) missing from the test bundle")
        return url.path
    }

    /// pattern(example) at (x, y): red 36x, green 36y, blue 20*example + 60.
    static func pixel(example: Int, x: Int, y: Int) -> (Int, Int, Int) { (36 * x, 36 * y, 20 * example + 60) }

    /// embedding(example, K)[k][j] = example + 0.1k + 0.01j.
    static func embedding(example: Int, k: Int, j: Int) -> Float { Float(Double(example) + 0.1 * Double(k) + 0.01 * Double(j)) }

    static func assertPattern(_ image: RGBImage, example: Int, tolerance: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(image.width, size, file: file, line: line)
        XCTAssertEqual(image.height, size, file: file, line: line)
        var worst = 0
        for y in 0..<size {
            for x in 0..<size {
                let p = image[x, y], e = pixel(example: example, x: x, y: y)
                worst = max(worst, abs(Int(p.0) - e.0), abs(Int(p.1) - e.1), abs(Int(p.2) - e.2))
            }
        }
        XCTAssertLessThanOrEqual(worst, tolerance, "largest pixel difference from pattern(\(example))", file: file, line: line)
    }
}

/// Runs `body`, expecting a `DatasetError` of `kind` whose description names the file
/// (by its last path component) and `innerPath`.
func assertDatasetError<T>(_ kind: DatasetError.Kind, file: String, innerPath: String, contains extra: String? = nil,
                           _ body: () throws -> T, sourceFile: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected a \(kind) error", file: sourceFile, line: line)
    } catch let error as DatasetError {
        XCTAssertEqual(error.kind, kind, "\(error)", file: sourceFile, line: line)
        let text = error.description
        XCTAssertTrue(text.contains((file as NSString).lastPathComponent), "no file name in: \(text)", file: sourceFile, line: line)
        XCTAssertTrue(text.contains(innerPath), "no '\(innerPath)' in: \(text)", file: sourceFile, line: line)
        if let extra = extra { XCTAssertTrue(text.contains(extra), "no '\(extra)' in: \(text)", file: sourceFile, line: line) }
    } catch {
        XCTFail("expected DatasetError, got \(error)", file: sourceFile, line: line)
    }
}
