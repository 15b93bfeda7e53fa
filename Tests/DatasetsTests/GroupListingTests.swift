@testable import Datasets
import Foundation
import XCTest

final class GroupListingTests: XCTestCase {
    /// The bundled shapes train split has 1200 example groups. Listing them by index re-sorted the
    /// link table on every call (0.9 s for this list, most of a 2.5 s open); one `H5Literate` pass
    /// takes milliseconds. The bound leaves two orders of magnitude for a loaded machine.
    func testListingAGroupIsOnePassInByteOrder() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("data/shapes.h5").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("data/shapes.h5 not present") }
        let train = try XCTUnwrap(try H5File(path: path, probing: []).root().group("train"))
        let start = Date()
        let names = try train.childNames()
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(names.count, 1200)
        XCTAssertEqual(names.prefix(2), ["00000", "00001"])
        XCTAssertEqual(names, names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }, "HDF5's name order is byte order")
        XCTAssertLessThan(seconds, 0.3, "listing 1200 links took \(seconds) s")
    }
}
