import EdgeCapture
import EdgeModelFile
import EdgeProbe
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport
import Dispatch
import NIOCore
import NIOPosix

/// What a reload did.
public struct ReloadOutcome: Sendable, CustomStringConvertible {
    public var succeeded: Bool
    /// What changed, or why nothing did.
    public var message: String
    public var description: String { (succeeded ? "reloaded: " : "reload failed: ") + message }
}

/// The daemon: one pipeline (source -> model -> results), its clients (Unix socket, HTTP), its metrics, and its
/// conversation with systemd. `start()`, `reload()` and `stop()` are the whole life cycle; `DaemonSignals` drives
/// them from SIGHUP/SIGTERM in `resnet-edge serve`, tests call them directly.
public final class Daemon: @unchecked Sendable {
    public struct Options: Sendable {
        /// Print every result as a JSON line on standard output.
        public var printResults = false
        /// Stop by itself after this many classified frames (demo, tests).
        public var stopAfterFrames: Int?
        public var environment: [String: String]
        /// Applied to every configuration read from the file, at start and on reload (command-line overrides).
        public var adjust: (@Sendable (inout DaemonConfiguration) throws -> Void)?
        /// Makes the frame source for `[source]` (default: `SourceFactory.make`); tests inject sources they control.
        public var makeSource: @Sendable (DaemonConfiguration.Source) throws -> FrameSource

        public init(printResults: Bool = false, stopAfterFrames: Int? = nil,
                    environment: [String: String] = ProcessInfo.processInfo.environment,
                    adjust: (@Sendable (inout DaemonConfiguration) throws -> Void)? = nil,
                    makeSource: @escaping @Sendable (DaemonConfiguration.Source) throws -> FrameSource = { try SourceFactory.make($0) }) {
            self.printResults = printResults
            self.stopAfterFrames = stopAfterFrames
            self.environment = environment
            self.adjust = adjust
            self.makeSource = makeSource
        }
    }

    /// The configuration in force (after the last successful reload).
    public var configuration: DaemonConfiguration { lock.locked { _configuration } }
    private var _configuration: DaemonConfiguration
    public let options: Options
    public let log: DaemonLog
    public let notifier: SystemdNotifier
    public let metrics = DaemonMetrics()
    public let broadcaster: ResultBroadcaster
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var pipeline: Pipeline?
    private var http: HTTPServer?
    private var socket: UnixSocketServer?
    private var sensors = SystemSensors.discover(profile: nil)
    private let lock = Lock()
    private let reloadLock = Lock()
    private var stopping = false
    private var stopped = false
    private let firstResult = DispatchSemaphore(value: 0)
    private let frameLimitReached = DispatchSemaphore(value: 0)
    private var lastSummary = monotonicSeconds()
    private var lastSummaryClassified: UInt64 = 0
    private let stdoutLock = Lock()

    public init(configuration: DaemonConfiguration, options: Options = Options(), log: DaemonLog? = nil) {
        _configuration = configuration
        self.options = options
        self.log = log ?? DaemonLog(level: DaemonLog.Level(name: configuration.log.level) ?? .info, environment: options.environment)
        notifier = SystemdNotifier(environment: options.environment)
        broadcaster = ResultBroadcaster(clientQueue: configuration.results.clientQueue, maxClients: configuration.results.maxClients,
                                        publishHz: configuration.results.publishHz)
    }

    /// The HTTP port actually bound (port 0 in the configuration picks a free one), nil when HTTP is off.
    public var httpPort: Int? { lock.locked { http }?.port }
    public var pipelineState: PipelineState? { lock.locked { pipeline }?.snapshot }

    // MARK: - Start

