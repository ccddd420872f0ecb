import EdgeBoards
import EdgeProbe
import Foundation
import Testing
import TestSupport

/// A fake sysfs tree in a temporary directory (SystemSensors' `root`).
struct FakeSysfs {
    let root: URL

    init(cpus: Int = 4, mhz: Int = 1800, maxMHz: Int = 1800, zones: [(type: String, milli: Int)] = [("cpu-thermal", 48_500)],
         throttled: String? = nil, policy: Bool = true) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("probe-sysfs-\(UUID().uuidString)")
        for cpu in 0..<cpus {
            try write("/sys/devices/system/cpu/cpu\(cpu)/cpufreq/scaling_cur_freq", "\(mhz * 1000)\n")
            try write("/sys/devices/system/cpu/cpu\(cpu)/cpufreq/cpuinfo_max_freq", "\(maxMHz * 1000)\n")
        }
        if policy {
            try write("/sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq", "\(mhz * 1000)\n")
            try write("/sys/devices/system/cpu/cpufreq/policy0/cpuinfo_max_freq", "\(maxMHz * 1000)\n")
        }
        for (i, zone) in zones.enumerated() {
            try write("/sys/class/thermal/thermal_zone\(i)/type", zone.type + "\n")
            try write("/sys/class/thermal/thermal_zone\(i)/temp", "\(zone.milli)\n")
        }
        if let throttled { try write(RaspberryPiThrottling.defaultPath, throttled + "\n") }
    }

    func write(_ path: String, _ text: String) throws {
        let url = URL(fileURLWithPath: root.path + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

@Suite struct SamplingTests {
    @Test func throttleFlagsDecodeAsTheFirmwareDocumentsThem() {
        #expect(RaspberryPiThrottling.parse("50005") == 0x50005)
        #expect(RaspberryPiThrottling.parse("throttled=0x50005\n") == 0x50005)
        #expect(RaspberryPiThrottling.parse("0x0") == 0)
        #expect(RaspberryPiThrottling.parse("zz") == nil)
        #expect(RaspberryPiThrottling.parse("") == nil)
        #expect(RaspberryPiThrottling.decode(0x50005) == ["under-voltage detected", "currently throttled", "under-voltage has occurred",
                                                           "throttling has occurred"])
        #expect(RaspberryPiThrottling.decode(0x8_0008) == ["soft temperature limit active", "soft temperature limit has occurred"])
        #expect(RaspberryPiThrottling.decode(0) == [])
        #expect(RaspberryPiThrottling.decode(1 << 5) == ["bit 5"])
    }

    @Test func hostDiscoveryFindsEveryCPUAndZone() throws {
        let fake = try FakeSysfs(cpus: 2, mhz: 1500, maxMHz: 2400, zones: [("cpu-thermal", 51_000), ("gpu-thermal", 47_250)], policy: false)
        defer { fake.remove() }
        let sensors = SystemSensors.discover(profile: nil, root: fake.root.path)
        #expect(sensors.cpufreq.map(\.label) == ["cpu0", "cpu1"])
        #expect(sensors.thermal.map(\.label) == ["cpu-thermal (zone0)", "gpu-thermal (zone1)"])
        #expect(sensors.throttling == nil && sensors.throttlingFormat == "none")
        #expect(sensors.notes.contains { $0.hasPrefix("throttling: not readable") })
        let r = sensors.read()
        #expect(r.cpu_mhz == [1500, 1500] && r.max_mhz == [2400, 2400])
        #expect(r.temperature_c == [51, 47.25])
        #expect(r.throttledNow == nil)
    }

    @Test func nothingReadableIsSaidSo() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("probe-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        let sensors = SystemSensors.discover(profile: nil, root: empty.path)
        #expect(!sensors.canReadFrequency && !sensors.canReadTemperature && !sensors.canReadThrottling)
        #expect(sensors.origin == "none readable")
        #expect(sensors.notes.count == 3 && sensors.notes.allSatisfy { $0.contains("not readable") })
        let r = sensors.read()
        #expect(r.cpu_mhz.isEmpty && r.temperature_c.isEmpty && r.throttle_flags == nil)
    }

    @Test func raspberryPiProfilePathsAndFlags() throws {
        let fake = try FakeSysfs(cpus: 4, mhz: 1500, maxMHz: 1800, throttled: "50005")
        defer { fake.remove() }
        let rpi4 = try BoardCatalog.builtin().profile(named: "rpi4")
        let sensors = SystemSensors.discover(profile: rpi4, root: fake.root.path)
        #expect(sensors.origin == "board profile rpi4")
        #expect(sensors.cpufreq.map(\.label) == ["policy0"])
        #expect(sensors.throttlingFormat == "raspberrypi-get-throttled" && sensors.throttling != nil)
        #expect(sensors.notes.isEmpty)
        let r = sensors.read()
        #expect(r.throttle_flags == 0x50005 && r.throttledNow == true)
        try fake.write(RaspberryPiThrottling.defaultPath, "50000\n")
        #expect(sensors.read().throttledNow == false)
    }

    @Test func aProfilePathThisMachineLacksFallsBackToTheHostFiles() throws {
        // The Jetson Nano profile reads thermal_zone1 under /sys/devices/virtual; the fake tree only has /sys/class.
        let fake = try FakeSysfs(cpus: 1, mhz: 900, maxMHz: 1479, zones: [("cpu-thermal", 40_000)])
        defer { fake.remove() }
        let nano = try BoardCatalog.builtin().profile(named: "jetson-nano")
        let sensors = SystemSensors.discover(profile: nano, root: fake.root.path)
        #expect(sensors.thermal.map(\.label) == ["cpu-thermal (zone0)"])
        #expect(sensors.notes.contains { $0.contains("thermal_zone1") && $0.contains("not readable here") })
        #expect(sensors.throttlingFormat == "cpufreq-below-max")
        // 900 of 1479 MHz: below 95 % of the maximum.
        #expect(sensors.read().throttledNow == true)
    }

    @Test func samplerRecordsPhasesInferencesAndChanges() throws {
        let fake = try FakeSysfs(cpus: 2, mhz: 1800, maxMHz: 1800, throttled: "0")
        defer { fake.remove() }
        let rpi5 = try BoardCatalog.builtin().profile(named: "rpi5")
        let sampler = SystemSampler(sensors: SystemSensors.discover(profile: rpi5, root: fake.root.path), interval: 0.01)
        sampler.setPhase("cool")
        sampler.start()
        sampler.addInferences(3)
        Thread.sleep(forTimeInterval: 0.06)
        try fake.write("/sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq", "1500000\n")
        try fake.write("/sys/class/thermal/thermal_zone0/temp", "81000\n")
        try fake.write(RaspberryPiThrottling.defaultPath, "80008\n")
        sampler.setPhase("hot")
        sampler.addInferences(4)
        Thread.sleep(forTimeInterval: 0.06)
        sampler.stop()
        let samples = sampler.samples
        #expect(samples.count >= 4)
        #expect(zip(samples, samples.dropFirst()).allSatisfy { $0.t <= $1.t })
        #expect(zip(samples, samples.dropFirst()).allSatisfy { $0.inferences <= $1.inferences })
        #expect(samples.last?.inferences == 7)
        #expect(samples.first?.cpu_mhz == [1800] && samples.first?.throttled == false)
        let hot = samples.filter { $0.phase == "hot" }
        #expect(!hot.isEmpty)
        #expect(hot.last?.cpu_mhz == [1500] && hot.last?.temperature_c == [81] && hot.last?.throttled == true)
        #expect(sampler.latest == samples.last)
    }

    @Test func samplerKeepsTheNewestSamplesWhenFull() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("probe-empty-\(UUID().uuidString)")
        let sampler = SystemSampler(sensors: SystemSensors.discover(profile: nil, root: empty.path), interval: 1, capacity: 3)
        for i in 0..<5 { sampler.setPhase("p\(i)"); sampler.sampleNow() }
        #expect(sampler.samples.map(\.phase) == ["p2", "p3", "p4"])
        #expect(sampler.latest?.phase == "p4")
    }

    @Test func processMemoryAndMachineFacts() {
        let m = ProcessMemory.read()
        #expect(m.max_rss_bytes > 1 << 20)
        if let hwm = m.vm_hwm_bytes, let rss = m.vm_rss_bytes { #expect(hwm >= rss) }
        let machine = MachineInfo.read()
        #expect(machine.cores >= 1 && !machine.architecture.isEmpty && machine.kernel.hasPrefix("Linux"))
    }
}

