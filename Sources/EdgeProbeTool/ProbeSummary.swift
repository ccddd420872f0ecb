import EdgeProbe
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// The probe's terminal summary: what the JSON and the report hold, in a screenful.
public enum ProbeSummary {
    public static func text(_ r: ProbeResult) -> String {
        var o = "\(r.model.path)\(r.model.sha256.map { " (sha256 \($0.prefix(12)))" } ?? ""): \(r.model.precision_summary)\n"
        o += "machine: \(r.machine.cpu_model ?? "unknown CPU"), \(r.machine.cores) cores, \(r.machine.architecture)"
        o += "; board: " + (r.board.map { "\($0.name) (\($0.reason))" } ?? "none")
        if let l = r.machine.load_average { o += String(printf: "; load average %.2f at start", l[0]) }
        o += "\n"
        o += String(printf: "model load %.3f s, first session %.3f s; peak RSS %@ (VmHWM %@); arena up to %@ + %@ scratch\n",
                    r.model.load_seconds, r.model.session_seconds, bytes(r.memory.process.max_rss_bytes),
                    (r.memory.process.vm_hwm_bytes.map(bytes) ?? "not readable"),
                    bytes(r.memory.arena_bytes_max), bytes(r.memory.scratch_bytes_max))

        o += "\nbatch threads   runs    p50 ms     p90     p99   p99.9     max   mean +- sd      ms/img   img/s  speed-up  eff.  clock / temperature\n"
        for c in r.configurations {
            let l = c.latency
            var cond: [String] = []
            if let f = c.conditions.cpu_mhz { cond.append(String(printf: "%.0f-%.0f MHz", f.min, f.max)) }
            if let t = c.conditions.temperature_c { cond.append(String(printf: "%.1f-%.1f C", t.min, t.max)) }
            var condText = cond.isEmpty ? "not readable" : cond.joined(separator: ", ")
            if c.conditions.throttled == true { condText += "  THROTTLED (\(c.conditions.throttle_flags.joined(separator: ", ")))" }
            o += String(printf: "%5d %7d %6d  ", c.batch, c.threads, l.count)
                + lpad(ms(l.p50_ms), 8) + [l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms].map { lpad(ms($0), 8) }.joined()
                + "  " + pad(ms(l.mean_ms) + " +- " + ms(l.stddev_ms), 16) + lpad(ms(c.per_image_ms), 10)
                + String(printf: " %7.1f  %7.2fx %4.0f%%  ", c.images_per_second, c.speedup, c.efficiency * 100)
            o += condText + (c.key == r.headline ? "  <- headline" : "") + "\n"
        }

        if let c = r.headlineConfiguration {
            let l = c.layers
            o += String(printf: "\nper layer, %@ (mean of %d profiled runs; steps add up to %.3f of %.3f ms; conversions %.3f ms):\n",
                        c.key.short, l.runs, l.steps_sum_ms, l.wall_mean_ms, l.conversion_ms)
            for s in l.steps.sorted(by: { $0.mean_ms > $1.mean_ms }).prefix(10) {
                let rate = s.gmac_per_second.map { String(printf: "%6.1f GMAC/s", $0) } ?? ""
                o += "  " + pad(s.label, 36) + " " + pad(s.kernel, 44) + lpad(ms(s.mean_ms), 10) + String(printf: " ms %5.1f%%  ", s.share * 100)
                    + rate + (s.requantization == "fused" ? "  requant fused" : "") + "\n"
            }
            if l.steps.count > 10 { o += "  ... \(l.steps.count - 10) more steps in the JSON and the report\n" }
            o += "  requantization: \(l.requantization)\n"
        }

        if let p = r.pipeline {
            o += String(printf: "\npipeline, %@ (%@), %d thread(s)%@: %d frames after %d warm-up, %.1f results/s, %d dropped\n",
                        p.source, p.format, p.threads, (p.int8_input ? ", int8 input" : ""),
                        p.frames, p.warmup_frames, p.results_per_second, p.dropped)
            if let device = p.device {
                o += "  camera \(device): \(p.driver_dropped ?? 0) frames skipped by the driver, \(p.corrupt_frames ?? 0) corrupt\n"
            }
            o += "  stage                 p50 ms     p90     p99   p99.9     max    mean\n"
            for name in ProbeResult.Pipeline.stageNames + ["camera_to_result"] {
                guard let s = name == "camera_to_result" ? p.camera_to_result : p.stages[name] else { continue }
                o += "  " + pad(name, 18) + [s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms, s.mean_ms].map { lpad(ms($0), 8) }.joined() + "\n"
            }
        }

        let tl = r.timeline
        o += "\nsensors (\(tl.origin)), \(tl.samples.count) samples every \(Int(tl.interval_seconds * 1000)) ms: "
        var parts: [String] = []
        let mhz = tl.samples.compactMap(\.meanMHz), temps = tl.samples.compactMap(\.maxTemperature)
        parts.append(mhz.isEmpty ? "cpu frequency not readable" : String(printf: "clock %.0f-%.0f MHz", mhz.min()!, mhz.max()!))
        parts.append(temps.isEmpty ? "temperature not readable" : String(printf: "temperature %.1f-%.1f C", temps.min()!, temps.max()!))
        switch tl.throttled {
        case true?: parts.append("THROTTLED (\(tl.throttle_flags.joined(separator: ", ")))")
        case false?: parts.append("not throttled")
        case nil: parts.append("throttling not readable")
        }
        o += parts.joined(separator: ", ") + "\n"
        for n in tl.notes { o += "  \(n)\n" }
        if !r.warnings.isEmpty {
            o += "\nwarnings:\n"
            for w in r.warnings { o += "  - \(w)\n" }
        }
        return o
    }

    public static func seconds(_ s: Double) -> String {
        if s < 1 { return String(printf: "%.0fms", s * 1000) }
        return s == s.rounded() ? "\(Int(s))s" : String(printf: "%.1fs", s)
    }

    static func ms(_ v: Double) -> String { ProbeReport.ms(v) }
    static func bytes(_ n: Int) -> String { ProbeReport.bytes(n) }
    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    static func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
}
