import EdgeBoards
import EdgeCapture
import EdgeGraph
import EdgeModel
import EdgeModelFile
import EdgeProbe
import EdgeRuntime
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import EdgeSupport

/// Where the pipeline's frames come from.
public enum ProbeSource: Sendable {
    /// EdgeCapture's moving test pattern, paced at `fps` (no camera needed; every stage is measurable).
    case pattern(width: Int, height: Int, fps: Double, format: PixelFormat)
    /// A V4L2 camera.
    case camera(CameraConfiguration)

    var kind: String {
        switch self {
        case .pattern: return "pattern"
        case .camera: return "camera"
        }
    }
}

/// How long and what to measure.
public struct ProbeSettings: Sendable {
    public var threads: [Int]
    public var batches: [Int]
    /// The whole timed budget (seconds), shared evenly by the configurations and the pipeline; each configuration still
    /// makes at least `minRuns` timed runs and `minLayerRuns` profiled runs.
    public var duration: Double
    public var warmupRuns = 5
    public var minRuns = 10
    /// The part of each configuration's budget spent on profiled (per-step) runs.
    public var layerShare = 0.2
    public var minLayerRuns = 3
    public var sampleInterval = 0.2
    public var kernels: KernelVariant = .auto
    public var precision: Precision = .auto
    public var source: ProbeSource? = nil
    /// Frames of the pipeline not measured (their camera-to-result is kept as the warm-up list).
    public var pipelineWarmupFrames = 5
    /// The pipeline's thread count (default: the headline configuration's).
    public var pipelineThreads: Int? = nil
    /// Seconds without any frame after which the pipeline gives up.
    public var frameTimeout = 10.0

    public init(threads: [Int], batches: [Int], duration: Double) {
        self.threads = threads
        self.batches = batches
        self.duration = duration
    }
}

/// What the runner is given besides the settings: the loaded model and the facts around it.
public struct ProbeInputs {
    public var model: ClassificationModel
    public var loadSeconds: Double
    public var board: BoardProfile?
    /// How the board was chosen (for the report).
    public var boardReason: String?
    public var sensors: SystemSensors
    public var command: [String]
    public var toolVersion: String

    public init(model: ClassificationModel, loadSeconds: Double, board: BoardProfile?, boardReason: String?, sensors: SystemSensors,
                command: [String] = CommandLine.arguments, toolVersion: String = "0.1.0") {
        self.model = model
        self.loadSeconds = loadSeconds
        self.board = board
        self.boardReason = boardReason
        self.sensors = sensors
        self.command = command
        self.toolVersion = toolVersion
    }
}

/// Runs the probe: every (batch, threads) configuration (warm-up, timed runs into an HDR histogram, profiled runs for
/// per-step times), then the capture pipeline if a source is given, with the sampler recording clock, temperature and
/// throttling all along. Returns the whole story as a `ProbeResult`.
public final class ProbeRunner {
    public let inputs: ProbeInputs
    public let settings: ProbeSettings
    /// Progress lines ("b1 t2: 412 runs, p50 3.1 ms"), for standard error.
    public var log: (String) -> Void = { _ in }

    public init(inputs: ProbeInputs, settings: ProbeSettings) throws {
        guard !settings.threads.isEmpty, settings.threads.allSatisfy({ (1...256).contains($0) }) else {
            throw ProbeError("threads must be between 1 and 256")
        }
        guard !settings.batches.isEmpty, settings.batches.allSatisfy({ (1...4096).contains($0) }) else {
            throw ProbeError("batch sizes must be between 1 and 4096")
        }
        guard Set(settings.threads).count == settings.threads.count, Set(settings.batches).count == settings.batches.count else {
            throw ProbeError("a thread count or batch size is repeated")
        }
        guard settings.duration.isFinite, settings.duration >= 0 else { throw ProbeError("the duration must be a positive time") }
        guard settings.minRuns >= 1, settings.warmupRuns >= 0, settings.minLayerRuns >= 1 else {
            throw ProbeError("--min-runs must be at least 1 and --warmup at least 0")
        }
        self.inputs = inputs
        self.settings = settings
    }

