import EdgeCapture
import Foundation
import Testing
@testable import EdgeDaemon

/// The whole daemon in process, with the real reference model: sources -> results over HTTP and the Unix socket,
/// metrics, systemd notifications, reload, faults and stop. Serialized: each test runs inference threads, and the CI
/// machine has two cores.
@Suite(.serialized) struct DaemonTests {
    static func quietLog() -> DaemonLog { DaemonLog(level: .debug, environment: [:]) { _ in } }

    /// A started daemon (waits for its first result) and its notification socket.
    static func start(_ c: DaemonConfiguration, watchdogUsec: Int? = nil, makeSource: (@Sendable (DaemonConfiguration.Source) throws -> FrameSource)? = nil,
                      log: DaemonLog = quietLog()) throws -> (Daemon, NotifySocket) {
        let notify = try NotifySocket()
        var env = ["NOTIFY_SOCKET": notify.environmentValue]
        if let watchdogUsec { env["WATCHDOG_USEC"] = String(watchdogUsec) }
        let options = Daemon.Options(environment: env, makeSource: makeSource ?? { try SourceFactory.make($0) })
        let daemon = Daemon(configuration: c, options: options, log: log)
        try daemon.start()
        return (daemon, notify)
    }

    @Test func patternSourceResultsOverHTTPAndSocket() throws {
        let dir = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let socketPath = dir.appendingPathComponent("results.sock").path
        let (daemon, notify) = try Self.start(.testDefault(socket: socketPath))
        defer { daemon.stop(); notify.close() }

        // READY=1 once the first frame is classified, with a STATUS line.
        let ready = try #require(notify.wait(for: "READY=1"))
        #expect(daemon.pipelineState!.classified >= 1)
        #expect(ready.text.contains("STATUS="))
        #expect(ready.text.contains("resnet18-fashion-mnist.onnx"))
        let port = try #require(daemon.httpPort)

        // /latest: the newest result.
        let latest = try HTTP.get(port: port, "/latest")
        #expect(latest.status == 200)
        #expect(latest.headers["content-type"] == "application/json")
        let object = try #require(json(latest.body))
        #expect(object["model"] as? String == "resnet18-fashion-mnist.onnx")
        #expect((object["top"] as? [Int])?.count == 5)
        #expect((object["labels"] as? [String])?.allSatisfy { !$0.hasPrefix("class ") } == true, "labels.txt beside the model is used")
        let probabilities = try #require(object["probabilities"] as? [Double])
        #expect(probabilities == probabilities.sorted(by: >))
        #expect((object["capture_to_result_ms"] as? Double ?? -1) >= 0)
        #expect((object["sequence"] as? Int ?? 0) >= 1)

        // /events: Server-Sent Events, increasing sequence numbers.
        let (events, raw) = try HTTP.events(port: port, count: 4)
        #expect(events.count == 4, "\(raw)")
        #expect(raw.lowercased().contains("content-type: text/event-stream"))
        let sequences = events.compactMap { json($0)?["sequence"] as? Int }
        #expect(sequences.count == 4)
        #expect(sequences == sequences.sorted() && Set(sequences).count == 4)

        // The Unix socket: JSON lines, several clients at once.
        let a = try SocketClient(path: socketPath), b = try SocketClient(path: socketPath)
        let linesA = a.lines(3), linesB = b.lines(3)
        #expect(linesA.count == 3 && linesB.count == 3)
        #expect(linesA.allSatisfy { json($0)?["top"] != nil })

        // /healthz while frames flow.
        let health = try HTTP.get(port: port, "/healthz")
        #expect(health.status == 200)
        #expect(json(health.body)?["status"] as? String == "ok")

        // Other paths and methods.
        #expect(try HTTP.get(port: port, "/nope").status == 404)
        #expect(try HTTP.get(port: port, "/latest", method: "POST").status == 405)
        let head = try HTTP.get(port: port, "/latest", method: "HEAD")
        #expect(head.status == 200 && head.body.isEmpty)
    }

