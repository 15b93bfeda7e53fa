import Foundation

/// The reports' two charts as inline SVG strings: a line chart (a loss term or images/s against
/// steps or time) and a horizontal bar chart of means with ± one standard deviation and a dot per
/// seed (an ablation metric per variant). Styling lives in `HTMLPage.document`'s stylesheet;
/// hovering a bar shows its numbers (an SVG `<title>`, no script).
enum SVGChart {
    /// Points drawn at most per line: more are thinned evenly (the last one always kept), so a
    /// long run's report stays small; the line at 372 px cannot show more anyway.
    static let maxPoints = 1500

    /// A line chart of `points`; non-finite points are left out.
    static func line(title: String, xLabel: String, points: [(x: Double, y: Double)], width: Int = 372, height: Int = 210) -> String {
        let shown = thin(points.filter { $0.x.isFinite && $0.y.isFinite }, to: maxPoints)
        let (left, right, top, bottom) = (52.0, 14.0, 28.0, 36.0)
        var svg = header(title: title, width: width, height: height)
        svg += "<text class=\"title\" x=\"\(left)\" y=\"17\">\(HTMLPage.escape(title))</text>\n"
        guard let first = shown.first, let last = shown.last else {
            return svg + "<text x=\"\(left)\" y=\"\(height / 2)\">no finite values</text>\n</svg>\n"
        }
        svg += "<text x=\"\(f(Double(width) - right))\" y=\"17\" text-anchor=\"end\">last \(number(last.y))</text>\n"
        let xAxis = axis(shown.map(\.x), padToTicks: false), yAxis = axis(shown.map(\.y), padToTicks: true)
        let x = map(xAxis.domain, to: left, Double(width) - right)
        let y = map(yAxis.domain, to: Double(height) - bottom, top)
        for t in yAxis.ticks {
            svg += "<line class=\"grid\" x1=\"\(f(left))\" x2=\"\(f(Double(width) - right))\" y1=\"\(f(y(t)))\" y2=\"\(f(y(t)))\"/>"
            svg += "<text x=\"\(f(left - 5))\" y=\"\(f(y(t) + 4))\" text-anchor=\"end\">\(number(t))</text>\n"
        }
        for t in xAxis.ticks {
            svg += "<text x=\"\(f(x(t)))\" y=\"\(f(Double(height) - bottom + 14))\" text-anchor=\"middle\">\(number(t))</text>\n"
        }
        svg += "<line class=\"axis\" x1=\"\(f(left))\" x2=\"\(f(Double(width) - right))\" y1=\"\(f(Double(height) - bottom))\" y2=\"\(f(Double(height) - bottom))\"/>\n"
        svg += "<text x=\"\(f((left + Double(width) - right) / 2))\" y=\"\(height - 6)\" text-anchor=\"middle\">\(HTMLPage.escape(xLabel))</text>\n"
        if shown.count == 1 {
            svg += "<circle class=\"seed\" cx=\"\(f(x(first.x)))\" cy=\"\(f(y(first.y)))\" r=\"3\"/>\n"
        }
        svg += "<polyline class=\"series\" points=\"" + shown.map { "\(f(x($0.x))),\(f(y($0.y)))" }.joined(separator: " ") + "\"/>\n"
        return svg + "</svg>\n"
    }

    /// One bar of `bars`: a variant's mean over seeds, its sample standard deviation and the
    /// seeds' own values.
    struct Bar {
        var label: String
        var mean: Double
        var spread: Double
        var values: [Double]
    }

