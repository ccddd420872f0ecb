import EdgeProbe
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// What got slower or faster between two probe results (A the baseline, B the new run).
///
/// Three sections, each sorted by the size of the change (largest first; unchanged rows and rows present on one side
/// only after them):
/// - `overall`: the two headline configurations' latency percentiles (p50, p90, p99, p99.9, max, mean) and images per
///   second, plus the pipeline's camera-to-result p50/p99 when both have a pipeline;
/// - `configuration`: every (batch, threads) of either file: p50, p99 and images per second where both have it, one
///   "only in A"/"only in B" row otherwise;
/// - `layer`: the headline configurations' steps matched by label (mean time), skipping steps under `layerMinimumShare`
///   of the total in both files.
///
/// A change within `thresholdPercent` (or under `absoluteFloorMs` for times) is "same": the noise threshold.
public struct ProbeComparison: Codable, Equatable, Sendable {
    public struct Row: Codable, Equatable, Sendable {
        /// "overall", "configuration" or "layer".
        public var section: String
        /// The configuration ("b1 t4") or the step label; "b1 t1 -> b1 t2" in `overall` when the headlines differ.
        public var name: String
        /// "p50_ms", "p99_ms", "images_per_second", "mean_ms", ... ("" for rows present on one side only).
        public var metric: String
        public var a: Double?
        public var b: Double?
        /// (b - a) / a x 100.
        public var change_percent: Double?
        /// "slower", "faster", "same", "only in A", "only in B".
        public var verdict: String
    }

    public var threshold_percent: Double
    public var a: String
    public var b: String
    public var a_headline: String
    public var b_headline: String
    /// Differences in what was run (model, kernels, machine, board) and skipped rows, one line each.
    public var notes: [String]
    public var rows: [Row]

    public static func compare(_ a: ProbeResult, _ b: ProbeResult, aName: String = "A", bName: String = "B", thresholdPercent: Double = 5,
                               absoluteFloorMs: Double = 0.002, layerMinimumShare: Double = 0.005) -> ProbeComparison {
        var notes: [String] = []
        func differs(_ what: String, _ x: String?, _ y: String?) {
            if x != y { notes.append("\(what) differs: \(x ?? "none") vs \(y ?? "none")") }
        }
        differs("model", a.model.path, b.model.path)
        differs("precision", a.model.precision, b.model.precision)
        differs("kernel variant", a.model.kernel_variant, b.model.kernel_variant)
        differs("machine", a.machine.hostname + " " + (a.machine.cpu_model ?? ""), b.machine.hostname + " " + (b.machine.cpu_model ?? ""))
        differs("board", a.board?.name, b.board?.name)
        differs("tool version", a.tool.version, b.tool.version)
        let loadA = a.machine.load_average?.first, loadB = b.machine.load_average?.first
        if (loadA ?? 0) >= 0.5 * Double(a.machine.cores) || (loadB ?? 0) >= 0.5 * Double(b.machine.cores) {
            notes.append(String(printf: "busy machine: load average %.2f on %d cores when A started, %.2f on %d when B started; other work may explain changes",
                                loadA ?? 0, a.machine.cores, loadB ?? 0, b.machine.cores))
        }
        if a.timeline.throttled == true { notes.append("A throttled during its run") }
        if b.timeline.throttled == true { notes.append("B throttled during its run") }

        func verdict(_ x: Double, _ y: Double, higherIsBetter: Bool, isTime: Bool) -> (Double?, String) {
            guard x > 0 else { return (nil, y > 0 ? (higherIsBetter ? "faster" : "slower") : "same") }
            let change = (y - x) / x * 100
            if abs(change) < thresholdPercent || (isTime && abs(y - x) < absoluteFloorMs) { return (change, "same") }
            let worse = higherIsBetter ? y < x : y > x
            return (change, worse ? "slower" : "faster")
        }
        func row(_ section: String, _ name: String, _ metric: String, _ x: Double, _ y: Double, higherIsBetter: Bool = false) -> Row {
            let (change, v) = verdict(x, y, higherIsBetter: higherIsBetter, isTime: metric.hasSuffix("_ms"))
            return Row(section: section, name: name, metric: metric, a: x, b: y, change_percent: change, verdict: v)
        }
        func latencyRows(_ section: String, _ name: String, _ x: LatencySummary, _ y: LatencySummary, metrics: [String]) -> [Row] {
            let values: [String: (LatencySummary) -> Double] = [
                "p50_ms": { $0.p50_ms }, "p90_ms": { $0.p90_ms }, "p99_ms": { $0.p99_ms }, "p999_ms": { $0.p999_ms },
                "max_ms": { $0.max_ms }, "mean_ms": { $0.mean_ms },
            ]
            return metrics.map { row(section, name, $0, values[$0]!(x), values[$0]!(y)) }
        }

        var overall: [Row] = [], configurations: [Row] = [], layers: [Row] = []
        let ha = a.headlineConfiguration, hb = b.headlineConfiguration
        if let ha, let hb {
            let name = ha.key == hb.key ? ha.key.short : "\(ha.key.short) -> \(hb.key.short)"
            if ha.key != hb.key { notes.append("the headline configurations differ: A \(ha.key), B \(hb.key)") }
            overall += latencyRows("overall", name, ha.latency, hb.latency, metrics: ["p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms"])
            overall.append(row("overall", name, "images_per_second", ha.images_per_second, hb.images_per_second, higherIsBetter: true))

            // Layers of the headline configurations, matched by label.
            let stepsA = Dictionary(ha.layers.steps.map { ($0.label, $0) }, uniquingKeysWith: { x, _ in x })
            let stepsB = Dictionary(hb.layers.steps.map { ($0.label, $0) }, uniquingKeysWith: { x, _ in x })
            var skipped = 0
            for s in ha.layers.steps {
                if let t = stepsB[s.label] {
                    if s.share < layerMinimumShare && t.share < layerMinimumShare { skipped += 1; continue }
                    layers.append(row("layer", s.label, "mean_ms", s.mean_ms, t.mean_ms))
                } else {
                    layers.append(Row(section: "layer", name: s.label, metric: "", a: s.mean_ms, b: nil, change_percent: nil, verdict: "only in A"))
                }
            }
            for t in hb.layers.steps where stepsA[t.label] == nil {
                layers.append(Row(section: "layer", name: t.label, metric: "", a: nil, b: t.mean_ms, change_percent: nil, verdict: "only in B"))
            }
            if skipped > 0 {
                notes.append(String(printf: "%d steps under %.1f %% of the total in both runs are not listed", skipped, layerMinimumShare * 100))
            }
        }
        if let pa = a.pipeline, let pb = b.pipeline {
            overall += latencyRows("overall", "camera to result", pa.camera_to_result, pb.camera_to_result, metrics: ["p50_ms", "p99_ms"])
        }

        let keysA = a.configurations.map(\.key), keysB = b.configurations.map(\.key)
        for key in keysA + keysB.filter({ !keysA.contains($0) }) {
            switch (a.configuration(key), b.configuration(key)) {
            case let (x?, y?):
                configurations += latencyRows("configuration", key.short, x.latency, y.latency, metrics: ["p50_ms", "p99_ms"])
                configurations.append(row("configuration", key.short, "images_per_second", x.images_per_second, y.images_per_second,
                                          higherIsBetter: true))
            case let (x?, nil):
                configurations.append(Row(section: "configuration", name: key.short, metric: "", a: x.latency.p50_ms, b: nil,
                                          change_percent: nil, verdict: "only in A"))
            case let (nil, y?):
                configurations.append(Row(section: "configuration", name: key.short, metric: "", a: nil, b: y.latency.p50_ms,
                                          change_percent: nil, verdict: "only in B"))
            default: break
            }
        }

        return ProbeComparison(threshold_percent: thresholdPercent, a: aName, b: bName, a_headline: a.headline.short,
                               b_headline: b.headline.short, notes: notes,
                               rows: sorted(overall) + sorted(configurations) + sorted(layers))
    }

