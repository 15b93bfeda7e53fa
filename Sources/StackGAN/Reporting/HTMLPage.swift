import Datasets
import Foundation

/// The pieces every HTML report shares: escaping, the page shell with its inline style, PNGs as
/// data URIs and bounded reads of the run's files. A report is one self-contained file: no
/// scripts, no fonts, images or styles fetched from elsewhere, so it opens offline and can be
/// mailed or attached as it is.
enum HTMLPage {
    /// Text from files (captions, names, paths) as HTML text or attribute value.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// `escape(text)` that may break after a "+" (a long technique list such as
    /// "spectral_norm+augment+contrastive+mode_seeking" has no space to wrap at).
    static func breakable(_ text: String) -> String {
        escape(text).replacingOccurrences(of: "+", with: "+<wbr>")
    }

    /// The whole page around `body` (already HTML).
    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(escape(title))</title>
        <style>
        body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
               max-width: 1160px; margin: 24px auto; padding: 0 16px; background: #fff; }
        h1 { font-size: 22px; margin: 0 0 4px; }
        h2 { font-size: 17px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #d0d7de; }
        .sub { color: #59636e; margin: 0 0 8px; }
        .note { background: #fff8c5; border: 1px solid #d4a72c66; padding: 6px 10px; border-radius: 6px; margin: 8px 0; }
        .charts { display: flex; flex-wrap: wrap; gap: 12px; }
        .chart { border: 1px solid #d0d7de; border-radius: 6px; background: #fff; }
        .chart text { font: 11px system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; fill: #59636e; }
        .chart .title { font-size: 13px; font-weight: 600; fill: #1f2328; }
        .chart .grid { stroke: #eaeef2; }
        .chart .axis { stroke: #8c959f; }
        .chart .series { fill: none; stroke: #0969da; stroke-width: 1.5; }
        .chart .bar { fill: #54aeff; }
        .chart .error { stroke: #1f2328; stroke-width: 1.5; }
        .chart .seed { fill: #1f2328; fill-opacity: 0.6; }
        .grids { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
        figure { margin: 0; text-align: center; }
        figure img { display: block; image-rendering: pixelated; border: 1px solid #d0d7de; }
        figcaption { font-size: 12px; color: #59636e; margin-top: 2px; }
        table { border-collapse: collapse; font-size: 13px; }
        th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
        th { background: #f6f8fa; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        .wide { overflow-x: auto; }
        ol.captions { margin: 6px 0; padding-left: 28px; color: #59636e; }
        pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 12px; }
        .cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 10px; }
        .card { border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 12px; min-width: 170px; }
        .card .label { font-size: 12px; color: #59636e; }
        .card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
        .card .detail { font-size: 11px; color: #59636e; }
        details summary { cursor: pointer; color: #0969da; margin: 4px 0; }
        th.indent { padding-left: 22px; font-weight: normal; }
        .variant { width: min-content; margin: 0 14px 10px 0; }
        .variant h3 { font-size: 13px; margin: 0 0 4px; }
        .variant .grids { flex-wrap: nowrap; }
        </style>
        </head>
        <body>
        \(body)
        </body>
        </html>

        """
    }

    /// A table of label / value rows (both plain text).
    static func table(_ rows: [(String, String)], header: [String]? = nil) -> String {
        var html = "<table>\n"
        if let header { html += "<tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n" }
        for (label, value) in rows {
            // "  chance" under "R-precision": the terminal table's indent, kept as one.
            let indent = label.hasPrefix(" ") ? " class=\"indent\"" : ""
            html += "<tr><th\(indent)>\(escape(label.trimmingCharacters(in: .whitespaces)))</th><td>\(escape(value))</td></tr>\n"
        }
        return html + "</table>\n"
    }

    /// `<img>` of a PNG file as a data URI, or nil with the reason when the file is missing, too
    /// large or not a PNG (a file of another kind is never labelled image/png).
    static func pngImage(_ url: URL, alt: String, width: Int? = nil) -> (html: String?, problem: String?) {
        let maxBytes = 16 << 20
        guard let (data, truncated) = read(url, limit: maxBytes) else { return (nil, "\(url.lastPathComponent): cannot be read") }
        guard !truncated else { return (nil, "\(url.lastPathComponent): larger than \(maxBytes >> 20) MiB, not embedded") }
        guard data.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            return (nil, "\(url.lastPathComponent): not a PNG file, not embedded")
        }
        let size = width.map { " width=\"\($0)\"" } ?? ""
        return ("<img src=\"data:image/png;base64,\(data.base64EncodedString())\" alt=\"\(escape(alt))\"\(size)>", nil)
    }

    /// At most `limit` bytes of a file and whether there was more; nil when it cannot be opened.
    /// Reports read only what they can show, so a huge or endless file costs a bounded amount.
    static func read(_ url: URL, limit: Int) -> (data: Data, truncated: Bool)? { InputFile.read(url.path, limit: limit) }

    /// The report file a command names itself (a folder's report.html): a regular file or nothing.
    static func output(_ url: URL) throws -> OutputFile {
        do { return try OutputFile(url.path) } catch let error as DatasetError {
            throw StackGANError(.output, url.path, "cannot write the report: \(error.message)")
        }
    }

    /// A report written by `OutputFile`'s rules, so a reader never sees half a page.
    static func write(_ html: String, to output: OutputFile) throws {
        do { try output.write(Data(html.utf8)) } catch let error as DatasetError {
            throw StackGANError(.output, output.path, "cannot write the report: \(error.message)")
        }
    }
}