    /// The configuration reports lead with (see `ProbeResult.headline`).
    public var headline: ProbeResult.ConfigurationKey {
        let batch = settings.batches.min()!
        if let d = inputs.board?.default_threads, settings.threads.contains(d) { return .init(batch: batch, threads: d) }
        return .init(batch: batch, threads: settings.threads.max()!)
    }

    public func run() throws -> ProbeResult {
        let created = Date.ISO8601FormatStyle().format(Date())  // "2025-01-31T12:34:56Z", as ISO8601DateFormatter
        let machine = MachineInfo.read()
        let model = inputs.model
        let spec = model.preprocess
        let sampler = SystemSampler(sensors: inputs.sensors, interval: settings.sampleInterval)
        sampler.setPhase("setup")
        sampler.start()
        defer { sampler.stop() }

        let opened = try settings.source.map(openSource)
        let keys = settings.batches.flatMap { b in settings.threads.map { ProbeResult.ConfigurationKey(batch: b, threads: $0) } }
        let shares = Double(keys.count + (settings.source == nil ? 0 : 1))
        let budget = settings.duration / shares

        var measured: [MeasuredConfiguration] = []
        var facts: (precision: String, summary: String, variant: String?, kernels: [String])? = nil
        var phases: [ProbeResult.Phase] = []
        for key in keys {
            sampler.setPhase(key.short)
            sampler.sampleNow()
            let start = sampler.elapsed()
            let m = try measure(key, budget: budget, sampler: sampler)
            sampler.sampleNow()
            let end = sampler.elapsed()
            phases.append(.init(name: key.short, start_s: start, end_s: end))
            measured.append(m)
            if facts == nil, let session = m.session {
                // Every session of one graph makes the same choices: the model's facts from the first.
                facts = (session.runsINT8 ? (session.fp32Nodes.isEmpty ? "int8" : "mixed") : "fp32", Self.precisionSummary(session),
                         session.runsINT8 ? session.kernelVariant.rawValue : nil, session.kernelNames)
            }
            log(String(printf: "%@: %d runs in %.1f s, p50 %.3f ms, p99 %.3f ms, %.1f img/s", key.short, m.histogram.count, m.elapsed,
                       m.histogram.summary.p50_ms, m.histogram.summary.p99_ms, Double(key.batch * m.histogram.count) / max(m.elapsed, 1e-9)))
            // Free the session (its arena and threads) before the next one.
            measured[measured.count - 1].session = nil
        }

        var pipeline: MeasuredPipeline? = nil
        if let source = settings.source, let opened {
            sampler.setPhase("pipeline")
            sampler.sampleNow()
            let start = sampler.elapsed()
            pipeline = try measurePipeline(source, opened: opened, budget: budget, sampler: sampler)
            sampler.sampleNow()
            phases.append(.init(name: "pipeline", start_s: start, end_s: sampler.elapsed()))
        }
        sampler.setPhase("done")
        sampler.stop()
        let samples = sampler.samples
        let memory = ProcessMemory.read()

        let shapes = try model.graph.inferShapes(inputShapes: [Shape([1, spec.channels, spec.inputHeight, spec.inputWidth])])
        let macs = model.graph.nodes.reduce(0) { $0 + $1.op.multiplyAccumulates(inputs: $1.inputs.map { shapes[$0] }, output: shapes[$1.output]) }
        // An integer of some width: NSNumber under Foundation, a plain integer under FoundationEssentials.
        let fileBytes = ((try? FileManager.default.attributesOfItem(atPath: model.path))?[.size] as? any BinaryInteger).map { Int($0) }
        let modelInfo = ProbeResult.Model(
            path: model.path, format: model.modelFile == nil ? "onnx" : "rem", file_bytes: fileBytes,
            sha256: try? ModelProvenance.sha256(contentsOf: URL(fileURLWithPath: model.path)), input_name: model.inputName,
            input_shape: [1, spec.channels, spec.inputHeight, spec.inputWidth], classes: model.classes, precision: facts!.precision,
            precision_summary: facts!.summary, kernel_variant: facts!.variant, kernels: facts!.kernels, nodes: model.graph.nodes.count, macs_per_image: macs, load_seconds: inputs.loadSeconds,
            session_seconds: measured[0].sessionSeconds, preprocess: model.preprocessSource)

        // Sweeps: speed-up against the smallest thread count of the same batch, gain against the smallest batch.
        let minThreads = settings.threads.min()!, minBatch = settings.batches.min()!
        func p50(_ key: ProbeResult.ConfigurationKey) -> Double { measured.first { $0.key == key }!.histogram.summary.p50_ms }
        func ips(_ m: MeasuredConfiguration) -> Double { Double(m.key.batch * m.histogram.count) / max(m.elapsed, 1e-12) }
        let configurations: [ProbeResult.Configuration] = measured.map { m in
            let summary = m.histogram.summary
            let base = p50(.init(batch: m.key.batch, threads: minThreads))
            let speedup = m.key.threads == minThreads ? 1 : base / max(summary.p50_ms, 1e-12)
            let efficiency = speedup / (Double(m.key.threads) / Double(minThreads))
            let batchBase = measured.first { $0.key == .init(batch: minBatch, threads: m.key.threads) }!
            let gain = m.key.batch == minBatch ? 1 : ips(m) / max(ips(batchBase), 1e-12)
            return ProbeResult.Configuration(
                batch: m.key.batch, threads: m.key.threads,
                warmup: .init(runs: m.warmup.count, first_ms: m.warmup.first, ms: m.warmup), latency: summary,
                histogram: m.histogram.buckets(40), per_image_ms: summary.p50_ms / Double(m.key.batch), images_per_second: ips(m),
                elapsed_seconds: m.elapsed, speedup: speedup, efficiency: efficiency, speedup_base_threads: minThreads,
                batch_gain: gain, batch_gain_base: minBatch, session_seconds: m.sessionSeconds, arena_bytes: m.arenaBytes,
                scratch_bytes: m.scratchBytes, layers: m.layers,
                conditions: Self.conditions(samples, from: phases.first { $0.name == m.key.short }!))
        }

        let timeline = Self.timeline(samples, sensors: inputs.sensors, interval: settings.sampleInterval, phases: phases)
        var result = ProbeResult(
            schema: ProbeResult.schemaName, schema_version: ProbeResult.currentSchemaVersion,
            tool: .init(name: "resnet-edge", version: inputs.toolVersion, command: inputs.command), created: created,
            machine: machine,
            board: inputs.board.map { .init(name: $0.name, description: $0.description, reason: inputs.boardReason ?? "", core: $0.cpu.core,
                                            cores: $0.cpu.cores, max_mhz: $0.cpu.max_mhz, default_threads: $0.default_threads) },
            model: modelInfo,
            settings: .init(threads: settings.threads, batches: settings.batches, duration_seconds: settings.duration,
                            warmup_runs: settings.warmupRuns, min_runs: settings.minRuns, layer_share: settings.layerShare,
                            sample_interval_seconds: settings.sampleInterval, kernels: settings.kernels.rawValue,
                            precision: settings.precision.rawValue, source: settings.source?.kind),
            headline: headline, configurations: configurations,
            pipeline: pipeline.map { p in p.result(conditions: Self.conditions(samples, from: phases.last!)) },
            timeline: timeline,
            memory: .init(process: memory, arena_bytes_max: measured.map(\.arenaBytes).max() ?? 0,
                          scratch_bytes_max: measured.map(\.scratchBytes).max() ?? 0),
            warnings: [])
        result.warnings = Self.warnings(result)
        return result
    }

