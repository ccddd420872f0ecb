import EdgeProbe
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import EdgeSupport

/// The report a person reads: one self-contained HTML file (inline CSS and SVG; no script, no external asset) with
/// the configuration table, the latency histogram, the per-layer bars, the frequency/temperature timeline, the
/// thread-scaling chart, the pipeline stages, memory and the warnings (a throttled run says so next to its figures).
///
/// Each chart is an `<svg>` with a fixed id: `chart-latency-histogram`, `chart-layers`, `chart-timeline`,
/// `chart-thread-scaling` (and `chart-camera-histogram` with a pipeline).
public enum ProbeReport {
    public static let chartIDs = ["chart-latency-histogram", "chart-layers", "chart-timeline", "chart-thread-scaling"]

    public static func html(_ r: ProbeResult) -> String {
        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <title>resnet-edge probe: \(esc(fileName(r.model.path)))</title>
        <style>
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
        h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
        table{border-collapse:collapse;margin:6px 0 10px;font-variant-numeric:tabular-nums}
        th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap} th{background:#f5f5f5}
        td.l,th.l{text-align:left} .muted{color:#777} .warn{background:#fff4e0;border-left:4px solid #e69500;padding:6px 10px;margin:4px 0}
        .hot{background:#ffe5e5;border-left:4px solid #d11;padding:6px 10px;margin:4px 0} .tag{color:#fff;background:#d11;border-radius:3px;padding:0 5px;font-size:12px}
        .facts td{text-align:left} .facts td:first-child{color:#666;padding-right:16px}
        svg{background:#fff;border:1px solid #e4e4e4;margin:4px 0} svg text{font:11px system-ui,sans-serif;fill:#333}
        .note{color:#555;font-size:13px}
        </style></head><body>
        <h1>Latency probe: \(esc(fileName(r.model.path)))</h1>
        <div class="muted">\(esc(r.created)) &middot; \(esc(r.machine.hostname)) &middot; resnet-edge \(esc(r.tool.version)) &middot; schema \(esc(r.schema)) v\(r.schema_version)</div>

        """
        for w in r.warnings {
            h += "<div class=\"\(w.contains("THROTTLED") ? "hot" : "warn")\">\(esc(w))</div>\n"
        }
        h += facts(r)
        h += configurationTable(r)

        h += "<h2>Latency distribution (\(esc(r.headline.description)))</h2>\n"
        if let c = r.headlineConfiguration {
            h += "<p class=\"note\">\(c.latency.count) timed runs after \(c.warmup.runs) warm-up runs"
                + (c.warmup.first_ms.map { String(printf: " (first run %.3f ms)", $0) } ?? "")
                + ". Bars: runs per latency range (HDR histogram, 3 significant digits); lines: percentiles."
                + (c.conditions.throttled == true ? " <span class=\"tag\">THROTTLED</span>" : "") + "</p>\n"
            h += histogramSVG(id: "chart-latency-histogram", buckets: c.histogram, summary: c.latency, title: "latency per run (ms)")
        } else {
            h += emptySVG(id: "chart-latency-histogram", "no headline configuration")
        }

        if let p = r.pipeline { h += pipelineSection(p) }

        h += "<h2>Per layer (\(esc(r.headline.description)))</h2>\n"
        if let c = r.headlineConfiguration {
            let l = c.layers
            h += String(printf: "<p class=\"note\">Mean of %d profiled runs: steps add up to %.3f ms of a %.3f ms run (%.3f ms between steps). "
                        + "Kernels %.3f ms, INT8/FP32 conversions %.3f ms. Requantization: %@.</p>\n",
                        l.runs, l.steps_sum_ms, l.wall_mean_ms, l.unaccounted_ms, l.kernel_ms, l.conversion_ms, esc(l.requantization))
            h += layersSVG(l)
            h += slowestTable(l)
        } else {
            h += emptySVG(id: "chart-layers", "no headline configuration")
        }

        h += "<h2>CPU frequency and temperature over the run</h2>\n"
        h += timelineNotes(r)
        h += timelineSVG(r)

        h += "<h2>Thread scaling</h2>\n"
        h += "<p class=\"note\">Speed-up of the median latency over \(r.configurations.first?.speedup_base_threads ?? 1) thread(s) at the same batch; "
            + "dashed: ideal (linear). Efficiency = speed-up / thread ratio.</p>\n"
        h += scalingSVG(r)

        h += memorySection(r)
        h += "<h2>Run</h2>\n<p class=\"note\"><code>\(esc(r.tool.command.joined(separator: " ")))</code></p>\n"
        h += "</body></html>\n"
        return h
    }

    // MARK: - Sections

    static func facts(_ r: ProbeResult) -> String {
        var rows: [(String, String)] = []
        rows.append(("model", "\(r.model.path) (\(r.model.format), \(r.model.input_shape.map(String.init).joined(separator: "x")) input, \(r.model.classes) classes, \(String(printf: "%.3f", Double(r.model.macs_per_image) / 1e9)) GMAC/image)"))
        rows.append(("precision", r.model.precision_summary))
        rows.append(("machine", "\(r.machine.cpu_model ?? "unknown CPU"), \(r.machine.cores) cores, \(r.machine.architecture), \(r.machine.kernel)"
                     + (r.machine.load_average.map { String(printf: "; load average %.2f %.2f %.2f at start", $0[0], $0[1], $0[2]) } ?? "")))
        rows.append(("board", r.board.map { "\($0.name): \($0.description) (\($0.reason))" } ?? "none (no board profile matches this machine)"))
        rows.append(("settings", "threads \(r.settings.threads.map(String.init).joined(separator: ",")), batch \(r.settings.batches.map(String.init).joined(separator: ",")), "
                     + String(printf: "%.1f s budget, %d warm-up runs, >= %d runs per configuration, sampling every %.0f ms",
                              r.settings.duration_seconds, r.settings.warmup_runs, r.settings.min_runs, r.settings.sample_interval_seconds * 1000)))
        var t = "<table class=\"facts\">"
        for (k, v) in rows { t += "<tr><td>\(esc(k))</td><td>\(esc(v))</td></tr>" }
        return t + "</table>\n"
    }

    static func configurationTable(_ r: ProbeResult) -> String {
        var t = "<h2>Configurations</h2>\n<table><tr><th>batch</th><th>threads</th><th>runs</th><th>p50 ms</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th>"
            + "<th>mean &plusmn; sd</th><th>ms/image</th><th>images/s</th><th>speed-up</th><th>efficiency</th><th>arena</th><th class=\"l\">clock / temperature</th></tr>\n"
        for c in r.configurations {
            let l = c.latency
            let bold = c.key == r.headline ? " style=\"font-weight:600\"" : ""
            var cond = [String]()
            if let f = c.conditions.cpu_mhz { cond.append(String(printf: "%.0f-%.0f MHz", f.min, f.max)) }
            if let tc = c.conditions.temperature_c { cond.append(String(printf: "%.1f-%.1f &deg;C", tc.min, tc.max)) }
            var condText = cond.isEmpty ? "<span class=\"muted\">not readable</span>" : cond.joined(separator: ", ")
            if c.conditions.throttled == true {
                condText += " <span class=\"tag\">THROTTLED</span> " + esc(c.conditions.throttle_flags.joined(separator: ", "))
            }
            t += "<tr\(bold)><td>\(c.batch)</td><td>\(c.threads)</td><td>\(l.count)</td>" + [l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms].map { "<td>\(ms($0))</td>" }.joined()
                + "<td>\(ms(l.mean_ms)) &plusmn; \(ms(l.stddev_ms))</td><td>\(ms(c.per_image_ms))</td><td>\(String(printf: "%.1f", c.images_per_second))</td>"
                + String(printf: "<td>%.2fx</td><td>%.0f %%</td>", c.speedup, c.efficiency * 100)
                + "<td>\(bytes(c.arena_bytes))</td><td class=\"l\">\(condText)</td></tr>\n"
        }
        return t + "</table>\n"
    }

    static func pipelineSection(_ p: ProbeResult.Pipeline) -> String {
        var h = "<h2>Pipeline: \(esc(p.source)) (\(esc(p.kind)))</h2>\n"
        h += String(printf: "<p class=\"note\">%@, %d thread(s), %@. %d frames measured after %d warm-up frames in %.1f s (%.1f results/s); "
                    + "%d captured, %d replaced before use, %d reopens.%@</p>\n",
                    esc(p.format), p.threads, (p.int8_input ? "preprocessing writes the int8 input directly" : "float input"),
                    p.frames, p.warmup_frames, p.elapsed_seconds, p.results_per_second, p.captured, p.dropped, p.reopens,
                    (p.conditions.throttled == true ? " <span class=\"tag\">THROTTLED</span>" : ""))
        if let device = p.device {
            h += "<p class=\"note\">Camera \(esc(device)): \(p.driver_dropped ?? 0) frames skipped by the driver, \(p.corrupt_frames ?? 0) discarded as corrupt.</p>\n"
        }
        h += "<table><tr><th class=\"l\">stage</th><th>p50 ms</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>mean</th></tr>\n"
        for name in ProbeResult.Pipeline.stageNames + ["camera_to_result"] {
            guard let s = name == "camera_to_result" ? p.camera_to_result : p.stages[name] else { continue }
            h += "<tr><td class=\"l\">\(name.replacingAll("_", with: " "))</td>"
                + [s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms, s.mean_ms].map { "<td>\(ms($0))</td>" }.joined() + "</tr>\n"
        }
        h += "</table>\n"
        h += histogramSVG(id: "chart-camera-histogram", buckets: p.camera_to_result_histogram, summary: p.camera_to_result,
                          title: "camera-to-result latency (ms)")
        return h
    }

    static func slowestTable(_ l: ProbeResult.LayerProfile) -> String {
        let top = l.steps.sorted { $0.mean_ms > $1.mean_ms }.prefix(10)
        var t = "<table><tr><th class=\"l\">slowest steps</th><th class=\"l\">kernel</th><th>mean ms</th><th>share</th><th>GMAC/s</th><th class=\"l\">requantization</th></tr>\n"
        for s in top {
            t += "<tr><td class=\"l\">\(esc(s.label))</td><td class=\"l\">\(esc(s.kernel))</td><td>\(ms(s.mean_ms))</td>"
                + String(printf: "<td>%.1f %%</td>", s.share * 100) + "<td>\(s.gmac_per_second.map { String(printf: "%.1f", $0) } ?? "")</td>"
                + "<td class=\"l\">\(esc(s.requantization))</td></tr>\n"
        }
        return t + "</table>\n"
    }

    static func timelineNotes(_ r: ProbeResult) -> String {
        let tl = r.timeline
        var parts: [String] = []
        parts.append("sensors: \(tl.origin)")
        if !tl.readable.frequency { parts.append("cpu frequency: not readable") }
        if !tl.readable.temperature { parts.append("temperature: not readable") }
        if !tl.readable.throttling { parts.append("throttling: not readable") }
        var h = "<p class=\"note\">\(esc(parts.joined(separator: "; "))). \(tl.samples.count) samples every \(Int(tl.interval_seconds * 1000)) ms.</p>\n"
        for n in tl.notes { h += "<div class=\"note\">&bull; \(esc(n))</div>\n" }
        if tl.throttled == true {
            h += "<div class=\"hot\">The board throttled during the run: \(esc(tl.throttle_flags.joined(separator: ", ")))</div>\n"
        }
        return h
    }

    static func memorySection(_ r: ProbeResult) -> String {
        let m = r.memory
        var t = "<h2>Memory and load time</h2>\n<table class=\"facts\">"
        t += "<tr><td>peak resident (getrusage ru_maxrss)</td><td>\(bytes(m.process.max_rss_bytes))</td></tr>"
        t += "<tr><td>peak resident (VmHWM)</td><td>\(m.process.vm_hwm_bytes.map(bytes) ?? "not readable")</td></tr>"
        t += "<tr><td>resident at the end (VmRSS)</td><td>\(m.process.vm_rss_bytes.map(bytes) ?? "not readable")</td></tr>"
        t += "<tr><td>activation arena (largest configuration)</td><td>\(bytes(m.arena_bytes_max)) + \(bytes(m.scratch_bytes_max)) scratch</td></tr>"
        t += "<tr><td>model file</td><td>\(r.model.file_bytes.map(bytes) ?? "?")</td></tr>"
        t += String(printf: "<tr><td>model load</td><td>%.3f s (+ %.3f s to create the first session)</td></tr>", r.model.load_seconds, r.model.session_seconds)
        return t + "</table>\n"
    }

    // MARK: - Charts

    static func histogramSVG(id: String, buckets: [LatencyBucket], summary: LatencySummary, title: String) -> String {
        let w = 1000.0, hgt = 300.0, left = 60.0, right = 20.0, top = 24.0, bottom = 44.0
        let pw = w - left - right, ph = hgt - top - bottom
        var s = svgOpen(id: id, w, hgt, label: title)
        guard !buckets.isEmpty, let lo = buckets.first?.lower_ms, let hi = buckets.last?.upper_ms, hi > lo else {
            return s + text(w / 2, hgt / 2, "no values", anchor: "middle") + "</svg>\n"
        }
        let logarithmic = buckets.count > 2 && abs((buckets[1].upper_ms - buckets[1].lower_ms) - (buckets[0].upper_ms - buckets[0].lower_ms))
            > 1e-9 * max(1, buckets[0].upper_ms)
        func x(_ v: Double) -> Double {
            let f = logarithmic && lo > 0 ? log(max(v, lo) / lo) / log(hi / lo) : (v - lo) / (hi - lo)
            return left + min(max(f, 0), 1) * pw
        }
        let maxCount = Double(buckets.map(\.count).max() ?? 1)
        s += text(left, 14, title + (logarithmic ? " (log scale)" : ""))
        for b in buckets where b.count > 0 {
            let x0 = x(b.lower_ms), x1 = x(b.upper_ms)
            let bh = Double(b.count) / maxCount * ph
            s += rect(x0, top + ph - bh, max(1, x1 - x0 - 1), bh, fill: "#4a7fc1", title: "\(ms(b.lower_ms))-\(ms(b.upper_ms)) ms: \(b.count) runs")
        }
        s += axes(left, top, pw, ph)
        for i in 0...5 {
            let f = Double(i) / 5
            let v = logarithmic && lo > 0 ? lo * pow(hi / lo, f) : lo + (hi - lo) * f
            s += text(x(v), top + ph + 16, ms(v), anchor: "middle")
        }
        s += text(left - 6, top + 8, "\(Int(maxCount))", anchor: "end") + text(left - 6, top + ph, "0", anchor: "end")
        s += text(14, top + ph / 2, "runs", anchor: "middle", rotate: true)
        let colors = ["#2a9d2a", "#c9a000", "#e07000", "#d11", "#700"]
        var legendX = w - right
        for (i, p) in summary.percentiles.enumerated().reversed() {
            let px = x(p.ms)
            s += "<line x1=\"\(f1(px))\" y1=\"\(f1(top))\" x2=\"\(f1(px))\" y2=\"\(f1(top + ph))\" stroke=\"\(colors[i])\" stroke-width=\"1.5\" "
                + "stroke-dasharray=\"4 3\"><title>\(p.name) \(ms(p.ms)) ms</title></line>"
            // The percentiles as a legend along the top (they often coincide on the axis).
            let label = "\(p.name) \(ms(p.ms))"
            s += text(legendX, 14, label, anchor: "end", fill: colors[i])
            legendX -= Double(label.count) * 6.4 + 14
        }
        return s + "</svg>\n"
    }

    static func layersSVG(_ l: ProbeResult.LayerProfile) -> String {
        let rowH = 15.0, left = 300.0, right = 150.0, top = 24.0, w = 1000.0
        let hgt = top + rowH * Double(max(l.steps.count, 1)) + 30
        var s = svgOpen(id: "chart-layers", w, hgt, label: "per-layer time")
        s += text(8, 14, "mean ms per step, in execution order")
        s += legend(x: 560, y: 14, [("#4a7fc1", "INT8 kernel"), ("#e0902a", "FP32 kernel"), ("#c23b3b", "INT8/FP32 conversion")])
        let maxMs = l.steps.map(\.mean_ms).max() ?? 1
        let pw = w - left - right
        for (i, st) in l.steps.enumerated() {
            let y = top + Double(i) * rowH
            let color = st.kind != "kernel" ? "#c23b3b" : (st.precision == "int8" ? "#4a7fc1" : "#e0902a")
            let bw = maxMs > 0 ? st.mean_ms / maxMs * pw : 0
            // The end of a node name says what it is ("downsample.0/Conv"); keep that, drop the start.
            let name = st.label.count > 42 ? "\u{2026}" + String(st.label.suffix(41)) : st.label
            s += text(left - 6, y + 11, name, anchor: "end")
            s += rect(left, y + 2, max(0.5, bw), rowH - 4, fill: color,
                      title: "\(st.label): \(st.kernel), \(ms(st.mean_ms)) ms (\(String(printf: "%.1f", st.share * 100)) %), requantization \(st.requantization)")
            s += text(left + bw + 4, y + 11, "\(ms(st.mean_ms)) ms  \(String(printf: "%.1f", st.share * 100)) %")
        }
        return s + "</svg>\n"
    }

    static func timelineSVG(_ r: ProbeResult) -> String {
        let tl = r.timeline
        let w = 1000.0, hgt = 380.0, left = 60.0, right = 60.0, top = 24.0
        let upperH = 200.0, gap = 40.0, lowerH = 80.0
        let pw = w - left - right
        var s = svgOpen(id: "chart-timeline", w, hgt, label: "CPU frequency and temperature over time")
        let samples = tl.samples
        let tEnd = max(samples.last?.t ?? 1, tl.phases.last?.end_s ?? 1, 1e-3)
        func x(_ t: Double) -> Double { left + min(max(t / tEnd, 0), 1) * pw }
        // Phases.
        for (i, p) in tl.phases.enumerated() {
            let x0 = x(p.start_s), x1 = x(p.end_s)
            s += rect(x0, top, max(0.5, x1 - x0), upperH + gap + lowerH, fill: i % 2 == 0 ? "#f3f6fb" : "#fbf8f1", title: p.name)
            if x1 - x0 > 28 { s += text((x0 + x1) / 2, top + upperH + 14, p.name, anchor: "middle", fill: "#666") }
        }
        s += axes(left, top, pw, upperH)
        s += axes(left, top + upperH + gap, pw, lowerH)
        // Clock (left axis) and temperature (right axis).
        let mhz = samples.map { ($0.t, $0.meanMHz) }.compactMap { t, v in v.map { (t, $0) } }
        let temp = samples.map { ($0.t, $0.maxTemperature) }.compactMap { t, v in v.map { (t, $0) } }
        if mhz.isEmpty {
            s += text(left + 8, top + 16, "cpu frequency: not readable", fill: "#1f5fa8")
        } else {
            let maxMHz = max(mhz.map(\.1).max()!, tl.cpufreq_max_mhz.compactMap { $0 }.max() ?? 0) * 1.05
            s += polyline(mhz.map { (x($0.0), top + upperH - $0.1 / maxMHz * upperH) }, color: "#1f5fa8")
            s += text(left - 6, top + 8, String(printf: "%.0f MHz", maxMHz), anchor: "end", fill: "#1f5fa8")
            s += text(left - 6, top + upperH, "0", anchor: "end", fill: "#1f5fa8")
            s += text(left + 8, top + 16, String(printf: "clock (mean of %d), %.0f-%.0f MHz", tl.cpufreq.count, mhz.map(\.1).min()!, mhz.map(\.1).max()!), fill: "#1f5fa8")
        }
        if temp.isEmpty {
            s += text(w - right - 8, top + 16, "temperature: not readable", anchor: "end", fill: "#c23b3b")
        } else {
            let lo = min(temp.map(\.1).min()! - 5, 30), hi = max(temp.map(\.1).max()! + 5, 60)
            s += polyline(temp.map { (x($0.0), top + upperH - ($0.1 - lo) / (hi - lo) * upperH) }, color: "#c23b3b")
            s += text(w - right + 6, top + 8, String(printf: "%.0f &#176;C", hi), fill: "#c23b3b")
            s += text(w - right + 6, top + upperH, String(printf: "%.0f &#176;C", lo), fill: "#c23b3b")
            s += text(w - right - 8, top + 16, String(printf: "temperature (hottest sensor), %.1f-%.1f &#176;C", temp.map(\.1).min()!, temp.map(\.1).max()!),
                      anchor: "end", fill: "#c23b3b")
        }
        // Throttled samples.
        for smp in samples where smp.throttled == true {
            s += rect(x(smp.t) - 1, top + upperH - 6, 2, 6, fill: "#d11", title: "throttled at \(String(printf: "%.1f", smp.t)) s")
        }
        if !tl.readable.throttling { s += text(left + 8, top + upperH - 8, "throttling: not readable", fill: "#999") }
        // Throughput between consecutive samples (images per second).
        var rate: [(Double, Double)] = []
        for (a, b) in zip(samples, samples.dropFirst()) where b.t - a.t > 1e-3 {
            rate.append(((a.t + b.t) / 2, Double(b.inferences - a.inferences) / (b.t - a.t)))
        }
        let ly = top + upperH + gap
        s += text(left + 8, ly - 6, "images per second (between samples)", fill: "#2a7d2a")
        if let maxRate = rate.map(\.1).max(), maxRate > 0 {
            s += polyline(rate.map { (x($0.0), ly + lowerH - $0.1 / maxRate * lowerH) }, color: "#2a7d2a")
            s += text(left - 6, ly + 8, String(printf: "%.0f", maxRate), anchor: "end", fill: "#2a7d2a")
        }
        s += text(left - 6, ly + lowerH, "0", anchor: "end", fill: "#2a7d2a")
        for i in 0...5 {
            let t = tEnd * Double(i) / 5
            s += text(x(t), ly + lowerH + 16, String(printf: "%.1f s", t), anchor: "middle")
        }
        return s + "</svg>\n"
    }

    static func scalingSVG(_ r: ProbeResult) -> String {
        let w = 760.0, hgt = 340.0, left = 60.0, right = 200.0, top = 24.0, bottom = 44.0
        let pw = w - left - right, ph = hgt - top - bottom
        var s = svgOpen(id: "chart-thread-scaling", w, hgt, label: "thread scaling")
        let threads = r.settings.threads.sorted()
        let base = Double(threads.first ?? 1)
        let maxT = Double(threads.last ?? 1)
        let ideal = maxT / base
        let maxSpeedup = max(ideal, r.configurations.map(\.speedup).max() ?? 1) * 1.1
        func x(_ t: Double) -> Double { maxT > base ? left + (t - base) / (maxT - base) * pw : left + pw / 2 }
        func y(_ v: Double) -> Double { top + ph - v / maxSpeedup * ph }
        s += axes(left, top, pw, ph)
        s += text(left, 14, "speed-up over \(Int(base)) thread\(base == 1 ? "" : "s") (median latency), per batch")
        s += "<line x1=\"\(f1(x(base)))\" y1=\"\(f1(y(1)))\" x2=\"\(f1(x(maxT)))\" y2=\"\(f1(y(ideal)))\" stroke=\"#999\" stroke-dasharray=\"5 4\"/>"
        s += text(x(maxT) + 8, y(ideal) + 4, String(printf: "ideal %.0fx", ideal), fill: "#999")
        let colors = ["#1f5fa8", "#e07000", "#2a7d2a", "#8e44ad", "#c23b3b", "#555"]
        for (i, batch) in r.settings.batches.enumerated() {
            let points = r.configurations.filter { $0.batch == batch }.sorted { $0.threads < $1.threads }
            let color = colors[i % colors.count]
            let pts = points.map { (x(Double($0.threads)), y($0.speedup)) }
            s += polyline(pts, color: color)
            for (c, p) in zip(points, pts) {
                s += "<circle cx=\"\(f1(p.0))\" cy=\"\(f1(p.1))\" r=\"4\" fill=\"\(color)\"><title>batch \(c.batch), \(c.threads) threads: "
                    + String(printf: "%.2fx, efficiency %.0f %%", c.speedup, c.efficiency * 100) + "</title></circle>"
                // Points between the ends are labelled in place, staggered per batch; the batches' lines meet at the
                // ends, so those figures go in the legend instead of on top of each other.
                if c.threads != points.first?.threads && c.threads != points.last?.threads {
                    s += text(p.0 + 6, p.1 + (i % 2 == 0 ? -8 : 16), String(printf: "%.2fx (%.0f%%)", c.speedup, c.efficiency * 100), fill: color)
                }
            }
            let last = points.last.map { String(printf: ": %.2fx (%.0f%%) at %d", $0.speedup, $0.efficiency * 100, $0.threads) } ?? ""
            s += text(w - right + 8, top + 60 + Double(i) * 16, "batch \(batch)\(last)", fill: color)
        }
        for t in threads { s += text(x(Double(t)), top + ph + 16, "\(t)", anchor: "middle") }
        s += text(left + pw / 2, top + ph + 34, "threads", anchor: "middle")
        for i in 0...4 {
            let v = maxSpeedup * Double(i) / 4
            s += text(left - 6, y(v) + 4, String(printf: "%.1fx", v), anchor: "end")
        }
        return s + "</svg>\n"
    }

    // MARK: - SVG helpers

    static func svgOpen(id: String, _ w: Double, _ h: Double, label: String) -> String {
        "<svg id=\"\(id)\" class=\"chart\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"\(esc(label))\">"
    }

    static func emptySVG(id: String, _ message: String) -> String {
        svgOpen(id: id, 600, 60, label: message) + text(300, 34, message, anchor: "middle") + "</svg>\n"
    }

    static func axes(_ x: Double, _ y: Double, _ w: Double, _ h: Double) -> String {
        "<path d=\"M\(f1(x)) \(f1(y))V\(f1(y + h))H\(f1(x + w))\" fill=\"none\" stroke=\"#888\"/>"
    }

    static func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, title: String? = nil) -> String {
        let head = "<rect x=\"\(f1(x))\" y=\"\(f1(y))\" width=\"\(f1(max(0, w)))\" height=\"\(f1(max(0, h)))\" fill=\"\(fill)\""
        guard let title else { return head + "/>" }
        return head + "><title>\(esc(title))</title></rect>"
    }

    static func polyline(_ points: [(Double, Double)], color: String) -> String {
        guard !points.isEmpty else { return "" }
        let p = points.map { "\(f1($0.0)),\(f1($0.1))" }.joined(separator: " ")
        return "<polyline points=\"\(p)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\"/>"
    }

    static func text(_ x: Double, _ y: Double, _ s: String, anchor: String = "start", fill: String? = nil, rotate: Bool = false) -> String {
        var attributes = "x=\"\(f1(x))\" y=\"\(f1(y))\""
        if anchor != "start" { attributes += " text-anchor=\"\(anchor)\"" }
        if let fill { attributes += " style=\"fill:\(fill)\"" }
        if rotate { attributes += " transform=\"rotate(-90 \(f1(x)) \(f1(y)))\"" }
        // Callers pass entity references (&#176;) on purpose; everything else is escaped.
        return "<text \(attributes)>\(escKeepingEntities(s))</text>"
    }

    static func legend(x: Double, y: Double, _ items: [(String, String)]) -> String {
        var s = "", dx = x
        for (color, name) in items {
            s += rect(dx, y - 9, 10, 10, fill: color) + text(dx + 14, y, name)
            dx += 24 + Double(name.count) * 6.5
        }
        return s
    }

    // MARK: - Formatting

    static func f1(_ v: Double) -> String { v.isFinite ? String(printf: "%.1f", v) : "0" }

    static func ms(_ v: Double) -> String {
        if v >= 100 { return String(printf: "%.1f", v) }
        if v >= 10 { return String(printf: "%.2f", v) }
        if v >= 1 { return String(printf: "%.3f", v) }
        return String(printf: "%.4f", v)
    }

    static func bytes(_ n: Int) -> String {
        let d = Double(n)
        if n >= 1 << 30 { return String(printf: "%.2f GiB", d / Double(1 << 30)) }
        if n >= 1 << 20 { return String(printf: "%.1f MiB", d / Double(1 << 20)) }
        if n >= 1 << 10 { return String(printf: "%.1f KiB", d / Double(1 << 10)) }
        return "\(n) B"
    }

    static func fileName(_ path: String) -> String { path.lastPathComponent }

    static func esc(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Escapes like `esc` but leaves numeric character references (&#176;) as they are.
    static func escKeepingEntities(_ s: String) -> String {
        let parts = s.components(separatedBy: "&#")
        guard parts.count > 1 else { return esc(s) }
        var out = esc(parts[0])
        for part in parts.dropFirst() {
            if let semi = part.firstIndex(of: ";"), part[..<semi].allSatisfy(\.isNumber), !part[..<semi].isEmpty {
                out += "&#" + part[...semi] + esc(String(part[part.index(after: semi)...]))
            } else {
                out += esc("&#" + part)
            }
        }
        return out
    }
}