    /// Loads the model, opens the source and the result endpoints, and starts classifying. READY=1 goes to systemd
    /// once the first frame is classified. Throws (and leaves nothing running) when the model cannot be loaded or an
    /// endpoint cannot be opened.
    public func start() throws {
        let c = configuration
        // What runs comes first (the first line is what `journalctl -u resnet-edge` and `systemctl status` show first):
        // precision, kernels, board and the model's checksum, so a board running FP32 or another model is obvious.
        let board: BoardChoice
        do {
            board = try BoardChoice.resolve(c.model.board)
        } catch {
            log.info("resnet-edge serve: configuration \(c.file ?? "built in")")
            throw error
        }
        let started = monotonicSeconds()
        let engine: ModelEngine
        do {
            engine = try ModelEngine(c.model, board: board)
        } catch {
            log.info("resnet-edge serve: configuration \(c.file ?? "built in"), board \(board.name)")
            throw DaemonError("model \(c.model.path): \(error)")
        }
        log.info("resnet-edge serve: \(engine.identity.summary); configuration \(c.file ?? "built in")")
        if let socketPath = notifier.socketPath {
            log.info("systemd: notify socket \(socketPath)" + (notifier.watchdogInterval.map { String(printf: ", watchdog ping every %.2f s", $0) } ?? ", no watchdog"))
        }
        log.info("board: \(board.name) (\(board.reason))")
        let discovered = SystemSensors.discover(profile: board.profile)
        lock.locked { sensors = discovered }
        log.info("sensors: \(discovered.origin)" + (discovered.notes.isEmpty ? "" : "; " + discovered.notes.joined(separator: "; ")))
        log.info(String(printf: "model: %@ (loaded in %.2f s)", engine.summary, monotonicSeconds() - started))
        if !board.known, let fileBoard = engine.model.fileBoard, fileBoard != ModelFileBoardCheck.generic {
            log.info("note: \(engine.name) was packed for \(fileBoard); this machine is no known board, so it runs on this CPU's \(engine.kernels) kernels")
        }

        let source = try options.makeSource(c.source)
        let capture = LatestFrameCapture(source: source, reopenBackoff: SourceFactory.backoff(c.source.reopenBackoff))
        log.info("source: \(Self.describe(c.source))")

        let pipeline = Pipeline(engine: engine, capture: capture, settings: pipelineSettings(c), broadcaster: broadcaster, metrics: metrics,
                                notifier: notifier, log: log)
        let metrics = self.metrics
        broadcaster.onDrop = { [log] message in
            metrics.clientsDropped.increment()
            log.warning("results: \(message)")
        }
        pipeline.onFirstResult = { [firstResult] _ in firstResult.signal() }
        let limit = options.stopAfterFrames, printResults = options.printResults
        let count = ResultCount()
        pipeline.onResult = { [weak self] result in
            guard let self else { return }
            let n = count.increment()
            // With --frames N exactly N results are printed, although the loop may classify one more before it stops.
            if let limit, n > limit { return }
            if printResults { self.printLine(result.json) }
            if let limit, n == limit { self.frameLimitReached.signal() }
        }

        do {
            if !c.results.socket.isEmpty {
                let socket = UnixSocketServer(path: c.results.socket, mode: c.results.socketMode, broadcaster: broadcaster, group: group, log: log)
                try socket.start()
                lock.locked { self.socket = socket }
                log.info("results: JSON lines on unix socket \(c.results.socket)")
            }
            if let (host, port) = c.httpEndpoint {
                let http = HTTPServer(endpoints: endpoints(), broadcaster: broadcaster, group: group, log: log)
                let bound = try http.start(host: host, port: port)
                lock.locked { self.http = http }
                let shown = host.contains(":") ? "[\(host)]" : host
                log.info("results: http://\(shown):\(bound)/latest, /events, /metrics, /healthz")
            }
        } catch {
            socket?.stop()
            http?.stop()
            try? group.syncShutdownGracefully()
            throw error
        }
        lock.locked { self.pipeline = pipeline }
        lastSummary = monotonicSeconds()
        pipeline.start()
    }

    static func describe(_ s: DaemonConfiguration.Source) -> String {
        let fps = s.fps == s.fps.rounded() ? String(Int(s.fps)) : String(s.fps)
        switch s.kind {
        case .camera: return "camera \(s.device) \(s.width)x\(s.height) \(fps) fps, pixel format \(s.pixelFormat), \(s.buffers) buffers"
        case .images: return "images \(s.path) at \(fps) fps"
        case .raw: return "raw \(s.pixelFormat) \(s.width)x\(s.height) frames from \(s.path) at \(fps) fps"
        case .pattern: return "test pattern \(s.width)x\(s.height) \(s.pixelFormat == "auto" ? "yuyv" : s.pixelFormat) at \(fps) fps"
        }
    }

