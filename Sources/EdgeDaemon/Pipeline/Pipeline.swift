import EdgeCapture
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import EdgeSupport
import Dispatch

/// What the pipeline reports about itself (for /healthz, STATUS= and the summary log line).
public struct PipelineState: Sendable {
    public var classified: UInt64
    public var errors: UInt64
    /// Monotonic seconds of the last result; nil before the first.
    public var lastResultAt: Double?
    public var startedAt: Double
    /// Classifications per second over the last few seconds.
    public var rate: Double
    public var capture: CaptureStats
    public var sourceName: String
    /// The model being served: precision, kernels, board, checksum.
    public var model: ModelIdentity
    public var modelName: String { model.name }
    public var lastError: String?
}

/// The frame loop, on its own thread: take the newest frame, preprocess it into the model's input, run the model,
/// publish the result; time every stage; and prove liveness to systemd's watchdog from this very loop, so a stuck
/// capture or inference stops the pings and gets the service restarted.
///
/// The model and the source can be swapped while it runs (`swap(engine:)`, `swap(capture:)`): the loop picks them
/// up between two frames, so the result stream never stops for a reload.
public final class Pipeline: @unchecked Sendable {
    public struct Settings: Sendable {
        public var topK: Int
        /// Seconds between STATUS= updates.
        public var statusInterval: Double
        /// Seconds without a result before the pipeline counts as unhealthy.
        public var staleAfter: Double
        /// Seconds after start when READY=1 is sent even without a result, if the source is failing (a camera not
        /// plugged in at boot): the service then runs, unhealthy, and the capture keeps reopening.
        public var readyTimeout: Double
        /// Results carry the raw logits (`results.logits`).
        public var includeLogits: Bool

        public init(topK: Int = 5, statusInterval: Double = 2, staleAfter: Double = 5, readyTimeout: Double = 30, includeLogits: Bool = false) {
            self.topK = topK
            self.includeLogits = includeLogits
            self.statusInterval = statusInterval
            self.staleAfter = staleAfter
            self.readyTimeout = readyTimeout
        }
    }

    private let broadcaster: ResultBroadcaster
    private let metrics: DaemonMetrics
    private let notifier: SystemdNotifier
    private let log: DaemonLog

    private let lock = Lock()
    private var engine: ModelEngine
    private var capture: LatestFrameCapture
    private var pendingEngine: ModelEngine?
    /// A new capture, and whether the reloader already started it (a different source, started beside the old).
    private var pendingCapture: (capture: LatestFrameCapture, started: Bool)?
    private var settings: Settings
    private var state: PipelineState
    /// Extra STATUS= text (e.g. why the last reload failed), kept until replaced.
    private var statusNote: String?
    private var stopRequested = false
    private var threadStarted = false
    private let finished = DispatchSemaphore(value: 0)
    private let swapped = Condition()
    private var swapGeneration = 0
    /// Set once READY=1 went out (the first result, or the ready timeout).
    private var readySent = false
    /// Called (on the pipeline thread) when the first frame has been classified.
    public var onFirstResult: (@Sendable (ClassificationResult) -> Void)?
    /// Called for every result after publishing (tests, --print).
    public var onResult: (@Sendable (ClassificationResult) -> Void)?
    /// When false the pipeline does not send READY=1 itself (the daemon does, e.g. after the servers are up).
    public var sendsReady = true
    /// Fault injection for the watchdog test (scripts/vm/ci-run.sh): with RESNET_EDGE_TEST_HANG_AFTER=N in the
    /// environment, the frame loop hangs after its first result once N seconds have passed since start, as a
    /// deadlocked kernel would, while the HTTP and socket threads carry on. Only systemd's watchdog ends it.
    private let hangAfter = ProcessInfo.processInfo.environment["RESNET_EDGE_TEST_HANG_AFTER"].flatMap(Double.init)

    public init(engine: ModelEngine, capture: LatestFrameCapture, settings: Settings, broadcaster: ResultBroadcaster,
                metrics: DaemonMetrics, notifier: SystemdNotifier, log: DaemonLog) {
        self.engine = engine
        self.capture = capture
        self.settings = settings
        self.broadcaster = broadcaster
        self.metrics = metrics
        self.notifier = notifier
        self.log = log
        state = PipelineState(classified: 0, errors: 0, lastResultAt: nil, startedAt: monotonicSeconds(), rate: 0,
                              capture: capture.stats, sourceName: capture.source.name, model: engine.identity, lastError: nil)
        metrics.setModelInfo(engine.identity)
    }