@Suite struct LatencyHistogramTests {
    @Test func percentilesOfAKnownDistribution() {
        var h = LatencyHistogram()
        for i in 1...1000 { h.record(seconds: Double(i) / 1000) }   // 1 ms ... 1000 ms
        let s = h.summary
        #expect(s.count == 1000)
        #expect(s.min_ms == 1 && s.max_ms == 1000)
        #expect(abs(s.p50_ms - 500) <= 0.5 + 1e-9)
        #expect(abs(s.p90_ms - 900) <= 0.9 + 1e-9)
        #expect(abs(s.p99_ms - 990) <= 1)
        #expect(abs(s.p999_ms - 999) <= 1)
        #expect(abs(s.mean_ms - 500.5) < 1e-9)
        #expect(abs(s.stddev_ms - 288.6749902572095) < 1e-6)
        #expect(s.isOrdered)
    }

    @Test func percentilesStayOrderedAndWithinTheExtremes() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            var h = LatencyHistogram()
            let n = Int.random(in: 1...300, using: &rng)
            for _ in 0..<n { h.record(seconds: exp(Double.random(in: -12 ... -1, using: &rng))) }
            let s = h.summary
            #expect(s.isOrdered, "\(s)")
            #expect(h.buckets(25).reduce(0) { $0 + $1.count } == n)
        }
    }

    @Test func emptyAndSingleValue() {
        var h = LatencyHistogram()
        #expect(h.summary == .empty && h.buckets().isEmpty)
        h.record(seconds: 0.0123)
        let s = h.summary
        #expect(s.count == 1 && s.min_ms == s.max_ms && s.p50_ms == s.max_ms && s.p999_ms == s.max_ms && s.stddev_ms == 0)
        #expect(h.buckets().map(\.count) == [1])
        h.record(seconds: -1)
        h.record(seconds: .nan)
        #expect(h.count == 1)
    }

    @Test func mergingEqualsRecordingEverything() {
        var a = LatencyHistogram(), b = LatencyHistogram(), all = LatencyHistogram()
        for i in 0..<500 {
            let v = 0.001 + Double(i % 37) * 0.0003
            if i % 3 == 0 { a.record(seconds: v) } else { b.record(seconds: v) }
            all.record(seconds: v)
        }
        a.add(b)
        let x = a.summary, y = all.summary
        #expect(x.count == y.count && x.p50_ms == y.p50_ms && x.p99_ms == y.p99_ms && x.max_ms == y.max_ms)
        #expect(abs(x.mean_ms - y.mean_ms) < 1e-9 && abs(x.stddev_ms - y.stddev_ms) < 1e-9)
    }

    @Test func sharedHistogramTakesIntervals() {
        let shared = SharedLatencyHistogram()
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for i in 0..<250 { shared.record(seconds: Double(t * 250 + i + 1) * 1e-5) }
        }
        #expect(shared.summary.count == 1000)
        #expect(shared.takeInterval().count == 1000)
        shared.record(seconds: 0.5)
        let interval = shared.takeInterval().summary
        #expect(interval.count == 1 && interval.max_ms == 500)
        #expect(shared.summary.count == 1001)
    }
}
