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

/// Log lines on standard error. Under systemd (stderr connected to the journal, $JOURNAL_STREAM set) each line
/// starts with its syslog priority ("<3>", sd-daemon(3)) so `journalctl -p warning` works and the journal adds the
/// time itself; by hand each line gets a timestamp and the level instead.
public final class DaemonLog: @unchecked Sendable {
    public enum Level: Int, Sendable {
        case error = 3, warning = 4, info = 6, debug = 7

        public init?(name: String) {
            switch name {
            case "error": self = .error
            case "warning": self = .warning
            case "info": self = .info
            case "debug": self = .debug
            default: return nil
            }
        }

        var name: String {
            switch self {
            case .error: return "error"
            case .warning: return "warning"
            case .info: return "info"
            case .debug: return "debug"
            }
        }
    }

    private let lock = Lock()
    private var _level: Level
    public var level: Level { get { lock.locked { _level } } set { lock.locked { _level = newValue } } }
    private let journal: Bool
    private let sink: (@Sendable (String) -> Void)?

    /// `sink` replaces stderr (tests).
    public init(level: Level = .info, environment: [String: String] = ProcessInfo.processInfo.environment,
                sink: (@Sendable (String) -> Void)? = nil) {
        _level = level
        journal = Self.stderrIsJournal(environment)
        self.sink = sink
    }

    /// $JOURNAL_STREAM is "device:inode" of the journal stream; it only counts when stderr is that very stream
    /// (a child of a service whose stderr was redirected inherits the variable but not the stream).
    static func stderrIsJournal(_ environment: [String: String]) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return UInt64(st.st_dev) == dev && UInt64(st.st_ino) == ino
    }

    public func log(_ level: Level, _ message: String) {
        // Syslog priorities: lower is more severe.
        guard level.rawValue <= self.level.rawValue else { return }
        let line: String
        if journal {
            line = "<\(level.rawValue)>\(message)\n"
        } else {
            let now = Date()
            let seconds = now.timeIntervalSince1970
            var t = time_t(seconds)
            var parts = tm()
            localtime_r(&t, &parts)
            line = String(printf: "%02d:%02d:%02d.%03d %@: %@\n", parts.tm_hour, parts.tm_min, parts.tm_sec,
                          Int((seconds - Double(Int(seconds))) * 1000), level.name, message)
        }
        if let sink { sink(line); return }
        lock.locked {
            line.utf8CString.withUnsafeBufferPointer { buffer in
                var offset = 0
                let count = buffer.count - 1
                while offset < count {
                    let n = write(2, buffer.baseAddress! + offset, count - offset)
                    if n <= 0 { if errno == EINTR { continue }; break }
                    offset += n
                }
            }
        }
    }

    public func error(_ message: String) { log(.error, message) }
    public func warning(_ message: String) { log(.warning, message) }
    public func info(_ message: String) { log(.info, message) }
    public func debug(_ message: String) { log(.debug, message) }
}
