import EdgeCapture
import Foundation
import Testing
@testable import EdgeDaemon

/// `resnet-edge serve` as systemd runs it: a separate process, real signals (SIGHUP, SIGTERM), $NOTIFY_SOCKET.
@Suite(.serialized) struct ServeProcessTests {
    static var binary: URL {
        // SwiftPM puts the products of the same build beside the test runner (any --scratch-path).
        Bundle.main.bundleURL.appendingPathComponent("resnet-edge")
    }

    final class Child {
        let process = Process()
        let stdout = Pipe(), stderr = Pipe()
        let errLines = LinesBox(), outLines = LinesBox()

        init(_ arguments: [String], environment: [String: String] = [:]) throws {
            process.executableURL = ServeProcessTests.binary
            process.arguments = arguments
            var env = ProcessInfo.processInfo.environment
            env.removeValue(forKey: "NOTIFY_SOCKET")
            env.removeValue(forKey: "JOURNAL_STREAM")
            for (k, v) in environment { env[k] = v }
            process.environment = env
            process.standardOutput = stdout
            process.standardError = stderr
            let errLines = self.errLines, outLines = self.outLines
            stderr.fileHandleForReading.readabilityHandler = { h in
                let d = h.availableData
                if !d.isEmpty { errLines.append(String(decoding: d, as: UTF8.self)) }
            }
            stdout.fileHandleForReading.readabilityHandler = { h in
                let d = h.availableData
                if !d.isEmpty { outLines.append(String(decoding: d, as: UTF8.self)) }
            }
            try process.run()
        }

        var errorText: String { errLines.all.joined() }
        var outputText: String { outLines.all.joined() }

        func signal(_ s: Int32) { kill(process.processIdentifier, s) }

        /// Waits for exit; nil on timeout.
        func wait(timeout: Double) -> Int32? {
            let deadline = monotonicSeconds() + timeout * timeScale
            while process.isRunning && monotonicSeconds() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            if process.isRunning { return nil }
            Thread.sleep(forTimeInterval: 0.05)
            return process.terminationStatus
        }

        deinit {
            if process.isRunning { process.terminate(); _ = wait(timeout: 5) }
            stdout.fileHandleForReading.readabilityHandler = nil
            stderr.fileHandleForReading.readabilityHandler = nil
        }
    }