    /// Changed rows by |change| descending, then unchanged ones by |change|, then one-sided rows in their order.
    static func sorted(_ rows: [Row]) -> [Row] {
        func rank(_ r: Row) -> Int { r.verdict == "slower" || r.verdict == "faster" ? 0 : (r.verdict == "same" ? 1 : 2) }
        return rows.enumerated().sorted { x, y in
            let (rx, ry) = (rank(x.element), rank(y.element))
            if rx != ry { return rx < ry }
            let (cx, cy) = (abs(x.element.change_percent ?? 0), abs(y.element.change_percent ?? 0))
            if cx != cy && rx < 2 { return cx > cy }
            return x.offset < y.offset
        }.map(\.element)
    }

    public var slower: [Row] { rows.filter { $0.verdict == "slower" } }
    public var faster: [Row] { rows.filter { $0.verdict == "faster" } }

    /// The comparison as aligned text tables, one per section.
    public func renderText() -> String {
        var out = "A: \(a) (headline \(a_headline))\nB: \(b) (headline \(b_headline))\n"
        out += String(printf: "noise threshold: changes under %.1f %% are \"same\"\n", threshold_percent)
        for n in notes { out += "note: \(n)\n" }
        for (section, title) in [("overall", "Overall (headline configurations)"), ("configuration", "Per configuration"),
                                 ("layer", "Per layer (headline configurations, mean ms)")] {
            let rs = rows.filter { $0.section == section }
            guard !rs.isEmpty else { continue }
            let width = min(48, max(12, rs.map(\.name.count).max() ?? 12))
            out += "\n\(title)\n"
            out += pad("name", width) + "  " + pad("metric", 17) + lpad("A", 12) + lpad("B", 12) + lpad("change", 10) + "  verdict\n"
            for r in rs {
                let name = r.name.count > width ? String(r.name.prefix(width - 1)) + "~" : r.name
                out += pad(name, width) + "  " + pad(r.metric, 17) + lpad(format(r.a), 12) + lpad(format(r.b), 12)
                    + lpad(r.change_percent.map { String(printf: "%+.1f%%", $0) } ?? "-", 10) + "  " + r.verdict + "\n"
            }
        }
        let s = slower.count, f = faster.count
        out += "\n\(s) slower, \(f) faster, \(rows.count - s - f) unchanged or one-sided\n"
        return out
    }

    private func format(_ x: Double?) -> String {
        guard let x else { return "-" }
        return abs(x) >= 100 ? String(printf: "%.1f", x) : (abs(x) >= 1 ? String(printf: "%.3f", x) : String(printf: "%.4f", x))
    }
    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    private func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
}