    // MARK: - One configuration

    struct MeasuredConfiguration {
        let key: ProbeResult.ConfigurationKey
        var session: InferenceSession?
        let sessionSeconds: Double
        let warmup: [Double]
        let histogram: LatencyHistogram
        let elapsed: Double
        let layers: ProbeResult.LayerProfile
        let arenaBytes: Int
        let scratchBytes: Int
    }

    func makeSession(threads: Int, int8Input: Bool = false, pinThreads: Bool = false) throws -> InferenceSession {
        try InferenceSession(graph: inputs.model.graph,
                             options: SessionOptions(threads: threads, kernels: settings.kernels, precision: settings.precision, int8Input: int8Input,
                                                     pinThreads: pinThreads),
                             prepacked: inputs.model.prepacked)
    }

    func measure(_ key: ProbeResult.ConfigurationKey, budget: Double, sampler: SystemSampler) throws -> MeasuredConfiguration {
        let spec = inputs.model.preprocess
        let shape = Shape([key.batch, spec.channels, spec.inputHeight, spec.inputWidth])
        let t0 = probeClock()
        let session = try makeSession(threads: key.threads)
        try session.prepare(inputShape: shape)
        let sessionSeconds = probeClock() - t0
        // Random input in the range a normalised image has (the kernels' speed does not depend on it).
        let input = try session.inputBuffer()
        var rng = SplitMix64(seed: 0x5EED)
        for i in 0..<shape.elementCount { input[i] = Float(Double(rng.next() >> 11) / Double(1 << 53) * 4 - 2) }

        var warmup: [Double] = []
        for _ in 0..<settings.warmupRuns {
            let t = probeClock()
            try session.execute()
            warmup.append((probeClock() - t) * 1000)
            sampler.addInferences(key.batch)
        }

        var histogram = LatencyHistogram()
        let timedBudget = budget * (1 - settings.layerShare)
        let start = probeClock()
        var now = start
        while histogram.count < settings.minRuns || now - start < timedBudget {
            let t = probeClock()
            try session.execute()
            now = probeClock()
            histogram.record(seconds: now - t)
            sampler.addInferences(key.batch)
        }
        let elapsed = now - start

        let layers = try profileLayers(session, shape: shape, budget: budget * settings.layerShare, sampler: sampler, batch: key.batch)
        return MeasuredConfiguration(key: key, session: session, sessionSeconds: sessionSeconds, warmup: warmup, histogram: histogram,
                                     elapsed: elapsed, layers: layers, arenaBytes: session.memoryPlan?.arenaBytes ?? 0,
                                     scratchBytes: session.scratchBytes)
    }

