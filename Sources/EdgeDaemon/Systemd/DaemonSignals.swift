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

/// SIGTERM/SIGINT stop the daemon, SIGHUP reloads it. The signals are blocked in every thread (`block()`, called
/// before any thread exists, so all threads inherit the mask) and taken synchronously by the main thread with
/// sigtimedwait: no async-signal-safety concerns, and the reload runs as ordinary code.
public enum DaemonSignals {
    static var handled: [Int32] { [SIGTERM, SIGINT, SIGHUP] }

    static func set() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for s in handled { sigaddset(&set, s) }
        return set
    }

    /// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and every thread it starts afterwards.
    public static func block() {
        var s = set()
        pthread_sigmask(SIG_BLOCK, &s, nil)
    }

    /// Runs until SIGTERM/SIGINT (exit status 0) or the daemon's frame limit. SIGHUP reloads on a separate thread
    /// so a slow model load never delays a stop; reloads do not overlap (one more runs if SIGHUP came meanwhile).
    public static func run(_ daemon: Daemon) -> Int32 {
        var s = set()
        let reloads = ReloadQueue(daemon)
        while true {
            var info = siginfo_t()
            var timeout = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            let signal = sigtimedwait(&s, &info, &timeout)
            if signal == SIGTERM || signal == SIGINT {
                daemon.log.info("received \(signal == SIGTERM ? "SIGTERM" : "SIGINT")")
                daemon.stop()
                return 0
            }
            if signal == SIGHUP {
                daemon.log.info("received SIGHUP: reloading")
                reloads.request()
            }
            if daemon.waitForFrameLimit(timeout: 0) {
                daemon.log.info("classified the requested \(daemon.options.stopAfterFrames ?? 0) frames")
                daemon.stop()
                return 0
            }
            daemon.tick()
        }
    }
}

/// Serialises reloads on one background thread.
final class ReloadQueue: @unchecked Sendable {
    private let daemon: Daemon
    private let lock = Lock()
    private var running = false
    private var again = false

    init(_ daemon: Daemon) { self.daemon = daemon }

    func request() {
        let start = lock.locked { () -> Bool in
            if running { again = true; return false }
            running = true
            return true
        }
        guard start else { return }
        startThread(name: "resnet-edge reload") { [self] in
            while true {
                daemon.reload()
                let more = lock.locked { () -> Bool in
                    if again { again = false; return true }
                    running = false
                    return false
                }
                if !more { break }
            }
        }
    }
}