    private func pipelineSettings(_ c: DaemonConfiguration) -> Pipeline.Settings {
        Pipeline.Settings(topK: c.results.topK, statusInterval: c.health.statusInterval, staleAfter: c.health.staleAfter,
                          readyTimeout: c.health.readyTimeout, includeLogits: c.results.logits)
    }

    private func endpoints() -> HTTPEndpoints {
        HTTPEndpoints(
            latest: { [broadcaster] in broadcaster.latest },
            metrics: { [weak self] in self?.renderMetrics() ?? [] },
            health: { [weak self] in self?.healthReport() ?? (false, #"{"status":"stopping"}"#) })
    }

    /// Waits for the first classified frame (tests, the demo).
    public func waitForFirstResult(timeout: Double) -> Bool {
        guard firstResult.wait(timeout: .now() + timeout) == .success else { return false }
        firstResult.signal()
        return true
    }

    /// Waits until `stopAfterFrames` frames have been classified.
    public func waitForFrameLimit(timeout: Double) -> Bool {
        frameLimitReached.wait(timeout: .now() + timeout) == .success
    }

    func printLine(_ line: String) {
        stdoutLock.locked { writeStandardOutput(line + "\n") }
    }

    // MARK: - Health and metrics

    public func health() -> Pipeline.Health {
        lock.locked { pipeline }?.health() ?? Pipeline.Health(healthy: false, reason: lock.locked { stopping } ? "stopping" : "starting")
    }

    func healthReport() -> (healthy: Bool, json: String) {
        let h = health()
        guard let s = pipelineState else { return (false, "{\"status\":\"unhealthy\",\"reason\":\(ClassificationResult.quote(h.reason))}") }
        let age = s.lastResultAt.map { ClassificationResult.number(monotonicSeconds() - $0, 3) } ?? "null"
        var json = "{\"status\":\"\(h.healthy ? "ok" : "unhealthy")\",\"reason\":\(ClassificationResult.quote(h.reason))"
        json += ",\"classified\":\(s.classified),\"rate_hz\":\(ClassificationResult.number(s.rate, 2)),\"last_result_age_s\":\(age)"
        json += ",\"model\":\(ClassificationResult.quote(s.model.name)),\"model_sha256\":\(ClassificationResult.quote(s.model.sha256))"
        json += ",\"precision\":\(ClassificationResult.quote(s.model.precision)),\"kernels\":\(ClassificationResult.quote(s.model.kernels))"
        json += ",\"board\":\(ClassificationResult.quote(s.model.board))"
        json += ",\"source\":{\"name\":\(ClassificationResult.quote(s.sourceName)),\"healthy\":\(s.capture.healthy),\"captured\":\(s.capture.captured)"
        json += ",\"dropped\":\(s.capture.dropped),\"reopens\":\(s.capture.reopens),\"last_error\":\(s.capture.lastError.map(ClassificationResult.quote) ?? "null")}}"
        return (h.healthy, json)
    }

    /// Refreshes the gauges that are read rather than counted (board sensors, ages, clients), then renders.
    public func renderMetrics() -> [UInt8] {
        let sensors = lock.locked { self.sensors }
        metrics.updateBoard(sensors.read(), sensors: sensors)
        metrics.refreshQuantiles()
        let counts = broadcaster.snapshot
        metrics.clients.set(to: Double(counts.clients))
        if let p = lock.locked({ pipeline }) {
            let s = p.snapshot
            metrics.lastResultAge.set(to: s.lastResultAt.map { monotonicSeconds() - $0 } ?? .nan)
            metrics.healthy.set(to: p.health().healthy ? 1 : 0)
            metrics.framesPerSecond.set(to: s.rate)
            metrics.syncCapture(id: ObjectIdentifier(p.currentCapture), captured: s.capture.captured, dropped: s.capture.dropped,
                                reopens: s.capture.reopens, healthy: s.capture.healthy)
        }
        metrics.syncPublished(counts.published)
        return metrics.render()
    }

    /// A summary line for the journal every `log.summary_interval` seconds (called by the signal loop).
    public func tick(now: Double = monotonicSeconds()) {
        let interval = configuration.log.summaryInterval
        guard interval > 0, now - lastSummary >= interval, let s = pipelineState else { return }
        let classified = s.classified - min(s.classified, lastSummaryClassified)
        let elapsed = now - lastSummary
        let rate = Double(classified) / elapsed
        lastSummary = now
        lastSummaryClassified = s.classified
        let h = health()
        log.info(String(printf: "summary: %.1f fps over %.0f s, %llu classified, source %@ captured %llu dropped %llu reopens %llu, %d clients, %@",
                        rate, elapsed, s.classified, s.sourceName, s.capture.captured, s.capture.dropped, s.capture.reopens,
                        broadcaster.snapshot.clients, h.healthy ? "healthy" : "UNHEALTHY: \(h.reason)"))
    }

    // MARK: - Reload

    /// Re-reads the configuration file (the built-in configuration is reapplied as is) and applies it.
    @discardableResult
    public func reload() -> ReloadOutcome {
        notifier.reloading(status: "reloading \(configuration.file ?? "the built-in configuration")")
        log.info("reload: reading \(configuration.file ?? "(built-in configuration)")")
        guard let file = configuration.file else { return finishReload(apply(configuration)) }
        var new: DaemonConfiguration
        do {
            new = try ConfigurationLoader.load(file: file)
            try options.adjust?(&new)
        } catch let error as ConfigError {
            for issue in error.issues { log.error("reload: \(issue)") }
            let first = error.issues.first.map(\.description) ?? "invalid configuration"
            return finishReload(ReloadOutcome(succeeded: false, message: "\(first)\(error.issues.count > 1 ? " (and \(error.issues.count - 1) more)" : ""); kept the running configuration"))
        } catch {
            return finishReload(ReloadOutcome(succeeded: false, message: "\(error); kept the running configuration"))
        }
        return finishReload(apply(new))
    }

    /// Applies `new` beside the running configuration: a new model (and source, if changed) is loaded and checked
    /// while the old one keeps classifying, then swapped in between two frames. Anything that fails leaves the running
    /// configuration untouched.
    @discardableResult
    public func reload(to new: DaemonConfiguration) -> ReloadOutcome {
        notifier.reloading(status: "reloading")
        return finishReload(apply(new))
    }

    private func finishReload(_ outcome: ReloadOutcome) -> ReloadOutcome {
        let pipeline = lock.locked { self.pipeline }
        if outcome.succeeded {
            metrics.reloadsSucceeded.increment()
            log.info(outcome.description)
            pipeline?.setStatusNote(nil)
        } else {
            metrics.reloadsFailed.increment()
            log.error(outcome.description)
            pipeline?.setStatusNote(outcome.description)
        }
        notifier.ready(status: (pipeline?.statusLine() ?? "") + (outcome.succeeded ? "; \(outcome.description)" : ""))
        return outcome
    }

    private func apply(_ new: DaemonConfiguration) -> ReloadOutcome {
        reloadLock.lock()
        defer { reloadLock.unlock() }
        guard let pipeline = lock.locked({ self.pipeline }), !lock.locked({ stopping }) else {
            return ReloadOutcome(succeeded: false, message: "the daemon is not running")
        }
        let old = configuration
        var changes: [String] = []

        // The model: always loaded again when asked to reload (the file may have been replaced in place), beside the
        // running one. A failure here changes nothing.
        let engine: ModelEngine
        do {
            let board = try BoardChoice.resolve(new.model.board)
            let started = monotonicSeconds()
            engine = try ModelEngine(new.model, board: board)
            log.info(String(printf: "reload: model %@ (loaded in %.2f s)", engine.summary, monotonicSeconds() - started))
            changes.append("model: \(engine.identity.summary)")
        } catch {
            return ReloadOutcome(succeeded: false, message: "model \(new.model.path): \(error); still serving \(pipeline.currentEngine.name)")
        }

        // The source, if its settings changed. A different source is started beside the running one and must deliver
        // a frame within reload_timeout; the same camera device cannot be open twice, so it is swapped directly.
        var newCapture: (LatestFrameCapture, started: Bool)? = nil
        if !SourceFactory.same(old.source, new.source) {
            do {
                let source = try options.makeSource(new.source)
                let capture = LatestFrameCapture(source: source, reopenBackoff: SourceFactory.backoff(new.source.reopenBackoff))
                if SourceFactory.sharesDevice(old.source, new.source) {
                    newCapture = (capture, false)
                } else {
                    capture.start()
                    let deadline = monotonicSeconds() + new.health.reloadTimeout
                    while capture.stats.captured == 0 && monotonicSeconds() < deadline && !lock.locked({ stopping }) {
                        sleepThread(seconds: 0.02)
                    }
                    guard capture.stats.captured > 0 else {
                        let why = capture.stats.lastError ?? "no frame within \(new.health.reloadTimeout) s"
                        capture.stop()
                        return ReloadOutcome(succeeded: false, message: "source \(Self.describe(new.source)): \(why); kept \(Self.describe(old.source)) and the running model")
                    }
                    newCapture = (capture, true)
                }
                changes.append("source \(Self.describe(new.source))")
            } catch {
                return ReloadOutcome(succeeded: false, message: "\(error); kept the running source and model")
            }
        }
        if lock.locked({ stopping }) {
            newCapture?.0.stop()
            return ReloadOutcome(succeeded: false, message: "stopping")
        }

        // Swap: results keep flowing from the old engine until the loop takes the new one.
        if let (capture, started) = newCapture { pipeline.swap(capture: capture, started: started, timeout: new.health.reloadTimeout) }
        pipeline.swap(engine: engine, timeout: new.health.reloadTimeout)
        let discovered = SystemSensors.discover(profile: engine.board.profile)
        lock.locked { sensors = discovered }

        // Settings that apply live.
        pipeline.update(settings: pipelineSettings(new))
        broadcaster.clientQueue = new.results.clientQueue
        broadcaster.maxClients = new.results.maxClients
        broadcaster.setPublishRate(new.results.publishHz)
        if let level = DaemonLog.Level(name: new.log.level) { log.level = level }
        // Endpoints are bound once: moving them would cut every connected client.
        if new.results.socket != old.results.socket || new.results.httpListen != old.results.httpListen || new.results.socketMode != old.results.socketMode {
            log.warning("reload: results.socket, results.socket_mode and results.http_listen take effect at the next restart")
        }
        var applied = new
        applied.results.socket = old.results.socket
        applied.results.httpListen = old.results.httpListen
        applied.results.socketMode = old.results.socketMode
        lock.locked { _configuration = applied }
        return ReloadOutcome(succeeded: true, message: changes.joined(separator: "; "))
    }

    // MARK: - Stop

    /// STOPPING=1, then closes the clients and endpoints (removing the socket file) and stops the pipeline and the
    /// camera. Bounded: a stuck inference is abandoned after about a second.
    public func stop() {
        let first = lock.locked { () -> Bool in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        let started = monotonicSeconds()
        notifier.stopping(status: "stopping")
        log.info("stopping")
        broadcaster.finish()
        let (http, socket, pipeline) = lock.locked { (self.http, self.socket, self.pipeline) }
        http?.stop()
        socket?.stop()
        let ended = pipeline?.stop(timeout: 0.8) ?? true
        if !ended { log.warning("the pipeline did not finish its frame within 0.8 s; exiting anyway") }
        let done = DispatchSemaphore(value: 0)
        let group = self.group
        startThread {
            try? group.syncShutdownGracefully()
            done.signal()
        }
        _ = done.wait(timeout: .now() + 0.5)
        lock.locked { stopped = true }
        log.info(String(printf: "stopped in %.0f ms (%llu frames classified)", (monotonicSeconds() - started) * 1000, pipeline?.snapshot.classified ?? 0))
    }
}

/// Results seen by `onResult` (called on the pipeline thread only; the lock is for the compiler's benefit).
final class ResultCount: @unchecked Sendable {
    private let lock = Lock()
    private var value = 0
    func increment() -> Int { lock.locked { value += 1; return value } }
}
