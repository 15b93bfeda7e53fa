import Datasets
import Foundation

/// The HTML report of one training run folder (`report.html`): the `evaluate` metrics when the
/// folder has them, sample grids over the steps with their captions, one line chart per loss term
/// of metrics.jsonl and images/s over wall time, and the run's config.yml.
///
/// The evaluation is `evaluation.json` in the run folder, which `stackgan evaluate` (and each run
/// of `ablate`) writes beside a checkpoint that lies in a run folder; another evaluate JSON can be
/// named instead. Unreadable metrics lines (a half-written last line of a killed run) are left out
/// with a note; a metrics file with no readable line at all is an error naming its first bad line.
public enum RunReport {
    /// Grids embedded at most, evenly spaced over the steps with the last one always in: a 64 px
    /// shapes grid is about 170 KB, so a report stays under about 2 MB.
    public static let maxGrids = 8
    static let maxMetricsBytes = 64 << 20
    /// Loss terms charted at most (a run logs about ten): each is a chart, so a metrics file with
    /// 200,000 keys made a 280 MB page.
    static let maxTerms = 32
    static let maxTextBytes = 256 << 10

    /// Writes the report of `runFolder` to `output` (default `<runFolder>/report.html`) and
    /// returns where. `evaluation`: an evaluate JSON other than the folder's evaluation.json.
    @discardableResult
    public static func write(runFolder: URL, evaluation: URL? = nil, to output: OutputFile? = nil) throws -> URL {
        let file = try output ?? HTMLPage.output(RunFolder(runFolder).destination(.report))
        try HTMLPage.write(try html(runFolder: runFolder, evaluation: evaluation), to: file)
        return URL(fileURLWithPath: file.path)
    }

