#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import EdgeSupport
import Histogram

/// A latency distribution's figures, in milliseconds: what the probe writes per configuration and pipeline stage, and
/// what a live endpoint (the daemon's /metrics) can publish.
///
/// The percentiles come from an HDR histogram with three significant digits (a reported value is the upper edge of
/// its bucket, at most 0.1 % above the recorded one, and never above `max_ms`); `min_ms` and `max_ms` are the exact
/// extremes, `mean_ms` and `stddev_ms` exact (computed beside the histogram, not from its buckets). With no values,
/// every figure is 0 and `count` is 0.
public struct LatencySummary: Codable, Equatable, Sendable {
    public var count: Int
    public var min_ms: Double
    public var mean_ms: Double
    /// Population standard deviation.
    public var stddev_ms: Double
    public var p50_ms: Double
    public var p90_ms: Double
    public var p99_ms: Double
    /// The 99.9th percentile.
    public var p999_ms: Double
    public var max_ms: Double

    public init(count: Int, min_ms: Double, mean_ms: Double, stddev_ms: Double, p50_ms: Double, p90_ms: Double, p99_ms: Double,
                p999_ms: Double, max_ms: Double) {
        self.count = count
        self.min_ms = min_ms
        self.mean_ms = mean_ms
        self.stddev_ms = stddev_ms
        self.p50_ms = p50_ms
        self.p90_ms = p90_ms
        self.p99_ms = p99_ms
        self.p999_ms = p999_ms
        self.max_ms = max_ms
    }

    public static let empty = LatencySummary(count: 0, min_ms: 0, mean_ms: 0, stddev_ms: 0, p50_ms: 0, p90_ms: 0, p99_ms: 0,
                                             p999_ms: 0, max_ms: 0)

    /// min <= p50 <= p90 <= p99 <= p99.9 <= max, and min <= mean <= max.
    public var isOrdered: Bool {
        min_ms <= p50_ms && p50_ms <= p90_ms && p90_ms <= p99_ms && p99_ms <= p999_ms && p999_ms <= max_ms
            && min_ms <= mean_ms && mean_ms <= max_ms
    }

    /// The percentiles by name, in the order reports list them.
    public var percentiles: [(name: String, ms: Double)] {
        [("p50", p50_ms), ("p90", p90_ms), ("p99", p99_ms), ("p99.9", p999_ms), ("max", max_ms)]
    }
}

/// One bar of a latency histogram chart: values in [lower_ms, upper_ms).
public struct LatencyBucket: Codable, Equatable, Sendable {
    public var lower_ms: Double
    public var upper_ms: Double
    public var count: Int

    public init(lower_ms: Double, upper_ms: Double, count: Int) {
        self.lower_ms = lower_ms
        self.upper_ms = upper_ms
        self.count = count
    }
}

/// Latencies recorded into an HDR histogram (hdrhistogram-swift), nanosecond resolution, 3 significant digits,
/// growing as needed (no value is ever dropped), plus the exact count, extremes, mean and variance.
///
/// A value type: copy it to take a snapshot. Not synchronised; `SharedLatencyHistogram` is the thread-safe wrapper.
public struct LatencyHistogram: Sendable {
    private var histogram: Histogram<UInt64>
    public private(set) var count = 0
    private var mean = 0.0          // seconds (Welford)
    private var m2 = 0.0
    private var minimum = Double.infinity
    private var maximum = 0.0

    public init() {
        // 1 ns .. 60 s to start with (about 27 k counters); auto-resize takes anything longer.
        histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
    }

    /// Records one latency. Negative and non-finite values are ignored.
    public mutating func record(seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        let ns = UInt64(min(seconds * 1e9, 1e15).rounded())
        _ = histogram.record(ns)
        count += 1
        let delta = seconds - mean
        mean += delta / Double(count)
        m2 += delta * (seconds - mean)
        minimum = Swift.min(minimum, seconds)
        maximum = Swift.max(maximum, seconds)
    }

    /// Adds every value of `other` (Chan's parallel variance for the exact moments).
    public mutating func add(_ other: LatencyHistogram) {
        guard other.count > 0 else { return }
        histogram.add(other.histogram)
        let n = Double(count), m = Double(other.count)
        let delta = other.mean - mean
        mean = (n * mean + m * other.mean) / (n + m)
        m2 += other.m2 + delta * delta * n * m / (n + m)
        count += other.count
        minimum = Swift.min(minimum, other.minimum)
        maximum = Swift.max(maximum, other.maximum)
    }

    public mutating func reset() { self = LatencyHistogram() }

    /// The value at `percentile` (0...100) in seconds: the HDR value, clamped to the exact extremes; 0 when empty.
    public func seconds(atPercentile percentile: Double) -> Double {
        guard count > 0 else { return 0 }
        if percentile >= 100 { return maximum }
        if percentile <= 0 { return minimum }
        let value = Double(histogram.valueAtPercentile(percentile)) / 1e9
        return Swift.min(Swift.max(value, minimum), maximum)
    }

