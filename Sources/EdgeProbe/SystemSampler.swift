#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import EdgeSupport

/// Seconds on CLOCK_MONOTONIC, the clock of V4L2 buffer timestamps (and of EdgeCapture's `monotonicSeconds()`).
public func probeClock() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// One point of the frequency/temperature timeline.
public struct SystemSample: Codable, Equatable, Sendable {
    /// Seconds since the sampler started.
    public var t: Double
    /// MHz per clock sensor (`SystemSensors.cpufreq` order); null where the read failed.
    public var cpu_mhz: [Double?]
    /// Degrees Celsius per thermal sensor (`SystemSensors.thermal` order).
    public var temperature_c: [Double?]
    /// Raspberry Pi get_throttled bits, where the board has them.
    public var throttle_flags: UInt32?
    /// True while throttling (see `SensorReading.throttledNow`); null when the board tells nothing.
    public var throttled: Bool?
    /// What was running (set by the sampler's owner, e.g. "b1 t4" or "pipeline").
    public var phase: String
    /// Images completed since the sampler started (cumulative; the owner counts them).
    public var inferences: Int

    public init(t: Double, cpu_mhz: [Double?], temperature_c: [Double?], throttle_flags: UInt32?, throttled: Bool?, phase: String,
                inferences: Int) {
        self.t = t
        self.cpu_mhz = cpu_mhz
        self.temperature_c = temperature_c
        self.throttle_flags = throttle_flags
        self.throttled = throttled
        self.phase = phase
        self.inferences = inferences
    }

    /// The mean of the readable clocks, MHz.
    public var meanMHz: Double? {
        let v = cpu_mhz.compactMap { $0 }
        return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
    }

    /// The hottest readable sensor, degrees Celsius.
    public var maxTemperature: Double? { temperature_c.compactMap { $0 }.max() }
}

/// Samples the sensors on its own thread every `interval` seconds, from `start()` to `stop()` (one sample at each end),
/// keeping the last `capacity` samples. The owner labels phases and counts finished images, so the timeline shows what
/// ran while the clock or the temperature moved. Thread-safe.
///
/// The daemon can run one for its /metrics (`latest`), the probe for its timeline (`samples`).
public final class SystemSampler: @unchecked Sendable {
    public let sensors: SystemSensors
    public let interval: Double
    public let capacity: Int

    private let condition = Condition()
    // Guarded by `condition`.
    private var buffer: [SystemSample] = []
    private var head = 0                     // index of the oldest sample once the buffer is full
    private var running = false
    private var finished: DispatchSemaphore?
    private var phase = "idle"
    private var inferences = 0
    private var startTime = probeClock()

    public init(sensors: SystemSensors, interval: Double = 0.2, capacity: Int = 100_000) {
        self.sensors = sensors
        self.interval = max(0.01, interval.isFinite ? interval : 0.2)
        self.capacity = max(2, capacity)
    }

    deinit { stop() }

    /// Starts sampling (a first sample at once). Calling it while running does nothing.
    public func start() {
        condition.lock()
        guard !running else { condition.unlock(); return }
        running = true
        buffer = []
        head = 0
        inferences = 0
        startTime = probeClock()
        let done = DispatchSemaphore(value: 0)
        finished = done
        condition.unlock()
        sampleNow()
        startThread(name: "probe sampler") { [self] in
            self.loop()
            done.signal()
        }
    }

    /// Stops the thread (after a last sample) and waits for it.
    public func stop() {
        condition.lock()
        let wasRunning = running
        running = false
        let done = finished
        finished = nil
        condition.broadcast()
        condition.unlock()
        if wasRunning {
            done?.wait()
            sampleNow()
        }
    }

    /// Labels the samples from now on.
    public func setPhase(_ name: String) {
        condition.lock()
        phase = name
        condition.unlock()
    }

    /// Counts `images` finished images.
    public func addInferences(_ images: Int) {
        condition.lock()
        inferences += images
        condition.unlock()
    }

    /// Seconds since `start()`, on the samples' time axis.
    public func elapsed() -> Double {
        condition.lock()
        defer { condition.unlock() }
        return probeClock() - startTime
    }

    /// Takes one sample now, besides the periodic ones.
    public func sampleNow() {
        let reading = sensors.read()
        condition.lock()
        let sample = SystemSample(t: probeClock() - startTime, cpu_mhz: reading.cpu_mhz, temperature_c: reading.temperature_c,
                                  throttle_flags: reading.throttle_flags, throttled: reading.throttledNow, phase: phase,
                                  inferences: inferences)
        if buffer.count < capacity {
            buffer.append(sample)
        } else {
            buffer[head] = sample
            head = (head + 1) % capacity
        }
        condition.unlock()
    }

    /// The samples kept, oldest first.
    public var samples: [SystemSample] {
        condition.lock()
        defer { condition.unlock() }
        return Array(buffer[head...] + buffer[..<head])
    }

    /// The newest sample.
    public var latest: SystemSample? {
        condition.lock()
        defer { condition.unlock() }
        guard !buffer.isEmpty else { return nil }
        return buffer[(head + buffer.count - 1) % buffer.count]
    }

    private func loop() {
        var next = probeClock() + interval
        while true {
            condition.lock()
            while running && probeClock() < next {
                _ = condition.wait(timeout: max(0, next - probeClock()))
            }
            let keepGoing = running
            condition.unlock()
            guard keepGoing else { return }
            sampleNow()
            next += interval
            // After a stall (suspended machine), do not burst to catch up.
            if probeClock() > next + interval { next = probeClock() + interval }
        }
    }
}
