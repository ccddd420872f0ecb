import EdgeBoards
import EdgeProbe
import Foundation
import Testing
@testable import EdgeDaemon

/// Board sensors from sysfs (a fake tree), and the metrics they become.
@Suite struct MetricsTests {
    func tree(_ files: [String: String]) throws -> URL {
        let dir = try Paths.temporaryDirectory()
        for (path, content) in files {
            let url = dir.appendingPathComponent(String(path.dropFirst()))
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: url, atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test func raspberryPiSensorsBecomeGauges() throws {
        let rpi4 = try BoardCatalog.builtin().profile(named: "rpi4")
        let s = rpi4.sysfs
        let dir = try tree([s.thermal_zone!: "61234\n", s.cpufreq_current!: "1500000\n", s.cpufreq_max!: "1800000\n",
                            s.throttling!: "0x50005\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let sensors = SystemSensors.discover(profile: rpi4, root: dir.path)
        let metrics = DaemonMetrics()
        metrics.updateBoard(sensors.read(), sensors: sensors)
        var text = Metrics.parse(String(decoding: metrics.render(), as: UTF8.self))
        #expect(text.value("resnet_edge_cpu_temperature_celsius") == 61.234)
        #expect(text.value("resnet_edge_cpu_frequency_hertz") == 1.5e9)
        #expect(text.value("resnet_edge_cpu_frequency_max_hertz") == 1.8e9)
        #expect(text.value("resnet_edge_throttle_flags") == Double(0x50005))
        #expect(text.value("resnet_edge_cpu_throttled") == 1)   // bits 0 and 2: under-voltage and throttled, now
        #expect(text.malformed.isEmpty)

        try "0x50000\n".write(to: dir.appendingPathComponent(String(s.throttling!.dropFirst())), atomically: true, encoding: .utf8)
        metrics.updateBoard(sensors.read(), sensors: sensors)
        text = Metrics.parse(String(decoding: metrics.render(), as: UTF8.self))
        #expect(text.value("resnet_edge_cpu_throttled") == 0)   // only "has occurred" bits
    }

    @Test func cpufreqBelowMaxAndFilesThatVanish() throws {
        let nano = try BoardCatalog.builtin().profile(named: "jetson-nano")
        let dir = try tree([nano.sysfs.cpufreq_current!: "921600", nano.sysfs.cpufreq_max!: "1479000"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let sensors = SystemSensors.discover(profile: nano, root: dir.path)
        #expect(!sensors.canReadTemperature)   // no thermal zone file here, and it says so
        #expect(sensors.notes.contains { $0.hasPrefix("temperature") })

        // Readable values appear, unreadable ones are absent (not 0).
        let metrics = DaemonMetrics()
        metrics.updateBoard(sensors.read(), sensors: sensors)
        var text = Metrics.parse(String(decoding: metrics.render(), as: UTF8.self))
        #expect(text.value("resnet_edge_cpu_frequency_hertz") == 921_600_000)
        #expect(text.value("resnet_edge_cpu_throttled") == 1)   // 921.6 MHz < 95 % of 1479 MHz
        #expect(text.value("resnet_edge_cpu_temperature_celsius") == nil)
        try FileManager.default.removeItem(at: dir.appendingPathComponent(String(nano.sysfs.cpufreq_current!.dropFirst())))
        metrics.updateBoard(sensors.read(), sensors: sensors)
        text = Metrics.parse(String(decoding: metrics.render(), as: UTF8.self))
        #expect(text.value("resnet_edge_cpu_frequency_hertz") == nil)
        #expect(text.value("resnet_edge_cpu_throttled") == nil)
        #expect(text.value("resnet_edge_cpu_frequency_max_hertz") == 1_479_000_000)
    }

    @Test func latencyQuantilesOverTheRecentWindow() throws {
        let metrics = DaemonMetrics()
        // 1..100 ms of inference at t = 1000 s, then 500 ms values 90 s later: the first batch has left the window.
        for ms in 1...100 { metrics.record(.inference, seconds: Double(ms) / 1000, now: 1000) }
        metrics.refreshQuantiles(now: 1001)
        var text = Metrics.parse(String(decoding: metrics.render(), as: UTF8.self))
        let q = { (label: String) in text.value("resnet_edge_latency_quantile_seconds", ["stage": "inference", "quantile": label]) }
        let p50 = try #require(q("0.5")), p90 = try #require(q("0.9")), p99 = try #require(q("0.99")), max = try #require(q("1"))
        #expect(abs(p50 - 0.050) < 0.0001 && abs(p90 - 0.090) < 0.0001 && abs(p99 - 0.099) < 0.0001)
        #expect(max == 0.1)
        #expect(p50 <= p90 && p90 <= p99 && p99 <= max)
        // A stage with nothing recorded has no quantiles at all.
        #expect(text.value("resnet_edge_latency_quantile_seconds", ["stage": "preprocess"]) == nil)

        for _ in 0..<10 { metrics.record(.inference, seconds: 0.5, now: 1090) }
        metrics.refreshQuantiles(now: 1091)
        text = Metrics.parse(String(decoding: metrics.render(), as: UTF8.self))
        #expect(abs((q("0.5") ?? 0) - 0.5) < 0.001)
        metrics.refreshQuantiles(now: 1200)   // an idle minute later: the window is empty, the gauges go
        text = Metrics.parse(String(decoding: metrics.render(), as: UTF8.self))
        #expect(q("0.5") == nil)
    }

    @Test func modelInfoIsReplacedOnReload() {
        let metrics = DaemonMetrics()
        metrics.setModelInfo(ModelIdentity(name: "a.onnx", path: "/m/a.onnx", sha256: "ab", precision: "FP32", kernels: "fp32", board: "rpi4", classes: 10))
        metrics.setModelInfo(ModelIdentity(name: "b.rem", path: "/m/b.rem", sha256: "cd", precision: "INT8", kernels: "neon", board: "rpi4", classes: 1000))
        let text = Metrics.parse(String(decoding: metrics.render(), as: UTF8.self))
        let infos = text.samples.filter { $0.name == "resnet_edge_model_info" }
        #expect(infos.count == 1)
        #expect(infos.first?.labels["model"] == "b.rem")
        #expect(infos.first?.labels["classes"] == "1000")
        #expect(text.malformed.isEmpty)
    }

    @Test func captureCountersGrowByDeltasAcrossCaptures() {
        let metrics = DaemonMetrics()
        let a = NSObject(), b = NSObject()
        metrics.syncCapture(id: ObjectIdentifier(a), captured: 10, dropped: 2, reopens: 1, healthy: true)
        metrics.syncCapture(id: ObjectIdentifier(a), captured: 15, dropped: 3, reopens: 1, healthy: true)
        // A new capture (after a reload) starts from zero again.
        metrics.syncCapture(id: ObjectIdentifier(b), captured: 4, dropped: 0, reopens: 0, healthy: false)
        let text = Metrics.parse(String(decoding: metrics.render(), as: UTF8.self))
        #expect(text.value("resnet_edge_frames_captured_total") == 19)
        #expect(text.value("resnet_edge_frames_dropped_total") == 3)
        #expect(text.value("resnet_edge_camera_reopens_total") == 1)
        #expect(text.value("resnet_edge_camera_healthy") == 0)
    }
}