    /// The entries of metrics.jsonl by step (the last line of a step wins) and notes on what was
    /// left out. Throws when lines exist but none is a metrics record.
    static func readMetrics(_ url: URL) throws -> (entries: [MetricsRecord], notes: [String]) {
        guard let (data, truncated) = HTMLPage.read(url, limit: maxMetricsBytes) else { return ([], ["no metrics.jsonl: no step was logged"]) }
        var byStep: [Int: MetricsRecord] = [:], bad: [Int] = []
        var terms = Set<String>(), leftOut = Set<String>()
        let blank = Set(" \t\r".utf8)
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            guard line.contains(where: { !blank.contains($0) }) else { continue }
            guard var record = MetricsRecord(line: line) else { bad.append(index + 1); continue }
            for key in record.losses.keys.sorted() where !terms.contains(key) {
                if terms.count < maxTerms { terms.insert(key) } else {
                    if leftOut.count < 1_000_000 { leftOut.insert(key) }
                    record.losses[key] = nil
                }
            }
            byStep[record.step] = record
        }
        if byStep.isEmpty, let first = bad.first {
            throw StackGANError(.unusableInput, "\(url.path):\(first)", "not a metrics record (a JSON object with an integer \"step\"); no line of the file is")
        }
        var notes: [String] = []
        if !bad.isEmpty {
            let listed = bad.prefix(5).map(String.init).joined(separator: ", ") + (bad.count > 5 ? ", ..." : "")
            notes.append("metrics.jsonl: left out \(bad.count) unreadable line\(bad.count == 1 ? "" : "s") (line \(listed)), e.g. a half-written last line of a killed run")
        }
        if truncated { notes.append("metrics.jsonl: only its first \(maxMetricsBytes >> 20) MiB are read") }
        if !leftOut.isEmpty { notes.append("metrics.jsonl: \(leftOut.count) more terms not charted (at most \(maxTerms), the first ones logged)") }
        if byStep.isEmpty { notes.append("metrics.jsonl is empty: no step was logged yet") }
        return (byStep.values.sorted { $0.step < $1.step }, notes)
    }

    /// The evaluation's main numbers, each beside its ceiling and chance, as a row of cards.
    static func headline(_ r: EvaluationReport) -> String {
        func pct(_ v: Double) -> String { String(format: "%.1f%%", 100 * v) }
        var cards = [("condition accuracy", pct(r.conditionAccuracy), "real images \(pct(r.realAccuracy)) · chance \(pct(r.chance))")]
        if let value = r.rPrecision, let real = r.rPrecisionReal, let chance = r.rPrecisionChance {
            cards.append(("R-precision", pct(value), "real images \(pct(real)) · chance \(pct(chance))"))
        }
        cards.append(("feature FID", String(format: "%.1f", r.fid), "lower is better"))
        cards.append(("D separation", String(format: "%.3f", r.discriminator.separation), "D(real) − max(D(wrong), D(fake))"))
        for name in r.attributes.keys.sorted() {
            cards.append(("\(name) accuracy", pct(r.attributes[name] ?? .nan),
                          "real images \(pct(r.attributesReal[name] ?? .nan)) · chance \(pct(r.attributesMajority[name] ?? .nan))"))
        }
        let step = r.step.map { " at step \($0)" } ?? ""
        var html = "<p class=\"sub\">\(HTMLPage.escape(r.dataset)) [\(HTMLPage.escape(r.split))], \(r.generatedImages) generated images, checkpoint\(step).</p>\n"
        html += "<div class=\"cards\">\n"
        for (label, value, detail) in cards {
            html += "<div class=\"card\"><div class=\"label\">\(HTMLPage.escape(label))</div><div class=\"value\">\(value)</div>"
                + "<div class=\"detail\">\(HTMLPage.escape(detail))</div></div>\n"
        }
        for warning in [r.classifierWarning, r.matcherWarning].compactMap({ $0 }) { html += "<p class=\"note\">\(HTMLPage.escape(warning))</p>\n" }
        return html + "</div>\n"
    }

    /// The page. Throws for a missing folder, a folder that is not a run folder, or metrics with
    /// no readable line; anything else missing or unreadable becomes a note on the page.
    static func html(runFolder: URL, evaluation: URL? = nil) throws -> String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: runFolder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw StackGANError(.usage, runFolder.path, "no such run folder")
        }
        let folder = RunFolder(runFolder)
        let metricsURL = folder.url(.metrics)
        let allGrids = folder.sampleGrids()
        guard FileManager.default.fileExists(atPath: metricsURL.path) || !allGrids.isEmpty else {
            throw StackGANError(.unusableInput, runFolder.path, "not a run folder of `stackgan train` (no metrics.jsonl and no samples/step_*.png)")
        }
        var (entries, notes) = try readMetrics(metricsURL)
        let configText = HTMLPage.read(folder.url(.config), limit: maxTextBytes)
            .map { String(decoding: $0.data, as: UTF8.self) }
        let config = (try? ExperimentConfig.load(file: folder.url(.config).path))

        // Header: what ran, how far, how fast.
        let name = config?.name ?? runFolder.lastPathComponent
        var header = "<h1>\(HTMLPage.escape(name))</h1>\n"
        var facts: [String] = []
        if let config { facts.append("\(config.family.rawValue) stage \(config.stage)") }
        if let last = entries.last {
            facts.append("step \(last.step)" + (config.map { $0.train.maxSteps > 0 ? " of \($0.train.maxSteps)" : "" } ?? ""))
            if let speed = last.imagesPerSecond { facts.append(String(format: "%.1f images/s at the end", speed)) }
        }
        facts.append("run folder \(runFolder.path)")
        header += "<p class=\"sub\">\(HTMLPage.escape(facts.joined(separator: " · ")))</p>\n"

        var body = evaluationSection(folder, file: evaluation, lastStep: entries.last?.step, notes: &notes)
        body += samplesSection(folder, grids: allGrids, notes: &notes)
        body += curvesSection(entries)
        if let configText {
            body += "<h2>Config</h2>\n<details><summary>config.yml</summary><pre>\(HTMLPage.escape(configText))</pre></details>\n"
        }
        // Notes go under the header, where they are seen first.
        let noteHTML = notes.map { "<p class=\"note\">\(HTMLPage.escape($0))</p>\n" }.joined()
        return HTMLPage.document(title: "\(name): training report", body: header + noteHTML + body)
    }

    /// The evaluation's cards and table, or how to get one.
    private static func evaluationSection(_ folder: RunFolder, file: URL?, lastStep: Int?, notes: inout [String]) -> String {
        var body = "<h2>Evaluation</h2>\n"
        let evaluationURL = file ?? folder.url(.evaluation)
        if let (data, truncated) = HTMLPage.read(evaluationURL, limit: maxTextBytes) {
            if !truncated, let report = try? JSONDecoder.snakeCase.decode(EvaluationReport.self, from: data) {
                if let step = report.step, let last = lastStep, step != last {
                    notes.append("the evaluation is of the checkpoint at step \(step); metrics go to step \(last)")
                }
                body += headline(report)
                body += "<details><summary>Every number of \(HTMLPage.escape(evaluationURL.lastPathComponent))</summary>\n"
                    + HTMLPage.table(report.rows) + "</details>\n"
            } else {
                body += "<p class=\"note\">\(HTMLPage.escape(evaluationURL.lastPathComponent)): not a report of `stackgan evaluate`</p>\n"
            }
        } else {
            let checkpoint = folder.url(.checkpoint).path
            body += "<p class=\"sub\">Not evaluated yet: <code>stackgan evaluate --checkpoint \(HTMLPage.escape(checkpoint))</code> "
                + "writes \(RunFile.evaluation.path) here and refreshes this report.</p>\n"
        }
        return body
    }

    /// Evenly spaced grids, the latest last, then the captions of their rows.
    private static func samplesSection(_ folder: RunFolder, grids: [(step: Int, url: URL)], notes: inout [String]) -> String {
        var body = "<h2>Samples</h2>\n"
        let shown = SVGChart.thin(grids, to: maxGrids)
        if shown.count < grids.count {
            body += "<p class=\"sub\">\(shown.count) of \(grids.count) grids, evenly spaced over the steps.</p>\n"
        }
        body += "<div class=\"grids\">\n"
        for grid in shown {
            let (image, problem) = HTMLPage.pngImage(grid.url, alt: "samples at step \(grid.step)", width: 128)
            if let problem { notes.append(problem) }
            guard let image else { continue }
            body += "<figure>\(image)<figcaption>step \(grid.step)</figcaption></figure>\n"
        }
        body += "</div>\n"
        if grids.isEmpty { body += "<p class=\"sub\">No sample grids.</p>\n" }
        if folder.hasOwnSamplesFolder, let (data, _) = HTMLPage.read(folder.url(.sampleCaptions), limit: maxTextBytes) {
            let captions = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            body += "<p class=\"sub\">One row per caption (eval split, fixed noise):</p>\n<ol class=\"captions\" start=\"0\">\n"
            for caption in captions {
                // "row 3: a red circle": the list numbers the rows already.
                var text = caption[...]
                if text.hasPrefix("row "), let colon = text.firstIndex(of: ":") { text = text[text.index(after: colon)...] }
                body += "<li>\(HTMLPage.escape(text.trimmingCharacters(in: .whitespaces)))</li>\n"
            }
            body += "</ol>\n"
        }
        return body
    }

    /// One chart per loss term, then images/s over wall time.
    private static func curvesSection(_ entries: [MetricsRecord]) -> String {
        var body = "<h2>Losses and speed</h2>\n<div class=\"charts\">\n"
        let terms = Set(entries.flatMap(\.losses.keys)).sorted()
        for term in terms {
            body += SVGChart.line(title: term, xLabel: "step", points: entries.compactMap { e in e.losses[term].map { (Double(e.step), $0) } })
        }
        let start = entries.compactMap(\.time).min() ?? 0
        body += SVGChart.line(title: "images/s (running mean)", xLabel: "minutes since the first logged step",
                              points: entries.compactMap { e in e.imagesPerSecond.flatMap { v in e.time.map { (($0 - start) / 60, v) } } })
        body += "</div>\n"
        return body
    }
}
