import Foundation
import StackGAN
@testable import StackGANCLI
import XCTest

/// `stackgan report` and the reports `train` leaves: the command's errors, and a report that cannot
/// be written never costs the run. The pages' content is ReportTests' business.
final class ReportCommandTests: XCTestCase {
    func testTrainLeavesAReport() throws {
        let run = try CommandHarness.trainedRun()
        let html = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("aria-label=\"d_loss\""), "a chart of the discriminator loss")
        XCTAssertTrue(html.contains("data:image/png;base64,"), "the run's grid")
    }

    func testReportCommandWritesWhereAsked() throws {
        let run = try CommandHarness.copyOfTrainedRun(for: self)
        let out = try CommandHarness.temporaryFolder(for: self).appendingPathComponent("deeper/page.html")
        let result = CommandHarness.run(["report", run.path, "--out", out.path])
        XCTAssertEqual(result.code, 0, result.error)
        XCTAssertTrue(try String(contentsOf: out, encoding: .utf8).contains("<svg"))
    }

    func testReportErrors() throws {
        let folder = try CommandHarness.temporaryFolder(for: self)
        let missing = folder.appendingPathComponent("no-run").path
        var result = CommandHarness.run(["report", missing])
        XCTAssertEqual(result.code, 2)
        XCTAssertEqual(result.error, "\(missing): no such run or ablation folder")
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))

        result = CommandHarness.run(["report", folder.path])
        XCTAssertEqual(result.code, 1, "a folder that is not a run")
        XCTAssertTrue(result.error.contains("not a run folder"), result.error)

        let run = try CommandHarness.copyOfTrainedRun(for: self)
        result = CommandHarness.run(["report", run.path, "--evaluation", folder.appendingPathComponent("none.json").path])
        XCTAssertEqual(result.code, 2)
        XCTAssertTrue(result.error.contains("none.json not found"), result.error)
    }

    func testAReportThatCannotBeWrittenDoesNotStopTraining() throws {
        let run = try CommandHarness.copyOfTrainedRun(for: self)
        let page = run.appendingPathComponent("report.html")
        try FileManager.default.removeItem(at: page)
        try FileManager.default.createDirectory(at: page.appendingPathComponent("in-the-way"), withIntermediateDirectories: true)
        let result = CommandHarness.run(["train", "--out", run.path, "--resume", "--set", "train.max_steps=2"])
        XCTAssertEqual(result.code, 0, "only a warning: \(result.error)")
        XCTAssertEqual(try Checkpoint(path: run.appendingPathComponent("checkpoint.safetensors").path).state?.step, 2, "the run went on")
        XCTAssertEqual(try CommandHarness.metrics(run).count, 2, "and logged its step")
    }
}
