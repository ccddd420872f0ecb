import EdgeCapture
import Foundation
import TestSupport
@testable import EdgeDaemon
#if canImport(Glibc)
import Glibc
#endif

/// Emulated runs (qemu-user: `RESNET_EDGE_TEST_SUBSET=1`, 10-30x slower) stretch every interval and time limit of the
/// daemon tests by this factor; the assertions stay the same.
let timeScale: Double = TestSubset.isActive ? 15 : 1

enum Paths {
    static let referenceModel = TestPaths.referenceModels.appendingPathComponent("resnet18-fashion-mnist.onnx").path
    static let images = TestPaths.testImages.path

    static func temporaryDirectory() throws -> URL {
        // Short: Unix socket paths have at most 107 bytes.
        let dir = URL(fileURLWithPath: "/tmp/re-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// A datagram socket the test binds, standing in for systemd's notification socket: collects every message with its
/// arrival time.
final class NotifySocket: @unchecked Sendable {
    struct Message { let text: String; let time: Double }
    let path: String
    /// What $NOTIFY_SOCKET should say ("@name" for the abstract namespace).
    let environmentValue: String
    private let fd: Int32
    private let lock = NSLock()
    private var messages: [Message] = []
    private var closed = false
    private var thread: Thread?

    init(abstract: Bool = false) throws {
        let name = "re-notify-\(UUID().uuidString.prefix(8))"
        path = abstract ? name : "/tmp/\(name).sock"
        environmentValue = abstract ? "@" + name : path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if abstract { bytes.insert(0, at: 0) }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw DaemonError("bind \(path): \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !lock.locked({ closed }) {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 {
                    let text = String(decoding: buffer[0..<n], as: UTF8.self)
                    lock.locked { messages.append(Message(text: text, time: monotonicSeconds())) }
                }
            }
        }
        self.thread = thread
        thread.start()
    }

    deinit { close() }

    func close() {
        let first = lock.locked { () -> Bool in defer { closed = true }; return !closed }
        guard first else { return }
        Thread.sleep(forTimeInterval: 0.15)
        Glibc.close(fd)
        if !path.hasPrefix("re-") { unlink(path) }
    }

    var all: [Message] { lock.locked { messages } }

    /// Messages that contain `line` as one of their lines.
    func with(_ line: String) -> [Message] { all.filter { $0.text.split(separator: "\n").contains { $0 == line } } }
    func withPrefix(_ prefix: String) -> [Message] { all.filter { $0.text.split(separator: "\n").contains { $0.hasPrefix(prefix) } } }

    /// Waits until a message containing `line` arrives (after `index` messages).
    @discardableResult
    func wait(for line: String, after index: Int = 0, timeout: Double = 20) -> Message? {
        let deadline = monotonicSeconds() + timeout * timeScale
        while monotonicSeconds() < deadline {
            let found = lock.locked { messages.dropFirst(index).first { $0.text.split(separator: "\n").contains { $0 == line } } }
            if let found { return found }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return nil
    }
}

/// Minimal blocking HTTP/1.1 and SSE client over POSIX sockets: tests read exactly what goes over the wire.
enum HTTP {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    static func connectTCP(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { Glibc.close(fd); throw DaemonError("connect 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: Int(10 * timeScale), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func send(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    static func get(port: Int, _ path: String, method: String = "GET") throws -> Response {
        let fd = try connectTCP(port: port)
        defer { Glibc.close(fd) }
        send(fd, "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw DaemonError("no HTTP response: \(text)") }
        let headLines = text[..<split.lowerBound].split(separator: "\r\n")
        let status = Int(headLines.first?.split(separator: " ")[1] ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in headLines.dropFirst() {
            let kv = line.split(separator: ":", maxSplits: 1)
            if kv.count == 2 { headers[kv[0].lowercased()] = kv[1].trimmingCharacters(in: .whitespaces) }
        }
        return Response(status: status, headers: headers, body: String(text[split.upperBound...]))
    }

    /// Opens /events and returns the first `count` events' data (JSON lines), and the raw text read.
    static func events(port: Int, count: Int, timeout: Double = 20 * timeScale) throws -> (events: [String], raw: String) {
        let fd = try connectTCP(port: port)
        defer { Glibc.close(fd) }
        send(fd, "GET /events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n")
        var raw = ""
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = monotonicSeconds() + timeout
        var events: [String] = []
        while events.count < count && monotonicSeconds() < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            raw += String(decoding: buffer[0..<n], as: UTF8.self)
            // Chunked framing lines are hex sizes; event lines start with "data: ".
            events = raw.split(separator: "\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)).trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        return (Array(events.prefix(count)), raw)
    }
}

/// A client of the Unix socket result stream.
final class SocketClient {
    let fd: Int32
    private var pending = ""

    init(path: String, readTimeout: Double = 10 * timeScale) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let r = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard r == 0 else { Glibc.close(fd); throw DaemonError("connect \(path): \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: Int(readTimeout), tv_usec: Int((readTimeout - Double(Int(readTimeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    /// The next `count` lines; fewer if the connection ends or times out.
    func lines(_ count: Int) -> [String] {
        var out: [String] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while out.count < count {
            if let nl = pending.firstIndex(of: "\n") {
                out.append(String(pending[..<nl]))
                pending = String(pending[pending.index(after: nl)...])
                continue
            }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            pending += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        return out
    }

    /// True when the server closed the connection (reads to the end, discarding).
    func readToEnd(timeout: Double) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = monotonicSeconds() + timeout * timeScale
        while monotonicSeconds() < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return true }
            if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK { return true }
        }
        return false
    }
}

/// A frame source the test controls: solid RGB frames at `fps`, and an outage on demand (reads throw deviceGone and
/// reopens fail with deviceMissing until `restore()`), like a USB camera pulled out and plugged back in.
final class ControlledSource: FrameSource, @unchecked Sendable {
    let width: Int, height: Int, fps: Double
    var name: String { "controlled-camera" }
    private let lock = NSLock()
    private var gone = false
    private var sequence: UInt64 = 0
    private var opened = false
    private(set) var opens = 0
    private var blockReads = false

    init(width: Int = 64, height: Int = 48, fps: Double = 50) {
        self.width = width
        self.height = height
        self.fps = fps
    }

    func unplug() { lock.locked { gone = true } }
    func restore() { lock.locked { gone = false } }
    /// Makes read() hang (a driver stuck in DQBUF), until `unblock()`.
    func hang() { lock.locked { blockReads = true } }
    func unblock() { lock.locked { blockReads = false } }

    func open() throws {
        try lock.locked {
            if gone { throw CaptureError.deviceMissing("controlled-camera: unplugged") }
            opened = true
            opens += 1
        }
    }

    func close() { lock.locked { opened = false } }

    func read(timeout: Double) throws -> Frame? {
        while lock.locked({ blockReads }) { Thread.sleep(forTimeInterval: 0.01) }
        let (isGone, isOpen) = lock.locked { (gone, opened) }
        if isGone { throw CaptureError.deviceGone("controlled-camera: unplugged") }
        guard isOpen else { throw CaptureError.io("controlled-camera: not open") }
        Thread.sleep(forTimeInterval: min(timeout, 1 / fps))
        let seq = lock.locked { () -> UInt64 in sequence += 1; return sequence }
        let value = UInt8(truncatingIfNeeded: seq &* 7)
        return try Frame(format: .rgb24, width: width, height: height, sequence: seq, timestamp: monotonicSeconds(),
                         bytes: [UInt8](repeating: value, count: width * height * 3))
    }
}

extension DaemonConfiguration {
    /// The reference model on a test pattern, no socket, HTTP on a free loopback port.
    static func testDefault(socket: String = "") -> DaemonConfiguration {
        var c = DaemonConfiguration.defaults(modelPath: Paths.referenceModel)
        c.model.preprocess = "fashion-mnist"
        c.model.threads = 1
        c.source.kind = .pattern
        c.source.width = 64
        c.source.height = 48
        c.source.fps = 60
        c.results.socket = socket
        c.results.httpListen = "127.0.0.1:0"
        c.health.statusInterval = 0.2
        c.log.summaryInterval = 0
        return c
    }
}

/// Polls `condition` until true or `timeout`.
func eventually(timeout: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = monotonicSeconds() + timeout * timeScale
    while monotonicSeconds() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}

/// A JSON object from one line.
func json(_ line: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
}

extension NSLock {
    /// The tests' own locks, used as EdgeDaemon uses its `Lock.locked` (which is not NSLock's since the daemon left
    /// full Foundation).
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
