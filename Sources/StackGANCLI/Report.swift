import ArgumentParser
import Foundation
import StackGAN

/// `stackgan report`: the HTML report of a run folder or an ablation folder, which `train`,
/// `ablate` and `evaluate` also write when they finish.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one self-contained HTML report of a run or ablation folder.",
        discussion: """
        A run folder: the evaluate metrics (its evaluation.json, which `stackgan evaluate` writes beside a checkpoint \
        in a run folder), up to \(RunReport.maxGrids) sample grids evenly spaced over the steps, one chart per loss term \
        and images/s over time. An ablation folder (it has runs.json): a bar chart per metric with the seed spread, \
        the sample grids side by side and the summary table. Inline SVG and PNG, no scripts.
        Example: stackgan report runs/shapes_stage1
        """)

    @Argument(help: "A run folder of `stackgan train` or an ablation folder of `stackgan ablate`.") var folder: String
    @Option(help: "Where to write the report (default FOLDER/report.html).") var out: String?
    @Option(help: "A JSON report of `stackgan evaluate --out` to show instead of FOLDER/evaluation.json (run folders).") var evaluation: String?

    func run() throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw StackGANError.usage("\(folder): no such run or ablation folder")
        }
        if let evaluation, !FileManager.default.fileExists(atPath: evaluation) { throw StackGANError.usage("--evaluation \(evaluation) not found") }
        let url = URL(fileURLWithPath: folder)
        // What the report reads: the folder's files and its sample grids (all but the report itself).
        let inputs = [url, url.appendingPathComponent(RunFile.samplesFolder)].flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0 != RunFile.report.path }.map { dir.appendingPathComponent($0).path }
        }
        let output = try out.map { try namedOutput($0, flag: "--out", inputs: inputs + [evaluation].compactMap { $0 }) }
        let written = AblationReport.isAblation(url)
            ? try AblationReport.write(ablationFolder: url, to: output)
            : try RunReport.write(runFolder: url, evaluation: evaluation.map { URL(fileURLWithPath: $0) }, to: output)
        print("report: \(written.path)")
    }
}

/// Writes `folder`'s report.html at the end of `train`, `ablate` and `evaluate`. A failure is a
/// warning, never an error: the run the report describes is already saved.
func refreshReport(_ folder: URL) {
    do {
        let written = AblationReport.isAblation(folder) ? try AblationReport.write(ablationFolder: folder) : try RunReport.write(runFolder: folder)
        printLine("report: \(written.path)")
    } catch {
        FileHandle.standardError.write(Data("stackgan: warning: the report was not written: \(CommandLineTool.oneLine("\(error)"))\n".utf8))
    }
}