    /// Horizontal bars (labels above them, so long variant names fit), from 0 or the smallest
    /// value, with an error bar of ± `spread` and one dot per seed.
    static func bars(title: String, bars: [Bar], width: Int = 550) -> String {
        let (left, right, top, row) = (12.0, 28.0, 30.0, 38.0)
        let height = Int(top + row * Double(bars.count) + 26)
        var svg = header(title: title, width: width, height: height)
        svg += "<text class=\"title\" x=\"\(left)\" y=\"18\">\(HTMLPage.escape(title))</text>\n"
        let finite = bars.flatMap { [$0.mean - $0.spread, $0.mean + $0.spread] + $0.values }.filter(\.isFinite)
        guard !finite.isEmpty else {
            return svg + "<text x=\"\(left)\" y=\"\(Int(top) + 14)\">no finite values</text>\n</svg>\n"
        }
        let scale = axis(finite + [0], padToTicks: true)
        let x = map(scale.domain, to: left, Double(width) - right)
        let bottom = top + row * Double(bars.count)
        for t in scale.ticks {
            svg += "<line class=\"grid\" x1=\"\(f(x(t)))\" x2=\"\(f(x(t)))\" y1=\"\(f(top))\" y2=\"\(f(bottom))\"/>"
            svg += "<text x=\"\(f(x(t)))\" y=\"\(f(bottom + 14))\" text-anchor=\"middle\">\(number(t))</text>\n"
        }
        for (i, bar) in bars.enumerated() {
            let y0 = top + row * Double(i)
            let summary = meanAndSpread(bar.mean, bar.spread)
            svg += "<text x=\"\(f(left))\" y=\"\(f(y0 + 11))\">\(HTMLPage.escape(bar.label))</text>"
            svg += "<text x=\"\(f(Double(width) - right))\" y=\"\(f(y0 + 11))\" text-anchor=\"end\">\(summary) (\(bar.values.count) runs)</text>\n"
            guard bar.mean.isFinite else { continue }
            let (a, b) = (x(min(0, bar.mean)), x(max(0, bar.mean)))
            let center = y0 + 23
            svg += "<rect class=\"bar\" x=\"\(f(a))\" y=\"\(f(center - 7))\" width=\"\(f(b - a))\" height=\"14\">"
            svg += "<title>\(HTMLPage.escape(bar.label)): \(summary) over \(bar.values.count) runs</title></rect>\n"
            if bar.spread.isFinite && bar.spread > 0 {
                let (lo, hi) = (x(bar.mean - bar.spread), x(bar.mean + bar.spread))
                svg += "<line class=\"error\" x1=\"\(f(lo))\" x2=\"\(f(hi))\" y1=\"\(f(center))\" y2=\"\(f(center))\"/>"
                for end in [lo, hi] {
                    svg += "<line class=\"error\" x1=\"\(f(end))\" x2=\"\(f(end))\" y1=\"\(f(center - 5))\" y2=\"\(f(center + 5))\"/>"
                }
                svg += "\n"
            }
            for value in bar.values where value.isFinite {
                svg += "<circle class=\"seed\" cx=\"\(f(x(value)))\" cy=\"\(f(center))\" r=\"2.5\"/>"
            }
            svg += "\n"
        }
        svg += "<line class=\"axis\" x1=\"\(f(x(0)))\" x2=\"\(f(x(0)))\" y1=\"\(f(top))\" y2=\"\(f(bottom))\"/>\n"
        return svg + "</svg>\n"
    }

    private static func header(title: String, width: Int, height: Int) -> String {
        "<svg class=\"chart\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(HTMLPage.escape(title))\">\n"
    }

    /// The domain of `values` and about five round ticks in it; `padToTicks` widens the domain to
    /// the ticks around it (a y axis that starts and ends on a labelled line).
    static func axis(_ values: [Double], padToTicks: Bool) -> (domain: (Double, Double), ticks: [Double]) {
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if hi - lo <= max(abs(hi), abs(lo)) * 1e-9 {  // one value: a band around it
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            (lo, hi) = (lo - pad, hi + pad)
        }
        let raw = (hi - lo) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        if padToTicks { (lo, hi) = ((lo / step).rounded(.down) * step, (hi / step).rounded(.up) * step) }
        var ticks: [Double] = []
        var t = (lo / step).rounded(.up) * step
        while t <= hi + step * 1e-6 && ticks.count < 12 {
            ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return ((lo, hi), ticks)
    }

    /// Evenly spaced elements of `items`, first and last included, at most `count` of them.
    static func thin<T>(_ items: [T], to count: Int) -> [T] {
        guard items.count > count, count > 1 else { return items }
        return (0..<count).map { items[$0 * (items.count - 1) / (count - 1)] }
    }

    private static func map(_ domain: (Double, Double), to a: Double, _ b: Double) -> (Double) -> Double {
        let (lo, hi) = domain
        return { a + ($0 - lo) / (hi - lo) * (b - a) }
    }

    /// A coordinate: one decimal is sub-pixel enough.
    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// "mean ± spread" with three significant digits of the mean and the spread to the same
    /// decimal place: "0.0205 ± 0.0064", "847 ± 91".
    static func meanAndSpread(_ mean: Double, _ spread: Double) -> String {
        guard mean.isFinite else { return "n/a" }
        let decimals = mean == 0 ? 3 : min(8, max(0, 2 - Int(floor(log10(abs(mean))))))
        return String(format: "%.\(decimals)f ± %.\(decimals)f", mean, spread)
    }

    /// A value on an axis or a label: four significant digits.
    static func number(_ v: Double) -> String { v.isFinite ? String(format: "%.4g", v) : "n/a" }
}
