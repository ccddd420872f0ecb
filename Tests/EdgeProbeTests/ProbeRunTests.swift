import EdgeBoards
import EdgeCapture
import EdgeModel
import EdgeProbe
import EdgeProbeTool
import EdgeRuntime
import Foundation
import Testing
import TestSupport

/// Loads each model once for the whole suite (the reference ONNX is 45 MB).
final class ModelCache: @unchecked Sendable {
    static let shared = ModelCache()
    private let lock = NSLock()
    private var models: [String: (ClassificationModel, Double)] = [:]

    func load(_ path: String) throws -> (model: ClassificationModel, seconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        if let m = models[path] { return m }
        let t = probeClock()
        let model = try ClassificationModel.load(path: path)
        let entry = (model, probeClock() - t)
        models[path] = entry
        return entry
    }
}

enum ProbeFixtures {
    static let reference = TestPaths.referenceModels.appendingPathComponent("resnet18-fashion-mnist.onnx").path
    static let referenceINT8 = TestPaths.fixtures.appendingPathComponent("models/reference-qdq-u8.onnx").path

    /// Tiny budgets: the figures are not asserted, only their consistency (and under qemu everything is 10-30x slower).
    static func settings(threads: [Int], batches: [Int]) -> ProbeSettings {
        var s = ProbeSettings(threads: threads, batches: batches, duration: TestSubset.isActive ? 0.05 : 0.6)
        s.warmupRuns = TestSubset.isActive ? 1 : 3
        s.minRuns = TestSubset.isActive ? 2 : 5
        s.minLayerRuns = 2
        s.sampleInterval = 0.05
        s.pipelineWarmupFrames = 2
        return s
    }

    static func run(_ path: String, threads: [Int], batches: [Int], sensors: SystemSensors? = nil, board: BoardProfile? = nil,
                    configure: (inout ProbeSettings) -> Void = { _ in }) throws -> ProbeResult {
        let (model, seconds) = try ModelCache.shared.load(path)
        var settings = settings(threads: threads, batches: batches)
        configure(&settings)
        let inputs = ProbeInputs(model: model, loadSeconds: seconds, board: board, boardReason: board.map { "test: \($0.name)" },
                                 sensors: sensors ?? SystemSensors.discover(profile: board), command: ["resnet-edge", "probe", "(test)"])
        return try ProbeRunner(inputs: inputs, settings: settings).run()
    }
}

/// The suites that run the probe, one test at a time (each run measures; running them side by side on a small machine
/// would only make them slower).
@Suite(.serialized) struct ProbeSuites {}