    // MARK: - Per-step profile

    func profileLayers(_ session: InferenceSession, shape: Shape, budget: Double, sampler: SystemSampler, batch: Int) throws -> ProbeResult.LayerProfile {
        var runs: [[StepTiming]] = []
        var walls: [Double] = []
        let start = probeClock()
        while runs.count < settings.minLayerRuns || probeClock() - start < budget {
            let t = probeClock()
            let steps = try session.executeProfiledSteps()
            walls.append(probeClock() - t)
            runs.append(steps)
            sampler.addInferences(batch)
        }
        return Self.layerProfile(runs: runs, walls: walls, session: session, graph: inputs.model.graph)
    }

    static func layerProfile(runs: [[StepTiming]], walls: [Double], session: InferenceSession, graph: Graph) -> ProbeResult.LayerProfile {
        let first = runs[0]
        let shapes = session.shapes ?? []
        let executions = session.nodeExecutions
        var steps: [ProbeResult.LayerStep] = []
        for (i, step) in first.enumerated() {
            let times = runs.map { $0[i].seconds * 1000 }.sorted()
            let mean = times.reduce(0, +) / Double(times.count)
            let kind: String
            switch step.op {
            case "Quantize": kind = "quantize"
            case "Dequantize": kind = "dequantize"
            case "FakeQuantize": kind = "fake-quantize"
            default: kind = "kernel"
            }
            var precision = "conversion", kernel = kind, requantization = "conversion", outputShape: [Int]? = nil, macs = 0
            var nodeName: String? = nil
            if let n = step.node {
                let node = graph.nodes[n]
                nodeName = node.name
                outputShape = shapes.isEmpty ? nil : shapes[node.output].dims
                if kind == "kernel" {
                    let e = executions[n]
                    precision = e.precision == .int8 ? "int8" : "fp32"
                    kernel = e.kernel == "fp32" ? "fp32 \(node.op.name)" : e.kernel
                    if !shapes.isEmpty {
                        macs = node.op.multiplyAccumulates(inputs: node.inputs.map { shapes[$0] }, output: shapes[node.output])
                    }
                    let requantizing: Set<String> = ["Conv", "DepthwiseConv", "GroupConv", "FullyConnected", "Add", "GlobalAveragePool"]
                    requantization = e.precision == .int8 && requantizing.contains(node.op.name) ? "fused" : "none"
                }
            }
            steps.append(ProbeResult.LayerStep(
                index: i, label: step.label, kind: kind, op: step.op, node: nodeName, precision: precision, kernel: kernel,
                requantization: requantization, output_shape: outputShape, macs: macs, mean_ms: mean, p50_ms: times[times.count / 2],
                min_ms: times[0], share: 0, gmac_per_second: macs > 0 && mean > 0 ? Double(macs) / 1e6 / mean : nil))
        }
        let sum = steps.reduce(0) { $0 + $1.mean_ms }
        for i in steps.indices { steps[i].share = sum > 0 ? steps[i].mean_ms / sum : 1 / Double(steps.count) }
        let conversion = steps.filter { $0.kind != "kernel" }.reduce(0) { $0 + $1.mean_ms }
        let kernelTime = steps.filter { $0.kind == "kernel" }.reduce(0) { $0 + $1.mean_ms }
        let wall = walls.reduce(0, +) / Double(walls.count) * 1000
        let fused = steps.filter { $0.requantization == "fused" }
        let conversions = steps.filter { $0.kind != "kernel" }
        var requantization: String
        if fused.isEmpty {
            requantization = "none: every node runs FP32"
        } else {
            requantization = "fused into \(fused.count) INT8 kernels (their epilogue requantizes the int32 accumulators and writes int8; "
                + "it is not a separate step, so its time is inside the kernel time and not measured apart)"
        }
        if !conversions.isEmpty {
            requantization += String(printf: "; %d INT8/FP32 conversion step%@ measured separately: %.4f ms (%.1f %%)", conversions.count,
                                     (conversions.count == 1 ? "" : "s"), conversion, sum > 0 ? conversion / sum * 100 : 0)
        }
        return ProbeResult.LayerProfile(runs: runs.count, wall_mean_ms: wall, steps_sum_ms: sum, unaccounted_ms: max(0, wall - sum),
                                        kernel_ms: kernelTime, conversion_ms: conversion, requantization: requantization, steps: steps)
    }