    func writeConfig(_ dir: URL, topK: Int = 3, extra: String = "") throws -> String {
        let file = dir.appendingPathComponent("resnet-edge.toml").path
        try """
        [model]
        path = "\(Paths.referenceModel)"
        preprocess = "fashion-mnist"
        threads = 1
        [source]
        kind = "pattern"
        width = 64
        height = 48
        fps = 30
        [results]
        socket = "\(dir.appendingPathComponent("results.sock").path)"
        http_listen = "127.0.0.1:0"
        top_k = \(topK)
        \(extra)
        [health]
        status_interval = 0.2
        """.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// The HTTP port from the "results: http://127.0.0.1:PORT/latest" log line.
    func port(_ child: Child) -> Int? {
        guard let line = child.errorText.split(separator: "\n").first(where: { $0.contains("results: http://127.0.0.1:") }),
              let range = line.range(of: "127.0.0.1:") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    @Test func systemdLifecycleWithRealSignals() throws {
        let dir = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try writeConfig(dir)
        let notify = try NotifySocket()
        defer { notify.close() }
        let child = try Child(["serve", "--config", file], environment: ["NOTIFY_SOCKET": notify.environmentValue, "WATCHDOG_USEC": String(Int(1_000_000 * timeScale))])

        let ready = try #require(notify.wait(for: "READY=1", timeout: 60), "no READY=1; stderr:\n\(child.errorText)")
        #expect(ready.text.contains("STATUS="))
        #expect(eventually { port(child) != nil })
        let http = try #require(port(child))
        #expect(json(try HTTP.get(port: http, "/latest").body)?["top"] as? [Int] != nil)
        let socketPath = dir.appendingPathComponent("results.sock").path
        #expect(try SocketClient(path: socketPath).lines(2).count == 2)
        #expect(eventually(timeout: 3) { notify.with("WATCHDOG=1").count >= 2 })
        // The journal gets useful lines.
        for expected in ["configuration \(file)", "model: resnet18-fashion-mnist.onnx", "source: test pattern", "first frame classified"] {
            #expect(child.errorText.contains(expected), "stderr lacks '\(expected)':\n\(child.errorText)")
        }

        // SIGHUP with a changed file: RELOADING=1 (+ MONOTONIC_USEC), then READY=1; the new top_k is used.
        _ = try writeConfig(dir, topK: 2)
        var index = notify.all.count
        child.signal(SIGHUP)
        let reloading = try #require(notify.wait(for: "RELOADING=1", after: index, timeout: 30))
        #expect(reloading.text.contains("MONOTONIC_USEC="))
        #expect(notify.wait(for: "READY=1", after: index, timeout: 90) != nil)
        #expect(eventually { (json((try? HTTP.get(port: http, "/latest").body) ?? "")?["top"] as? [Int])?.count == 2 })

        // SIGHUP with a typo: kept running, the journal and the status say why.
        _ = try writeConfig(dir, topK: 2, extra: "publish_hzz = 3")
        index = notify.all.count
        child.signal(SIGHUP)
        let failed = try #require(notify.wait(for: "READY=1", after: index, timeout: 30))
        #expect(failed.text.contains("reload failed"), "\(failed.text)")
        #expect(eventually { child.errorText.contains("unknown key 'publish_hzz' in [results]; did you mean 'publish_hz'?") })
        #expect(try HTTP.get(port: http, "/healthz").status == 200)

        // SIGTERM: STOPPING=1, exit 0 within 2 s, socket file removed.
        let started = monotonicSeconds()
        child.signal(SIGTERM)
        let status = child.wait(timeout: 5)
        let took = monotonicSeconds() - started
        #expect(status == 0, "exit status \(String(describing: status)); stderr:\n\(child.errorText)")
        #expect(took < 2 * timeScale, "stopping took \(took) s")
        #expect(!notify.with("STOPPING=1").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: socketPath))
    }

    @Test func builtInDefaultPrintsResultsAndStopsAfterFrames() throws {
        let child = try Child(["serve", "--source", "pattern", "--http", "127.0.0.1:0", "--frames", "5", "--threads", "1"])
        let status = child.wait(timeout: 60)
        #expect(status == 0, "stderr:\n\(child.errorText)")
        let lines = child.outputText.split(separator: "\n")
        #expect(lines.count == 5, "\(child.outputText)")
        #expect(lines.allSatisfy { json(String($0))?["model"] as? String == "resnet18-fashion-mnist.onnx" })
    }

    @Test func checkConfig() throws {
        let dir = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try writeConfig(dir)
        let good = try Child(["serve", "--check-config", file])
        #expect(good.wait(timeout: 60) == 0, "\(good.errorText)")
        #expect(good.outputText.contains("\(file): valid"))
        #expect(good.outputText.contains("model: resnet18-fashion-mnist.onnx: 10 classes"))

        let bad = dir.appendingPathComponent("bad.toml").path
        try "[model]\npath = \"\(Paths.referenceModel)\"\n[source]\nkind = \"camera\"\nfsp = 30\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let child = try Child(["serve", "--check-config", bad])
        #expect(child.wait(timeout: 30) == 78)
        #expect(child.errorText.contains("error: \(bad):5: unknown key 'fsp' in [source]; did you mean 'fps'?"), "\(child.errorText)")

        // The same file given to serve: exit 78 (the unit does not restart on it), the same message.
        let serve = try Child(["serve", "--config", bad])
        #expect(serve.wait(timeout: 30) == 78)
        #expect(serve.errorText.contains("unknown key 'fsp'"))

        // A missing model file names the key.
        let missing = dir.appendingPathComponent("missing.toml").path
        try "[model]\npath = \"nope.onnx\"\n".write(toFile: missing, atomically: true, encoding: .utf8)
        let m = try Child(["serve", "--check-config", missing])
        #expect(m.wait(timeout: 30) == 78)
        #expect(m.errorText.contains("model.path"), "\(m.errorText)")
    }
}