extension ProbeSuites {
    /// The probe on the reference model: the schema and the consistency of the numbers, not the numbers.
    @Suite struct ProbeRunTests {
        @Test func sweepCoversExactlyWhatWasAskedAndAddsUp() throws {
            let r = try ProbeFixtures.run(ProbeFixtures.reference, threads: [2, 1], batches: [1, 2])
            #expect(r.consistencyProblems().isEmpty, "\(r.consistencyProblems())")
            #expect(r.schema == "resnet-edge-probe" && r.schema_version == 1)
            #expect(r.configurations.map(\.key.short) == ["b1 t2", "b1 t1", "b2 t2", "b2 t1"])
            #expect(r.headline == .init(batch: 1, threads: 2))
            for c in r.configurations {
                let l = c.latency
                #expect(l.min_ms <= l.p50_ms && l.p50_ms <= l.p90_ms && l.p90_ms <= l.p99_ms && l.p99_ms <= l.p999_ms && l.p999_ms <= l.max_ms)
                #expect(l.count >= r.settings.min_runs)
                #expect(c.warmup.runs == r.settings.warmup_runs && c.warmup.first_ms != nil)
                // Per-layer steps add up to the profiled runs' wall time within 10 % (+ 0.05 ms).
                let sum = c.layers.steps.reduce(0) { $0 + $1.mean_ms }
                #expect(sum <= c.layers.wall_mean_ms + 0.001)
                #expect(c.layers.wall_mean_ms - sum <= 0.1 * c.layers.wall_mean_ms + 0.05, "\(sum) of \(c.layers.wall_mean_ms) ms")
                #expect(c.layers.conversion_ms == 0 && c.layers.steps.allSatisfy { $0.kind == "kernel" && $0.precision == "fp32" })
                #expect(c.layers.steps.contains { $0.op == "Conv" && $0.macs > 0 && $0.gmac_per_second != nil })
                #expect(c.arena_bytes > 0)
                #expect(c.images_per_second > 0 && c.per_image_ms > 0)
            }
            // Speed-up against 1 thread at the same batch, and the batch gain against batch 1.
            #expect(r.configuration(.init(batch: 1, threads: 1))?.speedup == 1)
            #expect(r.configuration(.init(batch: 2, threads: 1))?.speedup == 1)
            let b1t2 = try #require(r.configuration(.init(batch: 1, threads: 2)))
            let b1t1 = try #require(r.configuration(.init(batch: 1, threads: 1)))
            #expect(abs(b1t2.speedup - b1t1.latency.p50_ms / b1t2.latency.p50_ms) < 1e-9)
            #expect(abs(b1t2.efficiency - b1t2.speedup / 2) < 1e-12)
            #expect(r.configurations.allSatisfy { $0.speedup_base_threads == 1 && $0.batch_gain_base == 1 })
            #expect(r.configuration(.init(batch: 1, threads: 2))?.batch_gain == 1)
            // Model, machine, timeline and memory facts.
            #expect(r.model.precision == "fp32" && r.model.kernel_variant == nil && r.model.input_shape == [1, 3, 32, 32] && r.model.classes == 10)
            #expect(r.model.macs_per_image > 30_000_000 && r.model.load_seconds > 0 && r.model.format == "onnx")
            #expect(r.machine.cores >= 1)
            #expect(r.timeline.phases.map(\.name) == r.configurations.map(\.key.short))
            #expect(r.timeline.samples.count >= 2 * r.configurations.count)
            #expect(r.memory.process.max_rss_bytes > 0 && r.memory.arena_bytes_max == r.configurations.map(\.arena_bytes).max())
            #expect(r.pipeline == nil)

            // The JSON decodes with the schema and equals what was written.
            let data = try r.jsonData()
            let decoded = try ProbeResult.decode(data)
            #expect(decoded == r)
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(object["schema_version"] as? Int == 1)
            for key in ["schema", "tool", "created", "machine", "model", "settings", "headline", "configurations", "timeline", "memory", "warnings"] {
                #expect(object[key] != nil, "\(key)")
            }
            let first = try #require((object["configurations"] as? [[String: Any]])?.first)
            let latency = try #require(first["latency"] as? [String: Any])
            #expect(Set(latency.keys) == ["count", "min_ms", "mean_ms", "stddev_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"])
        }

        @Test func int8ModelSeparatesConversionsFromFusedRequantization() throws {
            let r = try ProbeFixtures.run(ProbeFixtures.referenceINT8, threads: [1], batches: [1])
            #expect(r.consistencyProblems().isEmpty, "\(r.consistencyProblems())")
            #expect(r.model.precision == "int8" && r.model.kernel_variant != nil && !r.model.kernels.isEmpty)
            let l = try #require(r.headlineConfiguration?.layers)
            let kinds = Set(l.steps.map(\.kind))
            #expect(kinds.contains("quantize") && kinds.contains("dequantize"))
            #expect(l.conversion_ms > 0 && abs(l.kernel_ms + l.conversion_ms - l.steps_sum_ms) < 1e-9)
            for s in l.steps where s.kind == "kernel" && (s.op == "Conv" || s.op == "Add") {
                #expect(s.precision == "int8" && s.requantization == "fused", "\(s.label)")
                #expect(r.model.kernels.contains(s.kernel), "\(s.kernel)")
            }
            #expect(l.steps.filter { $0.kind != "kernel" }.allSatisfy { $0.requantization == "conversion" && $0.precision == "conversion" })
            #expect(l.requantization.contains("fused") && l.requantization.contains("conversion"))
        }

        @Test func patternPipelineMeasuresEveryStage() throws {
            let r = try ProbeFixtures.run(ProbeFixtures.reference, threads: [1], batches: [1]) {
                $0.source = .pattern(width: 64, height: 48, fps: 200, format: .yuyv)
            }
            #expect(r.consistencyProblems().isEmpty, "\(r.consistencyProblems())")
            let p = try #require(r.pipeline)
            #expect(p.kind == "pattern" && p.source.contains("test-pattern 64x48 yuyv"))
            #expect(Set(p.stages.keys) == ["capture_wait", "preprocess", "inference", "publish"])
            #expect(p.frames >= r.settings.min_runs && p.warmup_frames == 2 && p.warmup_ms.count == 2)
            for (_, s) in p.stages { #expect(s.count == p.frames && s.isOrdered) }
            // Camera-to-result covers at least preprocessing, inference and publishing of the same frame.
            let c2r = p.camera_to_result
            #expect(c2r.isOrdered && c2r.count == p.frames)
            #expect(c2r.min_ms >= p.stages["inference"]!.min_ms)
            #expect(p.captured >= p.frames + p.warmup_frames)
            #expect(r.timeline.phases.last?.name == "pipeline")
            #expect(p.camera_to_result_histogram.reduce(0) { $0 + $1.count } == p.frames)
        }

        @Test func aMissingCameraIsAnErrorNotAHang() throws {
            #expect(throws: ProbeError.self) {
                _ = try ProbeFixtures.run(ProbeFixtures.reference, threads: [1], batches: [1]) {
                    $0.source = .camera(CameraConfiguration(device: "/dev/video-probe-test-missing"))
                }
            }
        }