    // MARK: - Pipeline

    struct MeasuredPipeline {
        var kind: String
        var source: String
        var format: String
        var threads: Int
        var int8Input: Bool
        var warmup: [Double]
        var stages: [String: LatencyHistogram]
        var endToEnd: LatencyHistogram
        var stats: CaptureStats
        var elapsed: Double
        var device: String? = nil
        var driverDropped: Int? = nil
        var corruptFrames: Int? = nil

        func result(conditions: ProbeResult.Conditions) -> ProbeResult.Pipeline {
            ProbeResult.Pipeline(kind: kind, source: source, format: format, threads: threads, int8_input: int8Input,
                                 warmup_frames: warmup.count, frames: endToEnd.count, captured: Int(stats.captured),
                                 dropped: Int(stats.dropped), reopens: Int(stats.reopens), device: device, driver_dropped: driverDropped,
                                 corrupt_frames: corruptFrames, elapsed_seconds: elapsed,
                                 results_per_second: Double(endToEnd.count) / max(elapsed, 1e-9),
                                 stages: stages.mapValues(\.summary), camera_to_result: endToEnd.summary,
                                 camera_to_result_histogram: endToEnd.buckets(40), warmup_ms: warmup, conditions: conditions)
        }
    }

    /// The pipeline's source, opened once and closed again so that a missing or unusable camera is an error before
    /// anything is measured, not a silent retry loop afterwards.
    func openSource(_ source: ProbeSource) throws -> (source: FrameSource, format: String) {
        let frameSource: FrameSource
        var format: String
        switch source {
        case let .pattern(width, height, fps, pixelFormat):
            frameSource = TestPatternSource(width: width, height: height, fps: fps, format: pixelFormat)
            format = "\(width)x\(height) \(pixelFormat.rawValue) \(Self.number(fps)) fps"
        case .camera(let configuration):
            frameSource = V4L2Camera(configuration)
            format = "\(configuration.width)x\(configuration.height) \(configuration.pixelFormat?.rawValue ?? "auto") \(configuration.fps) fps (asked)"
        }
        do {
            try frameSource.open()
            if let camera = frameSource as? V4L2Camera, let n = camera.negotiated {
                format = "\(n.width)x\(n.height) \(n.format.rawValue) \(Self.number(n.fps)) fps"
            }
            frameSource.close()
        } catch {
            throw ProbeError("\(frameSource.name): \(error)")
        }
        return (frameSource, format)
    }

