import EdgeCapture
import EdgeProbe
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport
import Prometheus

/// The daemon's Prometheus metrics (GET /metrics), on swift-prometheus's registry: thread-safe collectors the
/// pipeline thread updates directly, and the text exposition format rendered by the library.
public final class DaemonMetrics: @unchecked Sendable {
    public let registry = PrometheusCollectorRegistry()

    public enum Stage: String, CaseIterable, Sendable {
        /// Waiting for the next frame after the previous result (idle time when the model outruns the camera).
        case captureWait = "capture_wait"
        case preprocess
        case inference
        case publish
    }

    public let framesCaptured: Counter
    public let framesDropped: Counter
    public let framesClassified: Counter
    public let resultsPublished: Counter
    public let clientsDropped: Counter
    public let clients: Gauge
    public let cameraHealthy: Gauge
    public let cameraReopens: Counter
    public let healthy: Gauge
    public let lastResultAge: Gauge
    public let framesPerSecond: Gauge
    public let reloadsSucceeded: Counter
    public let reloadsFailed: Counter
    private let stages: [Stage: ValueHistogram]
    private let endToEndHistogram: ValueHistogram
    /// The same latencies in HDR histograms over a recent window, for the probe's percentiles (p50 ... p99.9, max)
    /// live: Prometheus buckets give only bucket-edge resolution.
    private let recent: [String: SlidingLatencyWindow]
    private var quantileGauges: [String: Gauge] = [:]
    public static let recentWindowSeconds = 60.0
    public static let quantiles: [(label: String, percentile: Double)] = [("0.5", 50), ("0.9", 90), ("0.99", 99), ("0.999", 99.9), ("1", 100)]

    /// Board sensor gauges (metric and label), registered only while their sysfs file is readable (absent, rather
    /// than a fake 0).
    private var sensorGauges: [String: Gauge] = [:]

    private let lock = Lock()
    private var modelInfo: Gauge?
    private var lastCapture: (id: ObjectIdentifier, captured: UInt64, dropped: UInt64, reopens: UInt64)?

