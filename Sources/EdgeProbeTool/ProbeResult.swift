import EdgeProbe
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// The result of one `resnet-edge probe` run: what `--out` writes as JSON (documented in docs/probe-schema.md).
///
/// Property names are the JSON keys. Times are milliseconds (`_ms`) or seconds (`_seconds`, and the timeline's `t`),
/// sizes bytes, clocks MHz, temperatures degrees Celsius. A reader checks `schema` and `schema_version`: version 1 is
/// this layout; a later version only adds keys unless its number says otherwise (`ProbeResult.decode` refuses versions
/// it does not know).
public struct ProbeResult: Codable, Equatable, Sendable {
    public static let schemaName = "resnet-edge-probe"
    public static let currentSchemaVersion = 1

    public var schema: String
    public var schema_version: Int
    public var tool: Tool
    /// ISO 8601, UTC, when the run started.
    public var created: String
    public var machine: MachineInfo
    /// The board profile the run used for its sensors and defaults; nil on a machine that is no known board.
    public var board: Board?
    public var model: Model
    public var settings: Settings
    /// The configuration `compare` and the report put first: the smallest batch at the board's default thread count
    /// if it was probed, else at the largest thread count probed.
    public var headline: ConfigurationKey
    /// One per (batch, threads) asked for, batches outer, threads inner, in the order given.
    public var configurations: [Configuration]
    /// The capture -> preprocessing -> inference -> publishing pipeline; nil when no source was given.
    public var pipeline: Pipeline?
    public var timeline: Timeline
    public var memory: Memory
    /// Things that make the figures less trustworthy (other load, throttling, emulation), one sentence each.
    public var warnings: [String]

    public struct Tool: Codable, Equatable, Sendable {
        public var name: String
        public var version: String
        /// The command line of the run.
        public var command: [String]

        public init(name: String, version: String, command: [String]) {
            self.name = name
            self.version = version
            self.command = command
        }
    }

    public struct Board: Codable, Equatable, Sendable {
        public var name: String
        public var description: String
        /// How it was chosen ("--board rpi4", or the detector's reason).
        public var reason: String
        public var core: String
        public var cores: Int
        public var max_mhz: Int
        public var default_threads: Int

        public init(name: String, description: String, reason: String, core: String, cores: Int, max_mhz: Int, default_threads: Int) {
            self.name = name
            self.description = description
            self.reason = reason
            self.core = core
            self.cores = cores
            self.max_mhz = max_mhz
            self.default_threads = default_threads
        }
    }

    public struct Model: Codable, Equatable, Sendable {
        public var path: String
        /// "onnx" or "rem" (a model file written by `calibrate`).
        public var format: String
        public var file_bytes: Int?
        /// SHA-256 of the model file (what `sha256sum` prints; the daemon's logs, /healthz and model_info metric show it
        /// too). Nil in results written before schema 1.3.
        public var sha256: String?
        public var input_name: String
        /// One image, NCHW.
        public var input_shape: [Int]
        public var classes: Int
        /// "int8", "fp32" or "mixed".
        public var precision: String
        /// The session's one-line account: precision, kernel variant, micro-kernels, FP32 nodes, packed weights.
        public var precision_summary: String
        /// The INT8 kernel variant the sessions ran (what `--kernels auto` resolved to); nil for an FP32 model.
        public var kernel_variant: String?
        /// CKernels micro-kernels used by INT8 nodes, in first-use order.
        public var kernels: [String]
        /// Graph nodes, and the multiply-accumulates of one image (convolutions and fully connected layers).
        public var nodes: Int
        public var macs_per_image: Int
        /// Reading and importing the file (ONNX parsing and BatchNorm folding, or the model file's validation).
        public var load_seconds: Double
        /// Creating the first session: strategy, weight packing (or the model file's packed weights in place).
        public var session_seconds: Double
        /// Where the preprocessing came from (--preprocess, sidecar, metadata, default).
        public var preprocess: String
    }

    public struct Settings: Codable, Equatable, Sendable {
        public var threads: [Int]
        public var batches: [Int]
        /// The whole timed budget, shared evenly by the configurations and the pipeline.
        public var duration_seconds: Double
        public var warmup_runs: Int
        public var min_runs: Int
        /// The part of each configuration's budget spent on per-step (profiled) runs.
        public var layer_share: Double
        public var sample_interval_seconds: Double
        public var kernels: String
        public var precision: String
        /// "pattern", "camera" or nil.
        public var source: String?
    }

    public struct ConfigurationKey: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
        public var batch: Int
        public var threads: Int

