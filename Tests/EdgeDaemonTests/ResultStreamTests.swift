import EdgeCapture
import Foundation
import NIOPosix
import Testing
@testable import EdgeDaemon

/// Results: the JSON a client sees, fan-out, rate limiting, and slow clients dropped without blocking the publisher.
@Suite struct ResultStreamTests {
    static func result(_ sequence: UInt64, label: String = "Dress \"quoted\"\n") -> ClassificationResult {
        ClassificationResult(sequence: sequence, timestamp: 12.5, wallTime: 1_700_000_000.25, captureToResultMilliseconds: 3.25,
                             stageMilliseconds: (1, 0.5, 1.75),
                             top: [.init(index: 3, label: label, probability: 0.875), .init(index: 1, label: "Trouser", probability: 0.125)],
                             model: "m.onnx", board: "none", source: "test-pattern")
    }

    @Test func resultJSON() throws {
        let line = Self.result(7).json
        #expect(!line.contains("\n"))
        let object = try #require(json(line))
        #expect(object["sequence"] as? Int == 7)
        #expect(object["timestamp"] as? Double == 12.5)
        #expect(object["capture_to_result_ms"] as? Double == 3.25)
        #expect(object["top"] as? [Int] == [3, 1])
        #expect(object["labels"] as? [String] == ["Dress \"quoted\"\n", "Trouser"])
        #expect(object["probabilities"] as? [Double] == [0.875, 0.125])
        #expect(object["model"] as? String == "m.onnx")
        #expect(object["board"] as? String == "none")
        #expect((object["stages_ms"] as? [String: Double])?["inference"] == 1.75)
        #expect(line.hasPrefix("{\"sequence\":7,\"timestamp\":12.5,\"capture_to_result_ms\":3.25,\"top\":[3,1]"))
        #expect(ClassificationResult.number(.nan, 3) == "0")
        #expect(ClassificationResult.number(-0.0001, 3) == "0")
    }

    final class FakeClient: ResultClient, @unchecked Sendable {
        let lock = NSLock()
        var lines: [String] = []
        var accepting = true
        var closedReason: String?
        func deliver(_ line: String, limit: Int) -> Bool {
            lock.locked { guard accepting else { return false }; lines.append(line); return true }
        }
        func close(reason: String) { lock.locked { closedReason = reason } }
    }

    @Test func slowClientIsDroppedOthersContinue() {
        let b = ResultBroadcaster(clientQueue: 4, maxClients: 10)
        let dropped = LinesBox()
        b.onDrop = { dropped.append($0) }
        let fast = FakeClient(), slow = FakeClient()
        #expect(b.add(fast) && b.add(slow))
        b.publish(Self.result(1))
        slow.accepting = false
        b.publish(Self.result(2))
        b.publish(Self.result(3))
        #expect(fast.lines.count == 3)
        #expect(slow.lines.count == 1)
        #expect(slow.closedReason?.contains("too slow") == true)
        #expect(fast.closedReason == nil)
        #expect(b.snapshot.clients == 1)
        #expect(b.snapshot.droppedClients == 1)
        #expect(dropped.all.count == 1)
        #expect(b.latest == Self.result(3).json)
    }

    @Test func clientLimitAndFinish() {
        let b = ResultBroadcaster(clientQueue: 4, maxClients: 2)
        let clients = (0..<3).map { _ in FakeClient() }
        #expect(b.add(clients[0]) && b.add(clients[1]))
        #expect(!b.add(clients[2]))
        #expect(b.snapshot.refusedClients == 1)
        b.finish()
        #expect(clients[0].closedReason == "the daemon is stopping")
        #expect(!b.add(FakeClient()))
    }

    @Test func publishRateLimitsStreamsNotLatest() {
        let b = ResultBroadcaster(publishHz: 10)
        let c = FakeClient()
        #expect(b.add(c))
        for i in 0..<10 { b.publish(Self.result(UInt64(i + 1)), now: 100 + Double(i) * 0.03) }
        // 0.3 s at 10 Hz: t = 100.00, 100.12 (first >= 0.1 after), 100.24.
        #expect(c.lines.count == 3)
        #expect(b.latest == Self.result(10).json)
        #expect(b.snapshot.published == 3)
    }

    /// Over a real Unix socket: a client that never reads is disconnected once its queue is full, while a reading
    /// client keeps receiving every line, and publishing never waits.
    @Test func unixSocketDropsAStalledReader() throws {
        let dir = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("r.sock").path
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let b = ResultBroadcaster(clientQueue: 8, maxClients: 8)
        let server = UnixSocketServer(path: path, mode: 0o600, broadcaster: b, group: group, log: DaemonLog(environment: [:]) { _ in })
        try server.start()
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)

        let stalled = try SocketClient(path: path)
        let reader = try SocketClient(path: path)
        #expect(eventually { b.snapshot.clients == 2 })
        // Big results fill the stalled client's kernel buffer, then its queue.
        let big = Self.result(0, label: String(repeating: "x", count: 16_000))
        let readerLines = LinesBox()
        let readerThread = Thread {
            while true {
                let got = reader.lines(1)
                if got.isEmpty { break }
                readerLines.append(got[0])
                if readerLines.all.count == 400 { break }
            }
        }
        readerThread.start()
        let started = monotonicSeconds()
        for i in 1...400 {
            var r = big
            r.sequence = UInt64(i)
            b.publish(r)
            Thread.sleep(forTimeInterval: 0.002)
        }
        let publishing = monotonicSeconds() - started
        #expect(eventually { b.snapshot.droppedClients == 1 })
        #expect(stalled.readToEnd(timeout: 10), "the stalled client was not disconnected")
        #expect(eventually { readerLines.all.count == 400 }, "the reading client got \(readerLines.all.count) of 400")
        #expect(json(readerLines.all.last ?? "")?["sequence"] as? Int == 400)
        // Not a speed test: a publisher that waited for the stalled client would never get through the 400 results
        // (that client never reads). The bound only has to separate "went through" from "stuck", with room for
        // emulation under load (5.2 s measured under qemu on a busy 2-core machine, 0.8 s of it the sleeps).
        #expect(publishing < 60, "publishing took \(publishing) s")
        server.stop()
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func staleSocketFileIsReplacedLiveOneIsNot() throws {
        let dir = try Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("r.sock").path
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let log = DaemonLog(environment: [:]) { _ in }
        let first = UnixSocketServer(path: path, mode: 0o666, broadcaster: ResultBroadcaster(), group: group, log: log)
        try first.start()
        let second = UnixSocketServer(path: path, mode: 0o666, broadcaster: ResultBroadcaster(), group: group, log: log)
        #expect(throws: DaemonError.self) { try second.start() }
        first.stop()
        // A socket file nobody listens on (a crashed run) is replaced.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(fd)
        #expect(FileManager.default.fileExists(atPath: path))
        try second.start()
        second.stop()
        // A regular file is never replaced.
        FileManager.default.createFile(atPath: path, contents: Data("keep".utf8))
        #expect(throws: DaemonError.self) { try second.start() }
    }
}