    /// Seconds: 0.25 ms to 10 s, covering a tiny model on a fast CPU up to ResNet50 on a Pi 4 at one thread.
    public static let latencyBuckets: [Double] = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25,
                                                  0.5, 0.75, 1, 2.5, 5, 10]

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "resnet_edge", metricName: metric, unitName: unit, helpText: help)
    }

    public init() {
        let r = registry
        framesCaptured = r.makeCounter(descriptor: Self.name("frames_captured", "total", "Frames the source delivered."))
        framesDropped = r.makeCounter(descriptor: Self.name("frames_dropped", "total",
                                                            "Frames replaced by a newer one before the pipeline took them (the model is slower than the camera)."))
        framesClassified = r.makeCounter(descriptor: Self.name("frames_classified", "total", "Frames classified."))
        resultsPublished = r.makeCounter(descriptor: Self.name("results_published", "total", "Results sent to stream clients (after publish_hz)."))
        clientsDropped = r.makeCounter(descriptor: Self.name("clients_dropped", "total", "Stream clients disconnected for reading too slowly."))
        clients = r.makeGauge(descriptor: Self.name("clients", "", "Connected stream clients (Unix socket and /events)."))
        cameraHealthy = r.makeGauge(descriptor: Self.name("camera_healthy", "", "1 while the source delivers frames, 0 while it is gone or failing."))
        cameraReopens = r.makeCounter(descriptor: Self.name("camera_reopens", "total", "Times the source was reopened after a failure."))
        healthy = r.makeGauge(descriptor: Self.name("healthy", "", "1 when frames are being classified (what /healthz says)."))
        lastResultAge = r.makeGauge(descriptor: Self.name("last_result_age", "seconds", "Seconds since the last classification."))
        framesPerSecond = r.makeGauge(descriptor: Self.name("classification_rate", "hertz", "Classifications per second over the last few seconds."))
        reloadsSucceeded = r.makeCounter(descriptor: Self.name("reloads", "total", "Configuration reloads (SIGHUP)."), labels: [("result", "ok")])
        reloadsFailed = r.makeCounter(descriptor: Self.name("reloads", "total", "Configuration reloads (SIGHUP)."), labels: [("result", "failed")])
        var stages: [Stage: ValueHistogram] = [:]
        for stage in Stage.allCases {
            stages[stage] = r.makeValueHistogram(descriptor: Self.name("stage_duration", "seconds", "Time per pipeline stage and frame."),
                                                 labels: [("stage", stage.rawValue)], buckets: Self.latencyBuckets)
        }
        self.stages = stages
        endToEndHistogram = r.makeValueHistogram(descriptor: Self.name("capture_to_result", "seconds",
                                                                       "From the frame's capture timestamp to its published result."),
                                                 buckets: Self.latencyBuckets)
        var recent: [String: SlidingLatencyWindow] = [:]
        for key in Stage.allCases.map(\.rawValue) + [Self.captureToResult] {
            recent[key] = SlidingLatencyWindow(window: Self.recentWindowSeconds)
        }
        self.recent = recent
    }

    /// The `stage` label of the capture-to-result percentiles.
    public static let captureToResult = "capture_to_result"

    public func record(_ stage: Stage, seconds: Double, now: Double = monotonicSeconds()) {
        stages[stage]!.record(max(0, seconds))
        recent[stage.rawValue]!.record(seconds: max(0, seconds), now: now)
    }

    /// From a frame's capture timestamp to its published result.
    public func recordCaptureToResult(seconds: Double, now: Double = monotonicSeconds()) {
        endToEndHistogram.record(max(0, seconds))
        recent[Self.captureToResult]!.record(seconds: max(0, seconds), now: now)
    }

    /// Sets `resnet_edge_latency_quantile_seconds{stage, quantile}` from the last minute's HDR histograms (the probe's
    /// p50/p90/p99/p99.9/max, quantile "1" being the maximum); a stage with no value in the window is absent.
    public func refreshQuantiles(now: Double = monotonicSeconds()) {
        lock.lock()
        defer { lock.unlock() }
        for (stage, window) in recent.sorted(by: { $0.key < $1.key }) {
            let histogram = window.merged(now: now)
            for q in Self.quantiles {
                let key = stage + "|" + q.label
                if histogram.count == 0 {
                    if let gauge = quantileGauges.removeValue(forKey: key) { registry.unregisterGauge(gauge) }
                    continue
                }
                let gauge = quantileGauges[key] ?? registry.makeGauge(
                    descriptor: Self.name("latency_quantile", "seconds",
                                          "Latency percentiles per pipeline stage over the last \(Int(Self.recentWindowSeconds)) s (HDR histogram, 3 significant digits; quantile 1 is the maximum)."),
                    labels: [("stage", stage), ("quantile", q.label)])
                gauge.set(to: histogram.seconds(atPercentile: q.percentile))
                quantileGauges[key] = gauge
            }
        }
    }

    /// The model/board info gauge (value 1), replaced when a reload swaps the model.
    public func setModelInfo(_ m: ModelIdentity) {
        lock.lock()
        defer { lock.unlock() }
        if let old = modelInfo { registry.unregisterGauge(old) }
        let gauge = registry.makeGauge(descriptor: Self.name("model_info", "", "The model being served, how it runs and the board it runs on."),
                                       labels: [("model", m.name), ("path", m.path), ("sha256", m.sha256), ("board", m.board),
                                                ("precision", m.precision), ("kernels", m.kernels), ("classes", String(m.classes))])
        gauge.set(to: 1)
        modelInfo = gauge
    }

    /// Adds what a capture's cumulative counters grew by since the last call (a new capture object after a reload
    /// starts from zero).
    public func syncCapture(id: ObjectIdentifier, captured: UInt64, dropped: UInt64, reopens: UInt64, healthy: Bool) {
        lock.lock()
        let previous = lastCapture?.id == id ? lastCapture! : (id: id, captured: 0, dropped: 0, reopens: 0)
        lastCapture = (id, captured, dropped, reopens)
        lock.unlock()
        if captured > previous.captured { framesCaptured.increment(by: Int64(captured - previous.captured)) }
        if dropped > previous.dropped { framesDropped.increment(by: Int64(dropped - previous.dropped)) }
        if reopens > previous.reopens { cameraReopens.increment(by: Int64(reopens - previous.reopens)) }
        cameraHealthy.set(to: healthy ? 1 : 0)
    }

    private var lastPublished: UInt64 = 0

    /// Adds what the broadcaster's published count grew by.
    public func syncPublished(_ published: UInt64) {
        lock.lock()
        let delta = published > lastPublished ? published - lastPublished : 0
        lastPublished = max(lastPublished, published)
        lock.unlock()
        if delta > 0 { resultsPublished.increment(by: Int64(delta)) }
    }

    /// CPU clock, temperature and throttling from EdgeProbe's sensors (the board profile's sysfs files, else the host's),
    /// one gauge per readable file labelled by its policy/CPU or thermal zone.
    public func updateBoard(_ reading: SensorReading, sensors: SystemSensors) {
        var values: [(metric: String, unit: String, help: String, labels: [(String, String)], value: Double?)] = []
        for (file, mhz) in zip(sensors.cpufreq, reading.cpu_mhz) {
            values.append(("cpu_frequency", "hertz", "Current CPU clock.", [("cpu", file.label)], mhz.map { $0 * 1e6 }))
        }
        for (file, mhz) in zip(sensors.cpufreqMax, reading.max_mhz) {
            guard let file else { continue }
            values.append(("cpu_frequency_max", "hertz", "Maximum CPU clock.", [("cpu", file.label)], mhz.map { $0 * 1e6 }))
        }
        for (file, celsius) in zip(sensors.thermal, reading.temperature_c) {
            values.append(("cpu_temperature", "celsius", "Temperature per thermal zone.", [("zone", file.label)], celsius))
        }
        values.append(("cpu_throttled", "", "1 while the board throttles (firmware flags, or the clock below 95 % of its maximum).", [],
                       reading.throttledNow.map { $0 ? 1 : 0 }))
        values.append(("throttle_flags", "", "Raspberry Pi firmware get_throttled bits.", [], reading.throttle_flags.map(Double.init)))

        lock.lock()
        defer { lock.unlock() }
        var present = Set<String>()
        for v in values {
            let key = ([v.metric] + v.labels.map { "\($0.0)=\($0.1)" }).joined(separator: "|")
            guard let value = v.value else { continue }
            let gauge = sensorGauges[key] ?? registry.makeGauge(descriptor: Self.name(v.metric, v.unit, v.help), labels: v.labels)
            gauge.set(to: value)
            sensorGauges[key] = gauge
            present.insert(key)
        }
        for (key, gauge) in sensorGauges where !present.contains(key) {
            registry.unregisterGauge(gauge)
            sensorGauges.removeValue(forKey: key)
        }
    }

    /// The exposition text (Prometheus text format 0.0.4).
    public func render() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        return buffer
    }
}
