import Datasets
import Foundation
@testable import StackGAN
import XCTest

/// The HTML reports on run and ablation folders written by the tests themselves: the charts carry
/// the file's numbers, the images are embedded, text from files is escaped and bad files give
/// notes or one clear error, never a crash.
final class ReportTests: XCTestCase {
    private func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("stackgan-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url.appendingPathComponent("samples"), withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// A run folder: `steps` logged steps of d_loss and g_loss (and g_kl from step 20), a 2x2 PNG
    /// grid per step in `grids`, a hostile caption, and optionally an evaluation.json.
    private func syntheticRun(steps: [Int], grids: [Int], metricsTail: String = "", evaluation: EvaluationReport? = nil) throws -> URL {
        let run = try temporaryFolder()
        var text = ""
        for step in steps {
            text += "{\"step\":\(step),\"epoch\":0,\"time\":\(1000 + 6 * step),\"images_per_second\":\(50 + step),"
                + "\"d_loss\":\(Double(step) / 10),\"g_loss\":\(2.0 - Double(step) / 100)"
                + (step >= 20 ? ",\"g_kl\":0.5" : "") + "}\n"
        }
        try Data((text + metricsTail).utf8).write(to: run.appendingPathComponent("metrics.jsonl"))
        for step in grids {
            let image = RGBImage(width: 2, height: 2, fill: (UInt8(step % 256), 0, 0))
            try ImageCodec.writePNG(image, to: run.appendingPathComponent(String(format: "samples/step_%06d.png", step)).path)
        }
        try "row 0: a <script>alert(1)</script> & \"red\" circle\nrow 1: a blue square".write(
            to: run.appendingPathComponent("samples/captions.txt"), atomically: true, encoding: .utf8)
        if let evaluation { try evaluation.json().write(to: run.appendingPathComponent(RunFile.evaluation.path)) }
        return run
    }

    private func report(fid: Double = 123.456, conditionAccuracy: Double = 0.4375) -> EvaluationReport {
        EvaluationReport(checkpoint: "c.safetensors", dataset: "shapes.h5", split: "test", family: "stackgan", stage: 1, head: "projection",
                         step: 40, examples: 200, generatedImages: 1000, samplesPerCaption: 1, seed: 0, classifierPath: "k", classes: 30,
                         conditionAccuracy: conditionAccuracy, realAccuracy: 0.94, chance: 0.06, majorityRate: 0.06, classifierWarning: nil,
                         attributes: ["color": 0.875], attributesReal: ["color": 1], attributesMajority: ["color": 0.2],
                         rPrecision: 0.25, rPrecisionReal: 0.6, rPrecisionChance: 0.01, rPrecisionCandidates: 100, matcherPath: "m", matcherWarning: nil,
                         fid: fid, discriminator: DiscriminatorScores(real: 0.8, wrong: 0.3, fake: 0.2), unlabelledExamples: 0, seconds: 2.5)
    }

    /// The `<svg ...>...</svg>` elements of `html` whose aria-label is `title`.
    private func charts(_ html: String, title: String) -> [Substring] {
        html.components(separatedBy: "<svg ").dropFirst().filter { $0.contains("aria-label=\"\(title)\"") }
            .map { $0[..<($0.range(of: "</svg>")?.lowerBound ?? $0.endIndex)] }
    }

    /// The x,y pairs of the chart's polyline.
    private func polylinePoints(_ svg: Substring) throws -> [(Double, Double)] {
        let start = try XCTUnwrap(svg.range(of: "<polyline class=\"series\" points=\""))
        let rest = svg[start.upperBound...]
        let list = rest[..<(rest.firstIndex(of: "\"") ?? rest.endIndex)]
        return try list.split(separator: " ").map { pair in
            let xy = pair.split(separator: ",").compactMap { Double($0) }
            XCTAssertEqual(xy.count, 2, String(pair))
            return (try XCTUnwrap(xy.first), try XCTUnwrap(xy.last))
        }
    }

    func testRunReportChartsEveryLossTermWithItsPoints() throws {
        let run = try syntheticRun(steps: [10, 20, 30, 40], grids: [20, 40], evaluation: report())
        let html = try RunReport.html(runFolder: run)
        XCTAssertEqual(charts(html, title: "d_loss").count, 1)
        XCTAssertEqual(charts(html, title: "g_loss").count, 1)
        let dPoints = try polylinePoints(try XCTUnwrap(charts(html, title: "d_loss").first))
        XCTAssertEqual(dPoints.count, 4, "one point per logged step")
        XCTAssertEqual(try polylinePoints(try XCTUnwrap(charts(html, title: "g_kl").first)).count, 3, "g_kl is logged from step 20")
        // d_loss rises with the step, g_loss falls: in SVG, y grows downwards.
        XCTAssertEqual(dPoints.map(\.1), dPoints.map(\.1).sorted(by: >), "rising values go up the chart")
        XCTAssertEqual(dPoints.map(\.0), dPoints.map(\.0).sorted(), "steps left to right")
        let gPoints = try polylinePoints(try XCTUnwrap(charts(html, title: "g_loss").first))
        XCTAssertEqual(gPoints.map(\.1), gPoints.map(\.1).sorted(), "falling values go down the chart")
        // Equal steps are equal distances: steps 10, 20, 30, 40.
        XCTAssertEqual(dPoints[1].0 - dPoints[0].0, dPoints[3].0 - dPoints[2].0, accuracy: 0.11)
        let speed = try XCTUnwrap(charts(html, title: "images/s (running mean)").first)
        XCTAssertEqual(try polylinePoints(speed).count, 4)
        XCTAssertEqual(html.components(separatedBy: "<svg ").count - 1, 4, "three loss terms and the speed; no chart for step, epoch, time")

        // Both grids embedded as PNG data, decoding to the files' bytes.
        let prefix = "src=\"data:image/png;base64,"
        let images = html.components(separatedBy: prefix).dropFirst().map { $0.prefix { $0 != "\"" } }
        XCTAssertEqual(images.count, 2)
        let first = try XCTUnwrap(Data(base64Encoded: String(try XCTUnwrap(images.first))))
        XCTAssertEqual(first, try Data(contentsOf: run.appendingPathComponent("samples/step_000020.png")))
        XCTAssertTrue(html.contains("step 20</figcaption>") && html.contains("step 40</figcaption>"))

        // The evaluation's numbers as `evaluate` prints them.
        XCTAssertTrue(html.contains("43.75%"), "condition accuracy")
        XCTAssertTrue(html.contains("123.4560"), "feature FID")
        XCTAssertTrue(html.contains("87.50%"), "colour accuracy")
        XCTAssertTrue(html.contains("25.00%"), "R-precision")

        // The hostile caption is text, not markup; nothing is fetched from elsewhere.
        XCTAssertFalse(html.contains("<script"))
        XCTAssertTrue(html.contains("a &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;red&quot; circle"))
        XCTAssertTrue(html.contains("<li>a blue square</li>"))
        for external in ["http://", "https://", "src=\"//", "href=\"//", "<link", "@import", "url("] {
            XCTAssertFalse(html.contains(external), external)
        }
    }

    func testRunReportWithoutEvaluationSaysHowToGetOne() throws {
        let run = try syntheticRun(steps: [10], grids: [])
        let html = try RunReport.html(runFolder: run)
        XCTAssertTrue(html.contains("Not evaluated yet"))
        XCTAssertTrue(html.contains("No sample grids."))
        // A single point is drawn as a dot (a one-point polyline is invisible).
        let chart = try XCTUnwrap(charts(html, title: "d_loss").first)
        XCTAssertTrue(chart.contains("<circle"))
        XCTAssertEqual(try polylinePoints(chart).count, 1)
    }

    func testTruncatedAndBadMetricsLinesAreNotedAndSkipped() throws {
        // A killed run's half-written last line, and a line that is JSON but not a record.
        let run = try syntheticRun(steps: [10, 20, 30], grids: [30], metricsTail: "[1, 2]\n{\"step\":40,\"d_lo")
        let html = try RunReport.html(runFolder: run)
        XCTAssertEqual(try polylinePoints(try XCTUnwrap(charts(html, title: "d_loss").first)).count, 3)
        XCTAssertTrue(html.contains("left out 2 unreadable lines (line 4, 5)"), html)
    }

    func testMetricsWithNoUsableLineIsOneErrorNamingFileAndLine() throws {
        let run = try temporaryFolder()
        try Data("\n{\"loss\": 1}\nnot json\n".utf8).write(to: run.appendingPathComponent("metrics.jsonl"))
        XCTAssertThrowsError(try RunReport.html(runFolder: run)) { error in
            let error = error as? StackGANError
            XCTAssertEqual(error?.kind, .unusableInput)
            XCTAssertEqual(error?.place, run.appendingPathComponent("metrics.jsonl").path + ":2", "the first bad line (line 1 is blank)")
        }
    }

    func testMissingOrForeignFolderIsAClearError() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("stackgan-report-missing-\(UUID().uuidString)")
        XCTAssertThrowsError(try RunReport.write(runFolder: missing)) { error in
            XCTAssertEqual((error as? StackGANError)?.kind, .usage)
            XCTAssertEqual((error as? StackGANError)?.description, "\(missing.path): no such run folder")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing.path), "nothing created")
        let empty = try temporaryFolder()
        XCTAssertThrowsError(try RunReport.write(runFolder: empty)) { error in
            XCTAssertEqual((error as? StackGANError)?.kind, .unusableInput)
            XCTAssertTrue("\(error)".contains("not a run folder"), "\(error)")
        }
    }

    func testFilesThatAreNotWhatTheySeemBecomeNotes() throws {
        let run = try syntheticRun(steps: [10, 20], grids: [10])
        try Data("<html>not a png".utf8).write(to: run.appendingPathComponent("samples/step_000020.png"))
        try Data("{\"fid\": \"high\"}".utf8).write(to: run.appendingPathComponent(RunFile.evaluation.path))
        let html = try RunReport.html(runFolder: run)
        XCTAssertTrue(html.contains("step_000020.png: not a PNG file, not embedded"))
        XCTAssertEqual(html.components(separatedBy: "data:image/png;base64,").count - 1, 1, "only the real PNG")
        XCTAssertTrue(html.contains("evaluation.json: not a report of `stackgan evaluate`"))
    }

    func testGridsAreCappedEvenlyWithTheLastOneIn() throws {
        let steps = Array(stride(from: 10, through: 200, by: 10))
        let run = try syntheticRun(steps: steps, grids: steps)
        let html = try RunReport.html(runFolder: run)
        XCTAssertEqual(html.components(separatedBy: "data:image/png;base64,").count - 1, RunReport.maxGrids)
        XCTAssertTrue(html.contains("step 10</figcaption>") && html.contains("step 200</figcaption>"), "first and last")
        XCTAssertTrue(html.contains("\(RunReport.maxGrids) of 20 grids"))
    }

    func testWriteIsAtomicAndLeavesOnlyTheReport() throws {
        let run = try syntheticRun(steps: [10], grids: [10])
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: run.path))
        let url = try RunReport.write(runFolder: run)
        XCTAssertEqual(url, run.appendingPathComponent("report.html"))
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: run.path)), before.union(["report.html"]))
        XCTAssertTrue(try String(contentsOf: url, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
    }

    func testEvaluationFileOnlyForACheckpointInARunFolder() throws {
        let run = try syntheticRun(steps: [10], grids: [])
        XCTAssertEqual(RunFolder.holding(checkpoint: run.appendingPathComponent("checkpoint.safetensors").path)?.url(.evaluation),
                       run.appendingPathComponent("evaluation.json"))
        XCTAssertNil(RunFolder.holding(checkpoint: run.appendingPathComponent("copy.safetensors").path))
        XCTAssertNil(RunFolder.holding(checkpoint: run.appendingPathComponent("samples/checkpoint.safetensors").path))
    }

    // MARK: Ablation

    /// An ablation folder: two variants, two seeds each, FIDs 100/140 and 300/300, and a grid per run.
    private func syntheticAblation() throws -> URL {
        let folder = try temporaryFolder()
        let fids: [(DiscriminatorHead, String, UInt64, Double)] = [(.single, "none", 0, 100), (.single, "none", 1, 140),
                                                                   (.projection, "<i>all", 0, 300), (.projection, "<i>all", 1, 300)]
        let runs = fids.map { head, techniques, seed, fid in
            AblationRun(head: head, techniques: techniques, seed: seed, runDirectory: "runs/x", trainSeconds: 60 + Double(seed),
                        report: report(fid: fid, conditionAccuracy: fid / 1000))
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase  // as Ablation writes it
        try encoder.encode(runs).write(to: folder.appendingPathComponent("runs.json"))
        for run in runs {
            try ImageCodec.writePNG(RGBImage(width: 2, height: 2, fill: (0, UInt8(run.seed), 0)),
                                    to: folder.appendingPathComponent("samples/\(run.gridName).png").path)
        }
        return folder
    }

    func testAblationReportBarsWithErrorBarsPerMetric() throws {
        let folder = try syntheticAblation()
        XCTAssertTrue(AblationReport.isAblation(folder))
        let html = try AblationReport.html(ablationFolder: folder)
        for metric in AblationSummary.metrics {
            XCTAssertEqual(charts(html, title: metric.title).count, 1, metric.title)
        }
        let fid = String(try XCTUnwrap(charts(html, title: "feature FID").first))
        XCTAssertEqual(fid.components(separatedBy: "<rect class=\"bar\"").count - 1, 2, "a bar per variant")
        XCTAssertEqual(fid.components(separatedBy: "<circle class=\"seed\"").count - 1, 4, "a dot per run")
        // single: mean 120, SD 28.28 (sample SD of 100 and 140); projection: 300 ± 0, no whiskers.
        XCTAssertTrue(fid.contains("single, none: 120 ± 28 over 2 runs"), fid)
        XCTAssertTrue(fid.contains("projection, &lt;i&gt;all: 300 ± 0 over 2 runs"), fid)
        func attribute(_ name: String, in text: Substring) throws -> Double {
            let start = try XCTUnwrap(text.range(of: " \(name)=\""))
            return try XCTUnwrap(Double(text[start.upperBound...].prefix { $0 != "\"" }))
        }
        let bars = fid.components(separatedBy: "<rect class=\"bar\"").dropFirst().map { Substring($0) }
        let widths = try bars.map { try attribute("width", in: $0) }
        XCTAssertEqual(widths[0] / widths[1], 120.0 / 300, accuracy: 0.01, "bars from 0 in proportion to the means")
        let errors = fid.components(separatedBy: "<line class=\"error\"").dropFirst().map { Substring($0) }
        XCTAssertEqual(errors.count, 3, "one whisker and two caps for the variant with a spread")
        let whisker = try XCTUnwrap(errors.first)
        let span = try attribute("x2", in: whisker) - attribute("x1", in: whisker)
        XCTAssertEqual(span / widths[0], 2 * 800.0.squareRoot() / 120, accuracy: 0.01, "whiskers span mean ± SD")
        XCTAssertEqual(try attribute("x2", in: whisker), try attribute("x", in: bars[0]) + widths[0] + span / 2, accuracy: 0.2,
                       "centred on the bar's end")

        // Grids side by side per variant, then the table summary.md has.
        XCTAssertEqual(html.components(separatedBy: "data:image/png;base64,").count - 1, 4)
        XCTAssertTrue(html.contains("seed 1</figcaption>"))
        let table = try XCTUnwrap(html.range(of: "<table>"))
        XCTAssertLessThan(try XCTUnwrap(html.range(of: "data:image/png")).lowerBound, table.lowerBound, "charts and grids above the table")
        XCTAssertTrue(html.contains("<td class=\"num\">120.0000 ±&nbsp;28.2843</td>"), "the Markdown table's cell")
        XCTAssertFalse(html.contains("<i>"), "a name from runs.json is text")
        XCTAssertFalse(html.contains("http://") || html.contains("https://"))
    }

    func testAblationReportOnABrokenRunsFileIsOneError() throws {
        let folder = try syntheticAblation()
        try Data("[{\"head\": \"single\"}]".utf8).write(to: folder.appendingPathComponent("runs.json"))
        XCTAssertThrowsError(try AblationReport.html(ablationFolder: folder)) { error in
            XCTAssertEqual((error as? StackGANError)?.kind, .unusableInput)
            XCTAssertTrue("\(error)".contains("runs.json: not the runs list"), "\(error)")
            XCTAssertTrue("\(error)".contains("missing [0]."), "\(error)")
        }
    }
}
