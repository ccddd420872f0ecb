import EdgeBoards
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

    @Test func raspberryPiSensors() throws {
        let rpi4 = try BoardCatalog.builtin().profile(named: "rpi4")
        let s = rpi4.sysfs
        let dir = try tree([s.thermal_zone!: "61234\n", s.cpufreq_current!: "1500000\n", s.cpufreq_max!: "1800000\n",
                            s.throttling!: "0x50005\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        var sensors = BoardSensors(profile: rpi4)
        sensors.root = dir.path
        let r = sensors.read()
        #expect(r.temperatureCelsius == 61.234)
        #expect(r.frequencyHertz == 1.5e9)
        #expect(r.maxFrequencyHertz == 1.8e9)
        #expect(r.throttleFlags == 0x50005)
        #expect(r.throttled == true)   // bits 0 and 2: under-voltage and throttled, now

        try "0x50000\n".write(to: dir.appendingPathComponent(String(s.throttling!.dropFirst())), atomically: true, encoding: .utf8)
        #expect(sensors.read().throttled == false)   // only "has occurred" bits
    }

    @Test func cpufreqBelowMaxAndMissingFiles() throws {
        let nano = try BoardCatalog.builtin().profile(named: "jetson-nano")
        let dir = try tree([nano.sysfs.cpufreq_current!: "921600", nano.sysfs.cpufreq_max!: "1479000"])
        defer { try? FileManager.default.removeItem(at: dir) }
        var sensors = BoardSensors(profile: nano)
        sensors.root = dir.path
        let r = sensors.read()
        #expect(r.throttled == true)
        #expect(r.temperatureCelsius == nil)   // no thermal zone file here
        #expect(r.throttleFlags == nil)

        // Metrics: readable values appear, unreadable ones are absent (not 0).
        let metrics = DaemonMetrics()
        metrics.updateBoard(r)
        var text = Metrics.parse(String(decoding: metrics.render(), as: UTF8.self))
        #expect(text.value("resnet_edge_cpu_frequency_hertz") == 921_600_000)
        #expect(text.value("resnet_edge_cpu_throttled") == 1)
        #expect(text.value("resnet_edge_cpu_temperature_celsius") == nil)
        metrics.updateBoard(BoardSensors.Reading())
        text = Metrics.parse(String(decoding: metrics.render(), as: UTF8.self))
        #expect(text.value("resnet_edge_cpu_frequency_hertz") == nil)
    }

    @Test func modelInfoIsReplacedOnReload() {
        let metrics = DaemonMetrics()
        metrics.setModelInfo(model: "a.onnx", path: "/m/a.onnx", board: "rpi4", precision: "FP32", kernels: "fp32", classes: 10)
        metrics.setModelInfo(model: "b.rem", path: "/m/b.rem", board: "rpi4", precision: "INT8 (neon)", kernels: "neon", classes: 1000)
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
