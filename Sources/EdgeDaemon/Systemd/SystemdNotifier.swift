#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The service side of systemd's notification protocol (sd_notify(3)), written directly: one datagram of
/// "KEY=value" lines to the AF_UNIX socket named by $NOTIFY_SOCKET. No libsystemd, so the static aarch64 build
/// links nothing extra. A leading '@' names a socket in the abstract namespace (its first byte becomes NUL).
///
/// Without $NOTIFY_SOCKET (not started by systemd) every call is a no-op, so the daemon runs the same by hand.
public final class SystemdNotifier: @unchecked Sendable {
    /// What was sent, for logs and tests (the last message of each kind).
    public let socketPath: String?
    /// Half of $WATCHDOG_USEC, as sd_watchdog_enabled(3) recommends; nil when systemd set no watchdog for us.
    public let watchdogInterval: Double?
    private let fd: Int32
    private var address = sockaddr_un()
    private var addressLength: socklen_t = 0
    private let lock = Lock()

    /// Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID from `environment`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        var watchdog: Double? = nil
        if let usec = environment["WATCHDOG_USEC"].flatMap({ UInt64($0) }), usec > 0 {
            // $WATCHDOG_PID, when set, names the process the watchdog is meant for (sd_watchdog_enabled(3)).
            let pid = environment["WATCHDOG_PID"].flatMap { Int32($0) }
            if pid == nil || pid == getpid() { watchdog = Double(usec) / 1e6 / 2 }
        }
        watchdogInterval = watchdog

        guard let path, path.hasPrefix("/") || path.hasPrefix("@") else {
            socketPath = nil
            fd = -1
            return
        }
        var bytes = Array(path.utf8)
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            socketPath = nil
            fd = -1
            return
        }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        // An abstract address is exactly its bytes; a path one includes the terminating NUL (zeroed already).
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        addressLength = socklen_t(pathOffset + bytes.count + (bytes[0] == 0 ? 0 : 1))
        #if canImport(Glibc)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)
        #endif
        socketPath = fd >= 0 ? path : nil
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// True when started by systemd with a notification socket.
    public var isEnabled: Bool { fd >= 0 }

    /// Sends one notification ("READY=1\nSTATUS=..."). Failures are returned, never thrown: systemd being away
    /// must not stop classification.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard fd >= 0 else { return false }
        lock.lock()
        defer { lock.unlock() }
        let bytes = Array(state.utf8)
        let sent = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), sa, addressLength)
                }
            }
        }
        return sent == bytes.count
    }

    // The messages the daemon sends (sd_notify(3) "Well-known assignments").

    public func ready(status: String? = nil) { notify("READY=1" + (status.map { "\nSTATUS=" + Self.oneLine($0) } ?? "")) }
    public func status(_ text: String) { notify("STATUS=" + Self.oneLine(text)) }
    public func watchdog() { notify("WATCHDOG=1") }
    public func stopping(status: String? = nil) { notify("STOPPING=1" + (status.map { "\nSTATUS=" + Self.oneLine($0) } ?? "")) }

    /// RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC now), which systemd 253+ uses to match the reload to its request.
    public func reloading(status: String? = nil) {
        notify("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())" + (status.map { "\nSTATUS=" + Self.oneLine($0) } ?? ""))
    }

    public static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }

    /// A STATUS= value is one line.
    static func oneLine(_ text: String) -> String {
        text.replacingAll("\n", with: " ")
    }
}