    @Test func metricsParseAndCount() throws {
        let (daemon, notify) = try Self.start(.testDefault())
        defer { daemon.stop(); notify.close() }
        #expect(daemon.waitForFirstResult(timeout: 30 * timeScale))
        let port = try #require(daemon.httpPort)
        let first = try Metrics.scrape(port: port)
        Thread.sleep(forTimeInterval: 0.5 * timeScale)
        let second = try Metrics.scrape(port: port)

        for name in ["resnet_edge_frames_captured_total", "resnet_edge_frames_classified_total", "resnet_edge_frames_dropped_total",
                     "resnet_edge_camera_reopens_total", "resnet_edge_camera_healthy", "resnet_edge_healthy"] {
            #expect(second.value(name) != nil, "\(name) missing")
        }
        #expect(second.value("resnet_edge_frames_classified_total")! > first.value("resnet_edge_frames_classified_total")!)
        #expect(second.value("resnet_edge_frames_captured_total")! >= second.value("resnet_edge_frames_classified_total")!)
        #expect(second.value("resnet_edge_camera_healthy") == 1)
        #expect(second.value("resnet_edge_healthy") == 1)
        // Per-stage histograms, and end to end.
        for stage in ["capture_wait", "preprocess", "inference", "publish"] {
            let count = second.value("resnet_edge_stage_duration_seconds_count", ["stage": stage])
            #expect((count ?? 0) >= 1, "stage \(stage)")
            #expect(second.value("resnet_edge_stage_duration_seconds_bucket", ["stage": stage, "le": "+Inf"]) == count)
        }
        #expect((second.value("resnet_edge_capture_to_result_seconds_count") ?? 0) >= 1)
        // The info gauge names model and board.
        let info = try #require(second.samples.first { $0.name == "resnet_edge_model_info" })
        #expect(info.labels["model"] == "resnet18-fashion-mnist.onnx")
        #expect(info.labels["board"] != nil && info.labels["precision"] == "FP32")
        #expect(info.value == 1)
        // Every sample line is valid exposition format.
        #expect(second.malformed.isEmpty, "\(second.malformed)")
        #expect(second.types["resnet_edge_stage_duration_seconds"] == "histogram")
        #expect(second.types["resnet_edge_frames_classified_total"] == "counter")
    }

    @Test func imageFolderClassifiesThePhotos() throws {
        var c = DaemonConfiguration.testDefault()
        c.source.kind = .images
        c.source.path = Paths.images
        c.source.fps = 30
        let (daemon, notify) = try Self.start(c)
        defer { daemon.stop(); notify.close() }
        #expect(daemon.waitForFirstResult(timeout: 30 * timeScale))
        let port = try #require(daemon.httpPort)
        let (events, _) = try HTTP.events(port: port, count: 5)
        #expect(events.count == 5)
        #expect(events.allSatisfy { (json($0)?["source"] as? String) == Paths.images })
    }