    func measurePipeline(_ source: ProbeSource, opened: (source: FrameSource, format: String), budget: Double,
                         sampler: SystemSampler) throws -> MeasuredPipeline {
        let model = inputs.model
        let spec = model.preprocess
        let (frameSource, format) = opened
        let threads = settings.pipelineThreads ?? headline.threads
        // As the daemon runs it: int8 input, threads pinned (this thread too, until the pipeline is measured).
        let affinity = CPUAffinity.allowedCPUs()
        defer { CPUAffinity.bindCurrentThread(to: affinity) }
        let session = try makeSession(threads: threads, int8Input: true, pinThreads: true)
        try session.prepare(inputShape: Shape([1, spec.channels, spec.inputHeight, spec.inputWidth]))
        let int8 = try session.int8InputBuffer()
        let floatInput = int8 == nil ? try session.inputBuffer() : nil

        let capture = LatestFrameCapture(source: frameSource, reopenBackoff: [0.2, 0.5, 1], stallTimeout: max(2, settings.frameTimeout / 2))
        capture.start()
        defer { capture.stop() }

        var stages = Dictionary(uniqueKeysWithValues: ProbeResult.Pipeline.stageNames.map { ($0, LatencyHistogram()) })
        var endToEnd = LatencyHistogram()
        var warmup: [Double] = []
        var preprocessor: FramePreprocessor? = nil
        var last: UInt64 = 0
        var waitingSince = probeClock()
        var start = probeClock()
        var measuredStart: Double? = nil
        while true {
            let t0 = probeClock()
            if let ms = measuredStart, endToEnd.count >= settings.minRuns, t0 - ms >= budget { break }
            guard let frame = capture.next(after: last, timeout: 0.5) else {
                if probeClock() - waitingSince > settings.frameTimeout {
                    let stats = capture.stats
                    throw ProbeError("\(frameSource.name): no frame for \(Self.number(settings.frameTimeout)) s"
                                     + (stats.lastError.map { " (\($0))" } ?? ""))
                }
                continue
            }
            let t1 = probeClock()
            waitingSince = t1
            last = frame.sequence
            if preprocessor == nil || preprocessor!.frameWidth != frame.width || preprocessor!.frameHeight != frame.height
                || preprocessor!.format != frame.format {
                preprocessor = try FramePreprocessor(spec: spec, frameWidth: frame.width, frameHeight: frame.height, format: frame.format)
            }
            if let int8 {
                try preprocessor!.preprocess(frame, into: int8.pointer, scale: int8.quantization.scale, zeroPoint: int8.quantization.zeroPoint)
            } else {
                try preprocessor!.preprocess(frame, into: floatInput!)
            }
            let t2 = probeClock()
            try session.execute()
            let t3 = probeClock()
            _ = try Self.publish(session.output(), sequence: frame.sequence, timestamp: frame.timestamp, model: model)
            let t4 = probeClock()
            sampler.addInferences(1)
            let e2e = t4 - frame.timestamp
            if warmup.count < settings.pipelineWarmupFrames {
                warmup.append(e2e * 1000)
                continue
            }
            if measuredStart == nil { measuredStart = t0; start = t0 }
            stages["capture_wait"]!.record(seconds: t1 - t0)
            stages["preprocess"]!.record(seconds: t2 - t1)
            stages["inference"]!.record(seconds: t3 - t2)
            stages["publish"]!.record(seconds: t4 - t3)
            endToEnd.record(seconds: e2e)
        }
        let elapsed = probeClock() - start
        let stats = capture.stats
        capture.stop()
        var measured = MeasuredPipeline(kind: source.kind, source: frameSource.name, format: format, threads: threads, int8Input: int8 != nil,
                                        warmup: warmup, stages: stages, endToEnd: endToEnd, stats: stats, elapsed: elapsed)
        if let camera = frameSource as? V4L2Camera {
            // The capture thread has stopped: the camera's facts are safe to read.
            measured.device = [camera.driver, camera.card].filter { !$0.isEmpty }.joined(separator: ": ")
                + (camera.busInfo.isEmpty ? "" : " (\(camera.busInfo))")
            measured.driverDropped = Int(camera.driverDropped)
            measured.corruptFrames = Int(camera.corruptFrames)
            if let n = camera.negotiated { measured.format = "\(n.width)x\(n.height) \(n.format.rawValue) \(Self.number(n.fps)) fps" }
        }
        return measured
    }