        public init(batch: Int, threads: Int) {
            self.batch = batch
            self.threads = threads
        }

        public var description: String { "batch \(batch), \(threads) thread\(threads == 1 ? "" : "s")" }
        /// "b1 t4": the timeline's phase name.
        public var short: String { "b\(batch) t\(threads)" }
    }

    public struct Configuration: Codable, Equatable, Sendable {
        public var batch: Int
        public var threads: Int
        public var warmup: Warmup
        /// Latency of one `execute()` of the whole batch, after warm-up.
        public var latency: LatencySummary
        /// The same distribution as chart bars (every run in exactly one bar).
        public var histogram: [LatencyBucket]
        /// Median latency per image (latency.p50_ms / batch).
        public var per_image_ms: Double
        /// Images per second over the timed runs (batch x runs / their wall time).
        public var images_per_second: Double
        /// Wall time of the timed runs.
        public var elapsed_seconds: Double
        /// Median latency at `speedup_base_threads` (same batch) over this one's; efficiency = speedup / (threads / base).
        public var speedup: Double
        public var efficiency: Double
        public var speedup_base_threads: Int
        /// Images per second relative to the smallest batch at the same thread count.
        public var batch_gain: Double
        public var batch_gain_base: Int
        public var session_seconds: Double
        public var arena_bytes: Int
        public var scratch_bytes: Int
        public var layers: LayerProfile
        /// Clock, temperature and throttling while this configuration ran.
        public var conditions: Conditions

        public var key: ConfigurationKey { ConfigurationKey(batch: batch, threads: threads) }
    }

    public struct Warmup: Codable, Equatable, Sendable {
        public var runs: Int
        /// The very first run (cold caches, first touch of the arena and the packed weights).
        public var first_ms: Double?
        public var ms: [Double]

        public init(runs: Int, first_ms: Double?, ms: [Double]) {
            self.runs = runs
            self.first_ms = first_ms
            self.ms = ms
        }
    }

    /// Per-step times from profiled runs (`InferenceSession.executeProfiledSteps`): every graph node that does work and
    /// every conversion between INT8 and FP32, in execution order.
    public struct LayerProfile: Codable, Equatable, Sendable {
        public var runs: Int
        /// Mean wall time of a profiled run (around the whole call).
        public var wall_mean_ms: Double
        /// Sum of the steps' means (= mean of the per-run step sums).
        public var steps_sum_ms: Double
        /// wall_mean_ms - steps_sum_ms: the timing's own overhead and what runs between steps.
        public var unaccounted_ms: Double
        /// Node kernels vs conversions (quantize / dequantize / fake-quantize steps).
        public var kernel_ms: Double
        public var conversion_ms: Double
        /// How requantization is accounted for, in one sentence.
        public var requantization: String
        public var steps: [LayerStep]
    }

    public struct LayerStep: Codable, Equatable, Sendable {
        public var index: Int
        /// The node's name, or "quantize 'value'" / "dequantize 'value'" / "fake-quantize 'value'".
        public var label: String
        /// "kernel", "quantize", "dequantize" or "fake-quantize".
        public var kind: String
        /// The operator (Conv, Add, ...) or the conversion (Quantize, ...).
        public var op: String
        /// The graph node computed, or the producer of the value converted (nil for a graph input).
        public var node: String?
        /// "int8", "fp32", or "conversion".
        public var precision: String
        /// The micro-kernel (CKernels descriptor) for INT8 nodes, "fp32-sgemm"/"fp32 <op>" for FP32 ones, "reorder", or the conversion.
        public var kernel: String
        /// "fused" (the INT8 kernel's epilogue requantizes its int32 accumulators), "none", or "conversion" (the step is one).
        public var requantization: String
        /// Output shape (NCHW) of the node; nil for conversions of graph inputs.
        public var output_shape: [Int]?
        public var macs: Int
        public var mean_ms: Double
        public var p50_ms: Double
        public var min_ms: Double
        /// mean_ms / steps_sum_ms.
        public var share: Double
        public var gmac_per_second: Double?
    }

    public struct Conditions: Codable, Equatable, Sendable {
        /// Sampler time (the timeline's t) when it started and ended.
        public var start_s: Double
        public var end_s: Double
        public var samples: Int
        /// Mean of the readable clocks per sample: lowest, mean, highest. Nil when not readable.
        public var cpu_mhz: Range?
        /// Hottest sensor per sample: lowest, mean, highest.
        public var temperature_c: Range?
        /// True if the board throttled while this ran (flags, or the clock under 95 % of its maximum where the board
        /// has no flags); nil when the board tells nothing.
        public var throttled: Bool?
        /// Raspberry Pi flags seen set while this ran (decoded), including "has occurred" bits that turned on.
        public var throttle_flags: [String]
    }

    public struct Range: Codable, Equatable, Sendable {
        public var min: Double
        public var mean: Double
        public var max: Double
    }

    public struct Pipeline: Codable, Equatable, Sendable {
        /// "pattern" or "camera".
        public var kind: String
        /// The source's name ("/dev/video0", "test-pattern 640x480 yuyv").
        public var source: String
        /// What was asked: "640x480 yuyv 30 fps" (camera: the driver's agreement when known).
        public var format: String
        public var threads: Int
        /// True when preprocessing wrote the quantized input directly (no quantize step in the session).
        public var int8_input: Bool
        public var warmup_frames: Int
        /// Frames measured (after warm-up).
        public var frames: Int
        /// From the capture thread: frames read, replaced before use (the model was slower than the source), reopens.
        public var captured: Int
        public var dropped: Int
        public var reopens: Int
        /// A camera's driver and card ("uvcvideo: HD Webcam (usb-...)"), frames its driver skipped (gaps in its sequence)
        /// and frames discarded as corrupt; nil for the pattern.
        public var device: String?
        public var driver_dropped: Int?
        public var corrupt_frames: Int?
        public var elapsed_seconds: Double
        public var results_per_second: Double
        /// capture_wait, preprocess, inference, publish (the daemon's stage names).
        public var stages: [String: LatencySummary]
        /// From the frame's timestamp (V4L2 buffer timestamp, CLOCK_MONOTONIC) to its result being published.
        public var camera_to_result: LatencySummary
        public var camera_to_result_histogram: [LatencyBucket]
        /// Camera-to-result of the warm-up frames.
        public var warmup_ms: [Double]
        public var conditions: Conditions

        public static let stageNames = ["capture_wait", "preprocess", "inference", "publish"]
    }

    public struct Timeline: Codable, Equatable, Sendable {
        public var interval_seconds: Double
        /// "board profile rpi4", "host sysfs", "none readable", ...
        public var origin: String
        public var cpufreq: [SensorFile]
        public var cpufreq_max_mhz: [Double?]
        public var thermal: [SensorFile]
        public var throttling: SensorFile?
        public var throttling_format: String
        public var readable: Readable
        /// "not readable" explanations and replaced profile paths.
        public var notes: [String]
        public var phases: [Phase]
        public var samples: [SystemSample]
        /// Whether the board throttled at any time during the run (nil: it tells nothing), and the flags seen.
        public var throttled: Bool?
        public var throttle_flags: [String]
    }

    public struct Readable: Codable, Equatable, Sendable {
        public var frequency: Bool
        public var temperature: Bool
        public var throttling: Bool

        public init(frequency: Bool, temperature: Bool, throttling: Bool) {
            self.frequency = frequency
            self.temperature = temperature
            self.throttling = throttling
        }
    }

    public struct Phase: Codable, Equatable, Sendable {
        public var name: String
        public var start_s: Double
        public var end_s: Double
    }

    public struct Memory: Codable, Equatable, Sendable {
        /// At the end of the run: getrusage ru_maxrss and /proc/self/status VmHWM (peak), VmRSS (now).
        public var process: ProcessMemory
        /// The largest activation arena and scratch over the configurations.
        public var arena_bytes_max: Int
        public var scratch_bytes_max: Int
    }

    // MARK: - Reading and writing

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    /// Decodes a probe JSON, refusing another schema or a newer version with a one-line reason.
    public static func decode(_ data: Data, source: String = "probe JSON") throws -> ProbeResult {
        struct Header: Decodable {
            var schema: String?
            var schema_version: Int?
        }
        guard let header = try? JSONDecoder().decode(Header.self, from: data) else {
            throw ProbeError("\(source): not a JSON object")
        }
        guard header.schema == schemaName else {
            throw ProbeError("\(source): not a resnet-edge probe result (schema \(header.schema.map { "'\($0)'" } ?? "missing"))")
        }
        guard let version = header.schema_version, version >= 1 else { throw ProbeError("\(source): schema_version missing") }
        guard version <= currentSchemaVersion else {
            throw ProbeError("\(source): schema_version \(version) is newer than this resnet-edge reads (\(currentSchemaVersion))")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            return try decoder.decode(ProbeResult.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw ProbeError("\(source): missing key \((context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw ProbeError("\(source): \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw ProbeError("\(source): \(context.codingPath.map(\.stringValue).joined(separator: ".")) is null")
        }
    }

    public static func load(path: String) throws -> ProbeResult {
        guard let data = FileManager.default.contents(atPath: path) else { throw ProbeError("cannot read \(path)") }
        return try decode(data, source: path)
    }

    public func configuration(_ key: ConfigurationKey) -> Configuration? {
        configurations.first { $0.key == key }
    }

    public var headlineConfiguration: Configuration? { configuration(headline) }

    // MARK: - Consistency

    /// What is inconsistent in the figures (empty when all is well): percentiles out of order, sweeps that do not
    /// cover exactly what was asked, step times that do not add up to the profiled runs' wall time within
    /// `layerTolerance` (relative, plus 0.05 ms), shares that do not add up to 1, a headline that is not a configuration.
    public func consistencyProblems(layerTolerance: Double = 0.1) -> [String] {
        var problems: [String] = []
        if schema != Self.schemaName { problems.append("schema is '\(schema)'") }
        if schema_version != Self.currentSchemaVersion { problems.append("schema_version is \(schema_version)") }
        let asked = settings.batches.flatMap { b in settings.threads.map { ConfigurationKey(batch: b, threads: $0) } }
        let got = configurations.map(\.key)
        if asked != got { problems.append("configurations \(got.map(\.short)) are not the sweep asked for \(asked.map(\.short))") }
        if configuration(headline) == nil { problems.append("the headline \(headline.short) is not a configuration") }
        for c in configurations {
            let name = c.key.short
            if !c.latency.isOrdered { problems.append("\(name): latency figures out of order \(c.latency)") }
            if c.latency.count < settings.min_runs { problems.append("\(name): \(c.latency.count) runs, fewer than min_runs \(settings.min_runs)") }
            if c.histogram.reduce(0, { $0 + $1.count }) != c.latency.count { problems.append("\(name): histogram bars do not add up to the runs") }
            if c.warmup.ms.count != c.warmup.runs { problems.append("\(name): warm-up list has \(c.warmup.ms.count) of \(c.warmup.runs) runs") }
            let l = c.layers
            if l.runs < 1 || l.steps.isEmpty { problems.append("\(name): no profiled steps") }
            let sum = l.steps.reduce(0) { $0 + $1.mean_ms }
            if abs(sum - l.steps_sum_ms) > 1e-6 * max(1, sum) { problems.append("\(name): steps_sum_ms \(l.steps_sum_ms) is not the sum of the steps \(sum)") }
            if abs(l.kernel_ms + l.conversion_ms - l.steps_sum_ms) > 1e-6 * max(1, sum) {
                problems.append("\(name): kernel_ms + conversion_ms != steps_sum_ms")
            }
            if l.steps_sum_ms > l.wall_mean_ms + 0.001 || l.wall_mean_ms - l.steps_sum_ms > layerTolerance * l.wall_mean_ms + 0.05 {
                problems.append(String(printf: "%@: steps add up to %.4f ms of a %.4f ms profiled run", name, l.steps_sum_ms, l.wall_mean_ms))
            }
            let shares = l.steps.reduce(0) { $0 + $1.share }
            if !l.steps.isEmpty && abs(shares - 1) > 1e-6 { problems.append("\(name): step shares add up to \(shares)") }
            for s in l.steps where !(s.min_ms <= s.p50_ms && s.min_ms <= s.mean_ms) {
                problems.append("\(name): step \(s.label) has min above its median or mean")
            }
            if c.threads == c.speedup_base_threads && abs(c.speedup - 1) > 1e-9 { problems.append("\(name): speed-up at the base thread count is not 1") }
            if c.batch == c.batch_gain_base && abs(c.batch_gain - 1) > 1e-9 { problems.append("\(name): batch gain at the base batch is not 1") }
        }
        if let p = pipeline {
            if Set(p.stages.keys) != Set(Pipeline.stageNames) { problems.append("pipeline stages are \(p.stages.keys.sorted())") }
            for (stage, s) in p.stages where !s.isOrdered || s.count != p.frames {
                problems.append("pipeline \(stage): \(s.count) values for \(p.frames) frames, or figures out of order")
            }
            if !p.camera_to_result.isOrdered { problems.append("pipeline camera_to_result figures out of order") }
        }
        for (a, b) in zip(timeline.samples, timeline.samples.dropFirst()) where b.t < a.t {
            problems.append("timeline samples out of time order at t=\(b.t)")
            break
        }
        return problems
    }
}

public struct ProbeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
