import Datasets
import Foundation
import XCTest

final class NpyTests: XCTestCase {
    func testReadsFloat64WrittenByNumPy() throws {
        let array = try Npy.readEmbeddings(path: try Fixture.path("embeddings_f64.npy"), expectedWidth: 8)
        XCTAssertEqual(array.shape, [3, 8])
        for i in 0..<3 {
            for j in 0..<8 { XCTAssertEqual(array.values[i * 8 + j], Fixture.embedding(example: i, k: 0, j: j), accuracy: 1e-6) }
        }
    }

    func testRoundTripMatrixAndVector() throws {
        let dir = NSTemporaryDirectory()
        let matrix = dir + "npy-\(UUID().uuidString).npy", vector = dir + "npy-\(UUID().uuidString).npy"
        defer { try? FileManager.default.removeItem(atPath: matrix); try? FileManager.default.removeItem(atPath: vector) }
        let values: [Float] = (0..<12).map { Float($0) * 0.25 - 1 }
        try Npy.write(values, shape: [3, 4], to: matrix)
        XCTAssertEqual(try Npy.read(path: matrix), NpyArray(shape: [3, 4], values: values))
        try Npy.write([1, 2, 3], shape: [3], to: vector)
        XCTAssertEqual(try Npy.read(path: vector).shape, [3])
        XCTAssertEqual(try Npy.readEmbeddings(path: vector).shape, [1, 3], "(E,) reads as one row")
        XCTAssertEqual((Npy.encode(values, shape: [3, 4]).count - 48) % 64, 0, "data starts on a 64-byte boundary, as NumPy writes it")
        assertDatasetError(.invalidValue, file: matrix, innerPath: "shape") { try Npy.write(values, shape: [5], to: matrix) }
    }

    func testRejectsFortranOrderOtherDtypesAndBadHeaders() throws {
        let fortran = try Fixture.path("bad_fortran.npy")
        assertDatasetError(.badNpy, file: fortran, innerPath: "fortran_order", contains: "C order") { try Npy.read(path: fortran) }
        let int = try Fixture.path("bad_int.npy")
        assertDatasetError(.badNpy, file: int, innerPath: "descr", contains: "'<i4'") { try Npy.read(path: int) }
        let big = try Fixture.path("bad_bigendian.npy")
        assertDatasetError(.badNpy, file: big, innerPath: "descr", contains: "little-endian") { try Npy.read(path: big) }
        assertDatasetError(.badNpy, file: "x.npy", innerPath: "magic") { try Npy.parse(Array("hello world".utf8), file: "x.npy") }
        var truncated = Npy.encode([1, 2, 3, 4], shape: [2, 2])
        truncated.removeLast(3)
        assertDatasetError(.badNpy, file: "t.npy", innerPath: "data", contains: "expected 16") { try Npy.parse(truncated, file: "t.npy") }
        assertDatasetError(.fileNotFound, file: "/nope/missing.npy", innerPath: "/") { try Npy.read(path: "/nope/missing.npy") }
    }

    func testEmbeddingChecksWidthRankAndFiniteness() throws {
        let dir = NSTemporaryDirectory()
        let path = dir + "npy-\(UUID().uuidString).npy"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Npy.write([1, 2, .nan, 4], shape: [2, 2], to: path)
        assertDatasetError(.invalidValue, file: path, innerPath: "row 1", contains: "finite") { try Npy.readEmbeddings(path: path) }
        try Npy.write([1, 2, 3, 4], shape: [2, 2], to: path)
        assertDatasetError(.widthMismatch, file: path, innerPath: "shape", contains: "expected 384") { try Npy.readEmbeddings(path: path, expectedWidth: 384) }
        try Npy.write([1, 2, 3, 4, 5, 6, 7, 8], shape: [2, 2, 2], to: path)
        assertDatasetError(.wrongRank, file: path, innerPath: "shape") { try Npy.readEmbeddings(path: path) }
    }
}