    // MARK: - Control

    /// Starts the capture and the loop thread.
    public func start() {
        lock.locked { state.startedAt = monotonicSeconds() }
        capture.start()
        threadStarted = true
        // Inference is the hot path: the default 512 KiB secondary-thread stack is plenty (buffers live in the arena).
        startThread(name: "resnet-edge pipeline", stackSize: 4 << 20) { [self] in
            self.run()
            self.finished.signal()
        }
    }

    /// Stops the loop (within one capture wait and one inference) and the capture. Returns false if the loop did not
    /// end within `timeout` seconds (a stuck inference); the capture is stopped either way.
    @discardableResult
    public func stop(timeout: Double = 1.5) -> Bool {
        lock.locked { stopRequested = true }
        swapped.lock(); swapped.broadcast(); swapped.unlock()
        let ended = !threadStarted || finished.wait(timeout: .now() + timeout) == .success
        let (c, pending) = lock.locked { (capture, pendingCapture) }
        Self.stop(c, within: 0.5)
        if let pending, pending.started { Self.stop(pending.capture, within: 0.2) }
        return ended
    }

    /// Stops a capture, waiting at most `seconds`: a driver stuck in a read must not hold up a stop or a swap (the
    /// capture thread then ends on its own, or with the process).
    static func stop(_ capture: LatestFrameCapture, within seconds: Double) {
        // A plain thread, not a Dispatch worker: under the unit's sandbox libdispatch logs a failed priority change
        // for every new worker thread.
        let done = DispatchSemaphore(value: 0)
        startThread(name: "resnet-edge capture stop") {
            capture.stop()
            done.signal()
        }
        _ = done.wait(timeout: .now() + seconds)
    }

    public var currentEngine: ModelEngine { lock.locked { engine } }
    public var currentCapture: LatestFrameCapture { lock.locked { capture } }

    public func update(settings: Settings) { lock.locked { self.settings = settings } }

    public func setStatusNote(_ note: String?) { lock.locked { statusNote = note } }

    /// Hands a new engine to the loop and waits until it runs on it (true), or `timeout` passes (false: the loop is
    /// stuck, and the engine will still be taken at its next frame).
    @discardableResult
    public func swap(engine newEngine: ModelEngine, timeout: Double = 10) -> Bool {
        swapAndWait(timeout: timeout) { pendingEngine = newEngine }
    }

    /// Hands a new capture to the loop: the loop stops the old one and starts this one unless `started`.
    @discardableResult
    public func swap(capture newCapture: LatestFrameCapture, started: Bool, timeout: Double = 10) -> Bool {
        swapAndWait(timeout: timeout) { pendingCapture = (newCapture, started) }
    }