    public var summary: LatencySummary {
        guard count > 0 else { return .empty }
        let ms = 1000.0
        // Percentiles are monotonic in the HDR histogram; the clamping keeps them between the exact extremes.
        let p = [50.0, 90, 99, 99.9].map { seconds(atPercentile: $0) * ms }
        let meanMs = Swift.min(Swift.max(mean, minimum), maximum) * ms
        return LatencySummary(count: count, min_ms: minimum * ms, mean_ms: meanMs, stddev_ms: (m2 / Double(count)).squareRoot() * ms,
                              p50_ms: p[0], p90_ms: p[1], p99_ms: p[2], p999_ms: p[3], max_ms: maximum * ms)
    }

    /// Up to `count` bars between the smallest and the largest value, logarithmically spaced when the range spans more
    /// than a factor 4 (else linearly); every recorded value falls in exactly one bar, so the counts add up to `count`.
    public func buckets(_ bars: Int = 40) -> [LatencyBucket] {
        guard count > 0, bars > 0 else { return [] }
        let lo = minimum * 1000, hi = maximum * 1000
        if hi <= lo { return [LatencyBucket(lower_ms: lo, upper_ms: lo * 1.001 + 1e-6, count: count)] }
        let logarithmic = lo > 0 && hi / lo > 4
        var edges: [Double] = (0...bars).map { i in
            let f = Double(i) / Double(bars)
            return logarithmic ? lo * pow(hi / lo, f) : lo + (hi - lo) * f
        }
        edges[bars] = hi * (1 + 1e-9) + 1e-9   // the maximum falls in the last bar
        var counts = [Int](repeating: 0, count: bars)
        var placed = 0
        for item in histogram.recordedValues() {
            // The bucket's representative value, clamped to the exact range.
            let v = Swift.min(Swift.max(Double(histogram.medianEquivalentForValue(item.value)) / 1e6, lo), hi)
            var index = 0
            var a = 0, b = bars - 1
            while a <= b {   // the last edge <= v
                let mid = (a + b) / 2
                if edges[mid] <= v { index = mid; a = mid + 1 } else { b = mid - 1 }
            }
            counts[index] += Int(item.count)
            placed += Int(item.count)
        }
        // The histogram's count is the exact count; guard against any rounding difference.
        if placed != count, let last = counts.indices.last { counts[last] += count - placed }
        return (0..<bars).map { LatencyBucket(lower_ms: edges[$0], upper_ms: edges[$0 + 1], count: counts[$0]) }
    }
}

/// A `LatencyHistogram` behind a lock, for a pipeline thread that records while another reads (a metrics endpoint).
public final class SharedLatencyHistogram: @unchecked Sendable {
    private let lock = Lock()
    private var total = LatencyHistogram()
    private var interval = LatencyHistogram()

    public init() {}

    public func record(seconds: Double) {
        lock.lock()
        total.record(seconds: seconds)
        interval.record(seconds: seconds)
        lock.unlock()
    }

    /// Everything recorded since creation (or `reset()`).
    public func snapshot() -> LatencyHistogram {
        lock.lock()
        defer { lock.unlock() }
        return total
    }

    public var summary: LatencySummary { snapshot().summary }

    /// What was recorded since the previous call (HdrHistogram's "interval histogram"): percentiles over a recent window.
    public func takeInterval() -> LatencyHistogram {
        lock.lock()
        defer { lock.unlock() }
        let taken = interval
        interval = LatencyHistogram()
        return taken
    }

    public func reset() {
        lock.lock()
        total = LatencyHistogram()
        interval = LatencyHistogram()
        lock.unlock()
    }
}

/// Latencies of the last `window` seconds, for live percentiles (the daemon's /metrics): a ring of HDR histograms,
/// one per `window / slots` seconds, rotated by the recording clock, merged when read. Lifetime percentiles of a
/// daemon that runs for months would hide a slowdown that began an hour ago; a recent window shows it.
public final class SlidingLatencyWindow: @unchecked Sendable {
    public let window: Double
    private let slotLength: Double
    private let lock = Lock()
    /// (start time, histogram), oldest first; at most `slots` entries.
    private var slots: [(start: Double, histogram: LatencyHistogram)] = []
    private let slotCount: Int

    public init(window: Double = 60, slots: Int = 6) {
        precondition(window > 0 && slots > 0)
        self.window = window
        slotCount = slots
        slotLength = window / Double(slots)
    }

    /// Records one latency observed at `now` (monotonic seconds).
    public func record(seconds: Double, now: Double) {
        lock.lock()
        defer { lock.unlock() }
        if slots.isEmpty || now - slots[slots.count - 1].start >= slotLength {
            // Align to the slot grid so that idle gaps leave no stale slot behind.
            slots.append((start: (now / slotLength).rounded(.down) * slotLength, histogram: LatencyHistogram()))
            if slots.count > slotCount { slots.removeFirst(slots.count - slotCount) }
        }
        slots[slots.count - 1].histogram.record(seconds: seconds)
    }

    /// Everything recorded in the `window` seconds before `now` (slot granularity).
    public func merged(now: Double) -> LatencyHistogram {
        lock.lock()
        defer { lock.unlock() }
        var total = LatencyHistogram()
        for slot in slots where slot.start > now - window { total.add(slot.histogram) }
        return total
    }
}