    /// What the daemon publishes per frame: top-5 with probabilities, as one JSON line (its byte count is returned).
    static func publish(_ output: OutputTensor, sequence: UInt64, timestamp: Double, model: ClassificationModel) throws -> Int {
        let logits = output.values
        let maxLogit = logits.max() ?? 0
        let exps = logits.map { exp(Double($0 - maxLogit)) }
        let total = exps.reduce(0, +)
        let top = exps.indices.sorted { exps[$0] > exps[$1] }.prefix(5)
        let object: [String: Any] = [
            "sequence": sequence, "timestamp": timestamp,
            "top": top.map { ["class": $0, "label": model.label($0), "probability": exps[$0] / total] as [String: Any] },
        ]
        return jsonText(object).utf8.count
    }

    // MARK: - Conditions, timeline, warnings

    static func conditions(_ samples: [SystemSample], from phase: ProbeResult.Phase) -> ProbeResult.Conditions {
        let inside = samples.filter { $0.t >= phase.start_s - 1e-9 && $0.t <= phase.end_s + 1e-9 }
        func range(_ values: [Double]) -> ProbeResult.Range? {
            guard let lo = values.min(), let hi = values.max() else { return nil }
            return .init(min: lo, mean: values.reduce(0, +) / Double(values.count), max: hi)
        }
        let throttled: Bool? = inside.contains { $0.throttled == true } ? true : (inside.contains { $0.throttled == false } ? false : nil)
        // Flags set now, plus "has occurred" bits that turned on during the phase (a throttle between two samples).
        let before = samples.last { $0.t < phase.start_s - 1e-9 }?.throttle_flags ?? inside.first?.throttle_flags ?? 0
        var flags: UInt32 = 0
        for s in inside { if let f = s.throttle_flags { flags |= (f & RaspberryPiThrottling.currentMask) | (f & ~before & RaspberryPiThrottling.occurredMask) } }
        let occurredNew = flags & RaspberryPiThrottling.occurredMask != 0
        return .init(start_s: phase.start_s, end_s: phase.end_s, samples: inside.count, cpu_mhz: range(inside.compactMap(\.meanMHz)),
                     temperature_c: range(inside.compactMap(\.maxTemperature)),
                     throttled: occurredNew ? true : throttled, throttle_flags: RaspberryPiThrottling.decode(flags))
    }