    private func swapAndWait(timeout: Double, _ set: () -> Void) -> Bool {
        swapped.lock()
        let target = swapGeneration + 1
        swapped.unlock()
        lock.locked { set() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        swapped.lock()
        defer { swapped.unlock() }
        while swapGeneration < target {
            if lock.locked({ stopRequested }) { return false }
            if !swapped.wait(untilSecondsSince1970: deadline.timeIntervalSince1970) { return false }
        }
        return true
    }

    /// A snapshot for health checks and status.
    public var snapshot: PipelineState {
        var s = lock.locked { state }
        s.capture = lock.locked { capture }.stats
        return s
    }

    // MARK: - Health

    public struct Health: Sendable {
        public var healthy: Bool
        /// "ok", or why not.
        public var reason: String
    }

    public func health(now: Double = monotonicSeconds()) -> Health {
        let s = snapshot
        let staleAfter = lock.locked { settings.staleAfter }
        if !s.capture.healthy, let error = s.capture.lastError {
            return Health(healthy: false, reason: "source \(s.sourceName) failing (\(error)); reopening, \(s.capture.reopens) reopens so far")
        }
        guard let last = s.lastResultAt else {
            return Health(healthy: false, reason: "no frame classified yet" + (s.lastError.map { " (last error: \($0))" } ?? ""))
        }
        let age = now - last
        if age > staleAfter {
            let why = s.lastError.map { "; last error: \($0)" } ?? (s.capture.healthy ? "" : "; source not delivering")
            return Health(healthy: false, reason: String(printf: "no frame classified for %.1f s%@", age, why))
        }
        return Health(healthy: true, reason: "ok")
    }

    /// The STATUS= line: rate, model, source health.
    public func statusLine(now: Double = monotonicSeconds()) -> String {
        let s = snapshot
        let h = health(now: now)
        var line = h.healthy ? (s.classified < 3 ? "classifying" : String(printf: "%.1f fps", s.rate)) : "unhealthy: \(h.reason)"
        line += "; \(s.model.summary); source \(s.sourceName)"
        line += "; \(s.classified) frames classified"
        if let note = lock.locked({ statusNote }) { line += "; \(note)" }
        return line
    }

    // MARK: - The loop

    private func run() {
        var lastSequence: UInt64 = 0
        var lastPing = monotonicSeconds()
        var lastStatus = -Double.infinity
        var lastErrorLog = -Double.infinity
        var suppressedErrors = 0
        var rateWindow: [Double] = []
        let watchdogInterval = notifier.watchdogInterval
        // Short waits keep stop() prompt and the watchdog check regular even when no frame comes.
        let wait = min(0.1, (watchdogInterval ?? 1) / 4)
        var waitStart = monotonicSeconds()
        var sourceLog = SourceHealthLog(log: log)

        while true {
            // Pick up swaps between frames.
            let (stop, newEngine, newCapture) = lock.locked { () -> (Bool, ModelEngine?, (capture: LatestFrameCapture, started: Bool)?) in
                defer { pendingEngine = nil; pendingCapture = nil }
                return (stopRequested, pendingEngine, pendingCapture)
            }
            if stop { break }
            if newEngine != nil || newCapture != nil {
                adopt(engine: newEngine, capture: newCapture)
                if newCapture != nil { lastSequence = 0; sourceLog = SourceHealthLog(log: log) }
                swapped.lock(); swapGeneration += 1; swapped.broadcast(); swapped.unlock()
            }
            let (engine, capture, settings) = lock.locked { (self.engine, self.capture, self.settings) }

            let frame = capture.next(after: lastSequence, timeout: wait)
            let stats = capture.stats
            sourceLog.observe(stats, capture: capture, now: monotonicSeconds())
            metrics.syncCapture(id: ObjectIdentifier(capture), captured: stats.captured, dropped: stats.dropped, reopens: stats.reopens,
                                healthy: stats.healthy)
            var now = monotonicSeconds()

            if let frame {
                lastSequence = frame.sequence
                let gotFrame = now
                do {
                    try engine.writeInput(frame)
                    let preprocessed = monotonicSeconds()
                    let logits = try engine.infer()
                    let inferred = monotonicSeconds()
                    var result = ClassificationResult(
                        sequence: frame.sequence, timestamp: frame.timestamp, wallTime: Date().timeIntervalSince1970,
                        captureToResultMilliseconds: 0,
                        stageMilliseconds: ((gotFrame - waitStart) * 1000, (preprocessed - gotFrame) * 1000, (inferred - preprocessed) * 1000),
                        top: engine.top(logits, k: settings.topK), model: engine.name, board: engine.board.name, source: capture.source.name,
                        precision: engine.identity.precision, kernels: engine.identity.kernels, logits: settings.includeLogits ? logits : nil)
                    result.captureToResultMilliseconds = (monotonicSeconds() - frame.timestamp) * 1000
                    broadcaster.publish(result)
                    let published = monotonicSeconds()
                    metrics.record(.captureWait, seconds: gotFrame - waitStart, now: published)
                    metrics.record(.preprocess, seconds: preprocessed - gotFrame, now: published)
                    metrics.record(.inference, seconds: inferred - preprocessed, now: published)
                    metrics.record(.publish, seconds: published - inferred, now: published)
                    metrics.recordCaptureToResult(seconds: published - frame.timestamp, now: published)
                    metrics.framesClassified.increment()
                    now = published
                    rateWindow.append(now)
                    rateWindow.removeAll { $0 < now - 3 }
                    let first = lock.locked { () -> Bool in
                        state.classified += 1
                        state.lastResultAt = now
                        state.lastError = nil
                        state.rate = rateWindow.count > 1 ? Double(rateWindow.count - 1) / max(1e-6, now - rateWindow[0]) : 0
                        return state.classified == 1
                    }
                    if first {
                        log.info("first frame classified: sequence \(frame.sequence), \(result.top.first.map { "\($0.label) \(String(printf: "%.1f", $0.probability * 100))%" } ?? "-"), \(String(printf: "%.1f", result.captureToResultMilliseconds)) ms from capture")
                        if sendsReady && !readySent {
                            readySent = true
                            notifier.ready(status: statusLine(now: now))
                            lastStatus = now
                        }
                        onFirstResult?(result)
                    }
                    onResult?(result)
                    if let hangAfter, now - lock.locked({ state.startedAt }) >= hangAfter {
                        log.warning("RESNET_EDGE_TEST_HANG_AFTER=\(hangAfter): the frame loop hangs now (watchdog test)")
                        while true { sleep(3600) }
                    }
                } catch {
                    let message = "\(error)"
                    lock.locked { state.errors += 1; state.lastError = message }
                    if now - lastErrorLog > 10 {
                        log.error("frame \(frame.sequence) from \(capture.source.name) (\(frame.format.rawValue) \(frame.width)x\(frame.height)) failed: \(message)" + (suppressedErrors > 0 ? " (\(suppressedErrors) more since the last message)" : ""))
                        lastErrorLog = now
                        suppressedErrors = 0
                    } else {
                        suppressedErrors += 1
                    }
                }
                waitStart = monotonicSeconds()
            }

            // READY=1 without a result: the source has been failing since start (camera absent at boot).
            if sendsReady && !readySent && now - lock.locked({ state.startedAt }) > settings.readyTimeout {
                readySent = true
                log.warning("no frame after \(Int(settings.readyTimeout)) s: reporting ready anyway, unhealthy, while the source is retried")
                notifier.ready(status: statusLine(now: now))
            }

            // The watchdog: ping while frames are classified, or while the capture is alive and reopening a failed
            // source. A loop stuck in inference never gets here; a capture stuck while "healthy" delivers nothing.
            if let interval = watchdogInterval, now - lastPing >= interval {
                let progressed = lock.locked { (state.lastResultAt ?? -1) > lastPing }
                let reopening = !stats.healthy && stats.lastError != nil
                if progressed || reopening {
                    notifier.watchdog()
                    lastPing = now
                }
            }
            if now - lastStatus >= settings.statusInterval {
                lastStatus = now
                if readySent || !sendsReady { notifier.status(statusLine(now: now)) }
                let h = health(now: now)
                metrics.healthy.set(to: h.healthy ? 1 : 0)
                metrics.framesPerSecond.set(to: lock.locked { state.rate })
            }
        }
    }

    /// Switches to a new engine and/or capture (on the loop thread).
    private func adopt(engine newEngine: ModelEngine?, capture pending: (capture: LatestFrameCapture, started: Bool)?) {
        if let newEngine {
            lock.locked {
                engine = newEngine
                state.model = newEngine.identity
            }
            metrics.setModelInfo(newEngine.identity)
        }
        if let (newCapture, started) = pending {
            let old = lock.locked { capture }
            // The same camera cannot be open twice: the old capture goes first; a new one not started yet is started.
            Self.stop(old, within: 1)
            if !started { newCapture.start() }
            lock.locked {
                capture = newCapture
                state.sourceName = newCapture.source.name
            }
        }
    }
}

/// Journal lines about the source: what a camera negotiated, when it fails (with the reason, again every minute while
/// it stays down) and when it is back. Runs on the pipeline thread.
struct SourceHealthLog {
    let log: DaemonLog
    private var announced = false
    private var failingSince: Double?
    private var lastError: String?
    private var lastReport = 0.0

    init(log: DaemonLog) { self.log = log }

    mutating func observe(_ stats: CaptureStats, capture: LatestFrameCapture, now: Double) {
        let name = capture.source.name
        if stats.healthy {
            if !announced, stats.captured > 0 {
                announced = true
                if let camera = capture.source as? V4L2Camera, let n = camera.negotiated {
                    log.info("source: \(name) delivers \(n.format.rawValue) \(n.width)x\(n.height) at \(String(printf: "%.1f", n.fps)) fps")
                } else {
                    log.info("source: \(name) delivers frames")
                }
            }
            if let since = failingSince {
                log.info(String(printf: "source: %@ is back after %.1f s (%llu reopens so far)", name, now - since, stats.reopens))
                failingSince = nil
                lastError = nil
            }
            return
        }
        guard let error = stats.lastError else { return }
        if failingSince == nil {
            failingSince = now
            announced = false
            log.error("source: \(name) failed: \(error); reopening with backoff (the daemon keeps running, unhealthy)")
            lastError = error
            lastReport = now
        } else if error != lastError || now - lastReport >= 60 {
            log.warning(String(printf: "source: %@ still failing after %.0f s: %@", name, now - failingSince!, error))
            lastError = error
            lastReport = now
        }
    }
}