    @Test func watchdogPingsWhileClassifyingAndStopsWhenStuck() throws {
        let source = ControlledSource()
        let (daemon, notify) = try Self.start(.testDefault(), watchdogUsec: Int(400_000 * timeScale), makeSource: { _ in source })
        defer { source.unblock(); daemon.stop(); notify.close() }
        #expect(notify.wait(for: "READY=1") != nil)
        Thread.sleep(forTimeInterval: 1.2 * timeScale)
        let pings = notify.with("WATCHDOG=1").map(\.time)
        // Every 0.2 s (half of WATCHDOG_USEC): about 6 in 1.2 s, and never more than 0.4 s apart.
        #expect(pings.count >= 4, "\(pings.count) pings")
        let gaps = zip(pings.dropFirst(), pings).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 >= 0.19 * timeScale && $0 < 0.4 * timeScale }, "\(gaps)")

        // A capture stuck in read() while "healthy": no frames, so no pings; systemd would kill us.
        source.hang()
        Thread.sleep(forTimeInterval: 0.3 * timeScale)
        let before = notify.with("WATCHDOG=1").count
        Thread.sleep(forTimeInterval: 1.0 * timeScale)
        #expect(notify.with("WATCHDOG=1").count == before, "pings continued while the pipeline was stuck")
        source.unblock()
        #expect(eventually(timeout: 5) { notify.with("WATCHDOG=1").count > before }, "pings did not resume")
    }

    @Test func unpluggedCameraIsUnhealthyThenRecovers() throws {
        let source = ControlledSource()
        var c = DaemonConfiguration.testDefault()
        c.source.reopenBackoff = 0.1
        c.health.staleAfter = 0.5 * timeScale
        let (daemon, notify) = try Self.start(c, watchdogUsec: Int(600_000 * timeScale), makeSource: { _ in source })
        defer { daemon.stop(); notify.close() }
        #expect(notify.wait(for: "READY=1") != nil)
        let port = try #require(daemon.httpPort)
        #expect(try HTTP.get(port: port, "/healthz").status == 200)

        source.unplug()
        #expect(eventually(timeout: 10) { (try? HTTP.get(port: port, "/healthz").status) == 503 })
        let unhealthy = try HTTP.get(port: port, "/healthz")
        let body = try #require(json(unhealthy.body))
        #expect(body["status"] as? String == "unhealthy")
        #expect((body["reason"] as? String)?.contains("controlled-camera") == true, "\(body)")
        #expect(try Metrics.scrape(port: port).value("resnet_edge_camera_healthy") == 0)
        #expect(eventually(timeout: 5) { notify.withPrefix("STATUS=unhealthy").count > 0 })
        // While the capture reopens, the watchdog keeps being fed: a missing camera is no reason to restart.
        let during = notify.with("WATCHDOG=1").count
        Thread.sleep(forTimeInterval: 1.0 * timeScale)
        #expect(notify.with("WATCHDOG=1").count >= during + 2)

        source.restore()
        #expect(eventually(timeout: 10) { (try? HTTP.get(port: port, "/healthz").status) == 200 }, "did not recover")
        let metrics = try Metrics.scrape(port: port)
        #expect(metrics.value("resnet_edge_camera_healthy") == 1)
        #expect((metrics.value("resnet_edge_camera_reopens_total") ?? 0) >= 1)
        #expect(source.opens >= 2)
    }

    @Test func reloadSwapsModelAndKeepsStreamingBadModelKeepsTheOld() throws {
        let dir = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A model path the test can replace: the reference model and its labels.
        let model = dir.appendingPathComponent("model.onnx").path
        try FileManager.default.copyItem(atPath: Paths.referenceModel, toPath: model)
        try FileManager.default.copyItem(atPath: Paths.referenceModel.replacingOccurrences(of: "resnet18-fashion-mnist.onnx", with: "labels.txt"),
                                         toPath: dir.appendingPathComponent("labels.txt").path)
        var c = DaemonConfiguration.testDefault()
        c.model.path = model
        let (daemon, notify) = try Self.start(c)
        defer { daemon.stop(); notify.close() }
        #expect(notify.wait(for: "READY=1") != nil)
        let port = try #require(daemon.httpPort)

        // Stream results throughout, to see that they never stop.
        let streamed = LinesBox()
        let reader = Thread {
            if let (events, _) = try? HTTP.events(port: port, count: 100_000, timeout: 6 * timeScale) { for e in events { streamed.append(e) } }
        }
        reader.start()

        // Good reload: top_k changes, the model is loaded again beside the old one.
        var good = c
        good.results.topK = 2
        let index = notify.all.count
        let outcome = daemon.reload(to: good)
        #expect(outcome.succeeded, "\(outcome)")
        #expect(notify.wait(for: "RELOADING=1", after: index) != nil)
        let readyAgain = try #require(notify.wait(for: "READY=1", after: index))
        #expect(readyAgain.text.contains("reloaded"))
        #expect(eventually { (json((try? HTTP.get(port: port, "/latest").body) ?? "")?["top"] as? [Int])?.count == 2 })

        // Bad model file in place of the good one: the reload fails, the old model keeps serving.
        try Data("not a model".utf8).write(to: URL(fileURLWithPath: model))
        let classifiedBefore = daemon.pipelineState!.classified
        let index2 = notify.all.count
        let bad = daemon.reload(to: good)
        #expect(!bad.succeeded)
        #expect(bad.message.contains("model.onnx"), "\(bad.message)")
        #expect(bad.message.contains("still serving"), "\(bad.message)")
        let status = try #require(notify.wait(for: "READY=1", after: index2))
        #expect(status.text.contains("reload failed"), "\(status.text)")
        #expect(eventually { daemon.pipelineState!.classified > classifiedBefore + 5 })
        #expect(eventually(timeout: 5) { notify.all.dropFirst(index2 + 2).contains { $0.text.contains("STATUS=") && $0.text.contains("reload failed") } },
                "the status keeps saying the reload failed")
        #expect(try Metrics.scrape(port: port).value("resnet_edge_reloads_total", ["result": "failed"]) == 1)

        // A bad configuration file: same, nothing changes.
        let file = dir.appendingPathComponent("bad.toml").path
        try "[model]\npath = \"\(Paths.referenceModel)\"\n[source]\nwidht = 3\n".write(toFile: file, atomically: true, encoding: .utf8)
        var fromFile = good
        fromFile.file = file
        let reloader = Daemon(configuration: fromFile, options: .init(environment: [:]), log: Self.quietLog())
        #expect(!reloader.reload().succeeded)   // not running: refuses cleanly

        reader.join(timeout: 10 * timeScale)
        let sequences = streamed.all.compactMap { json($0)?["sequence"] as? Int }
        #expect(sequences.count > 20, "\(sequences.count) events while reloading")
        // No gap in the stream longer than a second (frames at 60 fps).
        #expect(sequences == sequences.sorted())
    }

    @Test func reloadFromFileWithATypoKeepsRunning() throws {
        let dir = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("resnet-edge.toml").path
        let good = """
        [model]
        path = "\(Paths.referenceModel)"
        preprocess = "fashion-mnist"
        threads = 1
        [source]
        kind = "pattern"
        width = 64
        height = 48
        [results]
        socket = ""
        http_listen = "127.0.0.1:0"
        top_k = 4
        """
        try good.write(toFile: file, atomically: true, encoding: .utf8)
        let c = try ConfigurationLoader.load(file: file)
        let lines = LinesBox()
        let log = DaemonLog(level: .info, environment: [:]) { lines.append($0) }
        let (daemon, notify) = try Self.start(c, log: log)
        defer { daemon.stop(); notify.close() }
        #expect(notify.wait(for: "READY=1") != nil)

        try (good.replacingOccurrences(of: "top_k = 4", with: "top_kk = 3")).write(toFile: file, atomically: true, encoding: .utf8)
        let outcome = daemon.reload()
        #expect(!outcome.succeeded)
        #expect(outcome.message.contains("\(file):12: unknown key 'top_kk' in [results]; did you mean 'top_k'?"), "\(outcome.message)")
        #expect(lines.all.contains { $0.contains("error: reload: \(file):12: unknown key 'top_kk'") })
        #expect(daemon.configuration.results.topK == 4)

        // Fixed file, with a different source: swapped in, results continue from the new source.
        try (good.replacingOccurrences(of: "kind = \"pattern\"", with: "kind = \"images\"\npath = \"\(Paths.images)\"")).write(toFile: file, atomically: true, encoding: .utf8)
        let fixed = daemon.reload()
        #expect(fixed.succeeded, "\(fixed)")
        let port = try #require(daemon.httpPort)
        #expect(eventually { (json((try? HTTP.get(port: port, "/latest").body) ?? "")?["source"] as? String) == Paths.images })
    }

    @Test func stopsWithinTwoSecondsAndRemovesTheSocket() throws {
        let dir = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let socketPath = dir.appendingPathComponent("results.sock").path
        let (daemon, notify) = try Self.start(.testDefault(socket: socketPath))
        defer { notify.close() }
        #expect(daemon.waitForFirstResult(timeout: 30 * timeScale))
        let port = try #require(daemon.httpPort)
        // Clients connected while stopping are closed, not waited for.
        let client = try SocketClient(path: socketPath)
        let events = try HTTP.connectTCP(port: port)
        HTTP.send(events, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        defer { close(events) }
        #expect(client.lines(1).count == 1)

        let started = monotonicSeconds()
        daemon.stop()
        let took = monotonicSeconds() - started
        #expect(took < 2 * timeScale, "stop took \(took) s")
        #expect(notify.wait(for: "STOPPING=1", timeout: 1) != nil)
        #expect(!FileManager.default.fileExists(atPath: socketPath))
        #expect(client.readToEnd(timeout: 2))
        #expect(throws: (any Error).self) { try HTTP.get(port: port, "/latest") }
    }

    @Test func badModelFailsToStart() throws {
        let dir = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("broken.onnx")
        try Data("broken".utf8).write(to: model)
        var c = DaemonConfiguration.testDefault()
        c.model.path = model.path
        let daemon = Daemon(configuration: c, options: .init(environment: [:]), log: Self.quietLog())
        do {
            try daemon.start()
            Issue.record("started with a broken model")
        } catch {
            #expect("\(error)".contains(model.path))
        }
    }
}

