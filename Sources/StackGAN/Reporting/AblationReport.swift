import Datasets
import Foundation

/// The HTML report of an ablation folder (`report.html` beside summary.md): one bar chart per
/// metric of `AblationSummary.metrics` with a bar per variant (mean over seeds, ± one sample standard
/// deviation, a dot per seed), each variant's final sample grids side by side, then summary.md's
/// notes and table. Everything comes from the folder's runs.json and samples/, so
/// `stackgan report` rebuilds the same page later.
public enum AblationReport {
    /// Grids embedded at most (about 170 KB each on shapes): the first seeds of every variant.
    public static let maxGrids = 24

    /// Whether `folder` is an ablation folder (it has runs.json) rather than a run folder.
    public static func isAblation(_ folder: URL) -> Bool {
        FileManager.default.fileExists(atPath: folder.appendingPathComponent(AblationSummary.runsFileName).path)
    }

    /// Writes the report of `folder` to `output` (default `<folder>/report.html`) and returns where.
    @discardableResult
    public static func write(ablationFolder folder: URL, to output: OutputFile? = nil) throws -> URL {
        let file = try output ?? HTMLPage.output(RunFolder(folder).destination(.report))
        try HTMLPage.write(try html(ablationFolder: folder), to: file)
        return URL(fileURLWithPath: file.path)
    }

    /// The runs of runs.json, which `Ablation` rewrites after every finished run.
    static func readRuns(_ folder: URL) throws -> [AblationRun] {
        let url = folder.appendingPathComponent(AblationSummary.runsFileName)
        let limit = 16 << 20
        guard let (data, truncated) = HTMLPage.read(url, limit: limit) else {
            throw StackGANError(.unusableInput, url.path, "cannot be read")
        }
        guard !truncated else { throw StackGANError(.unusableInput, url.path, "larger than \(limit >> 20) MiB: not an ablation's runs") }
        do { return try JSONDecoder.snakeCase.decode([AblationRun].self, from: data) } catch {
            throw StackGANError(.unusableInput, url.path, "not the runs list `stackgan ablate` writes: \(describe(error))")
        }
    }

    static func html(ablationFolder folder: URL) throws -> String {
        let runs = try readRuns(folder)
        let variants = AblationSummary.orderedVariants(runs)
        let groups = variants.map { head, techniques in runs.filter { $0.head == head && $0.techniques == techniques } }
        let names = variants.map { "\($0.0.rawValue), \(AblationSummary.label($0.1))" }
        var notes: [String] = []

        let seeds = Set(runs.map(\.seed)).count
        let steps = Set(runs.compactMap(\.report.step)).sorted().map(String.init).joined(separator: "/")
        var header = "<h1>Ablation: \(HTMLPage.escape(folder.lastPathComponent))</h1>\n"
        header += "<p class=\"sub\">\(runs.count) runs: \(variants.count) variants × \(seeds) seed\(seeds == 1 ? "" : "s")"
            + (steps.isEmpty ? "" : ", \(HTMLPage.escape(steps)) steps each") + " · folder \(HTMLPage.escape(folder.path))</p>\n"
        if runs.isEmpty { header += "<p class=\"note\">No run has finished yet.</p>\n" }

        var body = "<h2>Metrics per variant</h2>\n<p class=\"sub\">Bar: mean over seeds; whiskers: ± one sample standard deviation; dots: the seeds.</p>\n"
        body += "<div class=\"charts\">\n"
        for metric in AblationSummary.metrics where !runs.isEmpty {
            let bars = zip(names, groups).map { name, group -> SVGChart.Bar in
                let values = group.map(metric.value)
                let (mean, spread) = AblationSummary.meanAndSpread(values)
                return SVGChart.Bar(label: name, mean: mean, spread: spread, values: values)
            }
            body += SVGChart.bars(title: metric.title, bars: bars)
        }
        body += "</div>\n"

        body += "<h2>Sample grids</h2>\n"
        let perVariant = max(1, maxGrids / max(1, variants.count))
        if groups.contains(where: { $0.count > perVariant }) {
            body += "<p class=\"sub\">The first \(perVariant) seed\(perVariant == 1 ? "" : "s") of each variant (at most \(maxGrids) grids in all).</p>\n"
        }
        body += "<div class=\"grids\">\n"
        for (name, group) in zip(names, groups) {
            body += "<div class=\"variant\"><h3>\(HTMLPage.breakable(name))</h3><div class=\"grids\">\n"
            for run in group.prefix(perVariant) {
                let url = folder.appendingPathComponent("samples/\(run.gridName).png")
                let (image, problem) = HTMLPage.pngImage(url, alt: "\(run.gridName) samples", width: 112)
                if let problem { notes.append(problem) }
                guard let image else { continue }
                body += "<figure>\(image)<figcaption>seed \(run.seed)</figcaption></figure>\n"
            }
            body += "</div></div>\n"
        }
        body += "</div>\n"

        body += "<h2>Summary</h2>\n"
        body += AblationSummary.summaryNotes(runs).map { "<p>\(HTMLPage.escape($0))</p>\n" }.joined()
        let (columns, rows) = AblationSummary.summaryTable(runs)
        body += "<div class=\"wide\"><table>\n<tr>" + columns.map { "<th>\(HTMLPage.escape($0))</th>" }.joined() + "</tr>\n"
        for row in rows {
            // head, techniques, then numbers; a "mean ± std" cell breaks only before its "±".
            body += "<tr>" + row.enumerated().map { i, cell in
                let text = HTMLPage.breakable(cell).replacingOccurrences(of: "± ", with: "±&nbsp;")
                return "<td\(i >= 2 ? " class=\"num\"" : "")>\(text)</td>"
            }.joined() + "</tr>\n"
        }
        body += "</table></div>\n"
        // Notes go under the header, where they are seen first.
        let noteHTML = notes.map { "<p class=\"note\">\(HTMLPage.escape($0))</p>\n" }.joined()
        return HTMLPage.document(title: "Ablation \(folder.lastPathComponent)", body: header + noteHTML + body)
    }

    /// A decoding error as the key path and what was wrong, in one short line.
    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context): return "missing \(path(context.codingPath + [key]))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context), DecodingError.dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        default: return "\(error)"
        }
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}