    static func timeline(_ samples: [SystemSample], sensors: SystemSensors, interval: Double, phases: [ProbeResult.Phase]) -> ProbeResult.Timeline {
        let reading = sensors.read()
        let throttled: Bool? = samples.contains { $0.throttled == true } ? true : (samples.contains { $0.throttled == false } ? false : nil)
        let flags = samples.reduce(UInt32(0)) { $0 | ($1.throttle_flags ?? 0) }
        return ProbeResult.Timeline(
            interval_seconds: interval, origin: sensors.origin, cpufreq: sensors.cpufreq, cpufreq_max_mhz: reading.max_mhz,
            thermal: sensors.thermal, throttling: sensors.throttling, throttling_format: sensors.throttlingFormat,
            readable: .init(frequency: sensors.canReadFrequency, temperature: sensors.canReadTemperature, throttling: sensors.canReadThrottling),
            notes: sensors.notes, phases: phases, samples: samples, throttled: throttled, throttle_flags: RaspberryPiThrottling.decode(flags))
    }

    static func warnings(_ r: ProbeResult) -> [String] {
        var w: [String] = []
        if let load = r.machine.load_average?.first, load >= 0.5 * Double(r.machine.cores) {
            w.append(String(printf: "the machine was busy before the run (load average %.2f on %d cores): other work shares the CPU, so latencies are higher and noisier than on an idle machine", load, r.machine.cores))
        }
        if let qemu = r.machine.qemu_cpu {
            w.append("running under qemu-user (QEMU_CPU=\(qemu)): the figures are emulation figures, not the board's")
        }
        for c in r.configurations where c.conditions.throttled == true {
            let flags = c.conditions.throttle_flags.isEmpty ? "clock below its maximum" : c.conditions.throttle_flags.joined(separator: ", ")
            w.append("\(c.key.short) THROTTLED while it ran (\(flags)): its figures are not the board's full speed")
        }
        if let p = r.pipeline, p.conditions.throttled == true {
            w.append("the pipeline THROTTLED while it ran (\(p.conditions.throttle_flags.joined(separator: ", ")))")
        }
        if let threads = r.settings.threads.max(), threads > r.machine.cores {
            w.append("\(threads) threads on \(r.machine.cores) cores: the extra threads time-share cores")
        }
        for c in r.configurations where c.latency.count > 0 && c.latency.stddev_ms > 0.25 * c.latency.mean_ms {
            w.append(String(printf: "%@: latency varies a lot (stddev %.0f %% of the mean)", c.key.short, c.latency.stddev_ms / c.latency.mean_ms * 100))
        }
        if let p = r.pipeline, p.dropped > 0 {
            w.append("pipeline: \(p.dropped) frames replaced before use (the model is slower than the source)")
        }
        return w
    }

    /// "INT8, kernels avx2: a, b", "FP32", "mixed INT8/FP32 (FP32 nodes: x)", "FP32 with fake quantization".
    static func precisionSummary(_ session: InferenceSession) -> String {
        guard session.runsINT8 else {
            return session.valueQuantization.contains { $0 != nil } ? "FP32 with fake quantization" : "FP32"
        }
        let fp32 = session.fp32Nodes
        let head = fp32.isEmpty ? "INT8" : "mixed INT8/FP32 (FP32 nodes: \(fp32.joined(separator: ", ")))"
        var summary = head + ", kernels \(session.kernelVariant): " + session.kernelNames.joined(separator: ", ")
        if session.prepacked != nil {
            summary += "; \(session.prepackedNodes.count) layers read their packed weights in place from the model file"
        }
        return summary
    }

    static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e9 ? String(Int(x)) : String(printf: "%g", x)
    }
}

/// A small deterministic generator for the benchmark input.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