/// Prometheus text exposition, parsed strictly enough to catch a malformed line.
struct Metrics {
    struct Sample { var name: String; var labels: [String: String]; var value: Double }
    var samples: [Sample] = []
    var types: [String: String] = [:]
    var malformed: [String] = []

    static func scrape(port: Int) throws -> Metrics {
        let r = try HTTP.get(port: port, "/metrics")
        guard r.status == 200, r.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true else {
            throw DaemonError("GET /metrics: \(r.status) \(r.headers)")
        }
        return parse(r.body)
    }

    static func parse(_ text: String) -> Metrics {
        var m = Metrics()
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count == 4 { m.types[String(parts[2])] = String(parts[3]) } else { m.malformed.append(String(line)) }
                continue
            }
            if line.hasPrefix("#") { continue }
            var rest = Substring(line)
            let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
            let name = String(rest[..<nameEnd])
            rest = rest[nameEnd...]
            var labels: [String: String] = [:]
            if rest.first == "{" {
                guard let close = rest.firstIndex(of: "}") else { m.malformed.append(String(line)); continue }
                let body = rest[rest.index(after: rest.startIndex)..<close]
                for pair in body.split(separator: ",") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2, kv[1].hasPrefix("\""), kv[1].hasSuffix("\"") else { m.malformed.append(String(line)); continue }
                    labels[String(kv[0])] = String(kv[1].dropFirst().dropLast())
                }
                rest = rest[rest.index(after: close)...]
            }
            let valueText = rest.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }),
                  let value = Double(valueText) ?? (valueText == "NaN" ? .nan : valueText == "+Inf" ? .infinity : nil) else {
                m.malformed.append(String(line)); continue
            }
            m.samples.append(Sample(name: name, labels: labels, value: value))
        }
        return m
    }

    /// The value of the sample with this name whose labels include `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { sample in sample.name == name && labels.allSatisfy { k, v in sample.labels[k] == v } }?.value
    }
}

extension Thread {
    /// Waits for a thread started with `start()` to finish (polling `isFinished`).
    func join(timeout: Double) {
        let deadline = monotonicSeconds() + timeout
        while !isFinished && monotonicSeconds() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    }
}
