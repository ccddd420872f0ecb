#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Dispatch
import EdgeSupport

/// Runs a frame source on its own thread; the newest frame replaces any older one that no consumer has taken
/// (counted in `stats.dropped`), so a slow consumer always gets the freshest frame and never a backlog.
///
/// Failures: when `open()` or `read()` throws (e.g. `CaptureError.deviceGone` when a USB camera is unplugged),
/// the source is closed, `stats.healthy` turns false with `lastError` set, and the thread reopens it after
/// `reopenBackoff[0]`, then `[1]`, ... (the last value repeats) until it delivers frames again (`reopens` + 1,
/// `healthy` true). A source that stays open but delivers nothing for `stallTimeout` seconds is treated the same way
/// (a camera that stalls without an error). `stop()` interrupts any wait.
///
/// A source must keep its sequence numbers increasing across `close()`/`open()` (all sources here do), because
/// consumers ask for frames `after` the last sequence they saw.
public final class LatestFrameCapture: @unchecked Sendable {
    public let source: FrameSource
    public let reopenBackoff: [Double]
    /// Seconds without a frame after which an open source is closed and reopened.
    public let stallTimeout: Double
    /// The `read(timeout:)` slice: how quickly `stop()` is noticed while a source waits for a frame.
    static let readSlice = 0.2

    private let condition = Condition()
    // All below guarded by `condition`.
    private var running = false
    private var finished: DispatchSemaphore?
    private var latest: Frame?
    private var latestTaken = true
    private var counters = CaptureStats()
    private var lastFrameTime = monotonicSeconds()
    private var hadFailure = false

    public init(source: FrameSource, reopenBackoff: [Double] = [0.5, 1, 2, 5], stallTimeout: Double = 10) {
        self.source = source
        let backoff = reopenBackoff.filter { $0.isFinite && $0 >= 0 }
        self.reopenBackoff = backoff.isEmpty ? [1] : backoff
        self.stallTimeout = stallTimeout > 0 ? stallTimeout : 10
    }

    deinit { stop() }

    /// Starts the capture thread (nothing if it is running).
    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !running else { return }
        // A previous stop() has joined its thread already.
        running = true
        lastFrameTime = monotonicSeconds()
        let done = DispatchSemaphore(value: 0)
        finished = done
        startThread(name: "capture \(source.name)") { [self] in
            self.loop()
            done.signal()
        }
    }

    /// Stops the thread, waits for it to finish and closes the source. Frames already captured stay readable.
    public func stop() {
        condition.lock()
        let wasRunning = running
        running = false
        let done = finished
        finished = nil
        condition.broadcast()
        condition.unlock()
        if wasRunning, let done { done.wait() }
    }

    /// The newest frame with a sequence above `sequence`, waiting up to `timeout` seconds; nil on timeout, or at once
    /// when stopped and no such frame is there.
    public func next(after sequence: UInt64, timeout: Double) -> Frame? {
        let deadline = Date(timeIntervalSinceNow: max(0, timeout.isFinite ? timeout : 0))
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let frame = latest, frame.sequence > sequence {
                latestTaken = true
                return frame
            }
            if !running { return nil }
            if !condition.wait(untilSecondsSince1970: deadline.timeIntervalSince1970) {
                if let frame = latest, frame.sequence > sequence { latestTaken = true; return frame }
                return nil
            }
        }
    }

    public var stats: CaptureStats {
        condition.lock()
        defer { condition.unlock() }
        var s = counters
        s.sinceLastFrame = max(0, monotonicSeconds() - lastFrameTime)
        return s
    }

    // MARK: The capture thread

    private var isRunning: Bool {
        condition.lock()
        defer { condition.unlock() }
        return running
    }

    /// Sleeps up to `seconds`, returning early (false) when stopped.
    private func pause(_ seconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while running {
            if !condition.wait(untilSecondsSince1970: deadline.timeIntervalSince1970) { break }
        }
        return running
    }

    private func fail(_ error: Error) {
        let message = (error as? CaptureError)?.description ?? "\(error)"
        condition.lock()
        counters.healthy = false
        counters.lastError = message.split(separator: "\n").joined(separator: " ")
        counters.lastFailure = error as? CaptureError
        hadFailure = true
        condition.unlock()
    }

    private func loop() {
        var isOpen = false
        var failures = 0
        var lastDelivery = monotonicSeconds()
        defer { if isOpen { source.close() } }
        while isRunning {
            if !isOpen {
                do {
                    try source.open()
                    isOpen = true
                    lastDelivery = monotonicSeconds()
                } catch {
                    fail(error)
                    let wait = reopenBackoff[min(failures, reopenBackoff.count - 1)]
                    failures += 1
                    if !pause(wait) { break }
                    continue
                }
            }
            do {
                if let frame = try source.read(timeout: Self.readSlice) {
                    let now = monotonicSeconds()
                    lastDelivery = now
                    failures = 0
                    condition.lock()
                    if latest != nil && !latestTaken { counters.dropped += 1 }
                    latest = frame
                    latestTaken = false
                    counters.captured += 1
                    if hadFailure { counters.reopens += 1; hadFailure = false }
                    counters.healthy = true
                    counters.lastError = nil
                    counters.lastFailure = nil
                    lastFrameTime = now
                    condition.broadcast()
                    condition.unlock()
                } else if monotonicSeconds() - lastDelivery > stallTimeout {
                    throw CaptureError.io("\(source.name): no frame for \(stallTimeout) s")
                }
            } catch {
                fail(error)
                source.close()
                isOpen = false
                let wait = reopenBackoff[min(failures, reopenBackoff.count - 1)]
                failures += 1
                if !pause(wait) { break }
            }
        }
    }
}
