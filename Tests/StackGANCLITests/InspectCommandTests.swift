import Datasets
import Foundation
import XCTest

/// `stackgan inspect` forwards to DatasetInspector; these check the CLI's part: the grid it
/// writes and the exit codes and messages for bad files.
final class InspectCommandTests: XCTestCase {
    typealias H = CommandHarness

    func testInspectWritesTheGrid() throws {
        let grid = try H.temporaryFolder(for: self).appendingPathComponent("grid.png")
        let result = H.run(["inspect", H.dataset, "--grid", grid.path, "--samples", "4"])
        XCTAssertEqual(result.code, 0, result.error)
        let image = try H.png(grid)
        // 4 thumbnails of 64 px in a 2x2 grid with 2 px gaps.
        XCTAssertEqual([image.width, image.height], [2 * 64 + 3 * 2, 2 * 64 + 3 * 2])
    }

    func testBadFiles() throws {
        let folder = try H.temporaryFolder(for: self)
        let missing = folder.appendingPathComponent("missing.h5").path
        var result = H.run(["inspect", missing])
        XCTAssertEqual(result.code, 2, "a missing file is a usage error, as for generate --checkpoint")
        XCTAssertTrue(result.error.contains(missing), result.error)

        let text = folder.appendingPathComponent("text.h5")
        try Data("not hdf5".utf8).write(to: text)
        result = H.run(["inspect", text.path])
        XCTAssertEqual(result.code, 1)
        XCTAssertTrue(result.error.contains(text.path) && result.error.contains("[notHDF5]"), result.error)

        result = H.run(["inspect", H.dataset, "--samples", "0"])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains("--samples"), result.error)
        result = H.run(["inspect"])
        XCTAssertEqual(result.code, 2)
    }
}