        @Test func throttledBoardSaysSoNextToItsFigures() throws {
            let fake = try FakeSysfs(cpus: 4, mhz: 1000, maxMHz: 1800, zones: [("cpu-thermal", 82_000)], throttled: "e0006")
            defer { fake.remove() }
            let rpi4 = try BoardCatalog.builtin().profile(named: "rpi4")
            let sensors = SystemSensors.discover(profile: rpi4, root: fake.root.path)
            let r = try ProbeFixtures.run(ProbeFixtures.reference, threads: [1], batches: [1], sensors: sensors, board: rpi4)
            #expect(r.consistencyProblems().isEmpty, "\(r.consistencyProblems())")
            #expect(r.board?.name == "rpi4")
            let c = try #require(r.headlineConfiguration)
            #expect(c.conditions.throttled == true)
            #expect(c.conditions.throttle_flags.contains("arm frequency capped") && c.conditions.throttle_flags.contains("currently throttled"))
            #expect(c.conditions.cpu_mhz?.max == 1000 && c.conditions.temperature_c?.max == 82)
            #expect(r.timeline.readable == .init(frequency: true, temperature: true, throttling: true))
            #expect(r.timeline.throttled == true)
            #expect(r.warnings.contains { $0.contains("b1 t1 THROTTLED") })
            let html = ProbeReport.html(r)
            #expect(html.contains("THROTTLED"))
            #expect(html.contains("<polyline"))   // the clock and temperature lines
            let text = ProbeSummary.text(r)
            #expect(text.contains("THROTTLED"))
        }

        @Test func reportRendersEveryChart() throws {
            let r = try ProbeFixtures.run(ProbeFixtures.reference, threads: [1, 2], batches: [1]) {
                $0.source = .pattern(width: 64, height: 48, fps: 200, format: .yuyv)
            }
            let html = ProbeReport.html(r)
            #expect(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>\n"))
            // Self-contained: no script, no external asset.
            #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("<link") && !html.contains("url("))
            #expect(!html.contains("http://") && !html.contains("https://"))
            for id in ProbeReport.chartIDs + ["chart-camera-histogram"] {
                let svg = try #require(Self.element(html, id: id), "no <svg id=\"\(id)\">")
                #expect(svg.contains("</svg>") || svg.hasSuffix("</svg>"))
                switch id {
                case "chart-latency-histogram", "chart-camera-histogram":
                    #expect(Self.count("<rect", in: svg) >= 1 && Self.count("<line", in: svg) == 5, "\(id): bars and 5 percentile lines")
                case "chart-layers":
                    let steps = r.headlineConfiguration!.layers.steps.count
                    #expect(Self.count("<rect", in: svg) >= steps, "one bar per step")
                case "chart-timeline":
                    #expect(Self.count("<rect", in: svg) >= r.timeline.phases.count, "one band per phase")
                    #expect(svg.contains("images per second"))
                    if !r.timeline.readable.frequency { #expect(svg.contains("cpu frequency: not readable")) }
                    if !r.timeline.readable.temperature { #expect(svg.contains("temperature: not readable")) }
                case "chart-thread-scaling":
                    #expect(Self.count("<circle", in: svg) == r.configurations.count && svg.contains("<polyline") && svg.contains("ideal"))
                default: break
                }
            }
            // Every configuration's row is in the table.
            #expect(Self.count("<tr", in: html) >= r.configurations.count + 1)
            #expect(html.contains("camera to result"))
        }

        /// The `<svg ...>...</svg>` element with this id.
        static func element(_ html: String, id: String) -> String? {
            guard let start = html.range(of: "<svg id=\"\(id)\"") else { return nil }
            guard let end = html.range(of: "</svg>", range: start.upperBound..<html.endIndex) else { return nil }
            return String(html[start.lowerBound..<end.upperBound])
        }

        static func count(_ needle: String, in haystack: String) -> Int { haystack.components(separatedBy: needle).count - 1 }
    }
}
