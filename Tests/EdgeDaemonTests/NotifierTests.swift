import EdgeCapture
import Foundation
import Testing
@testable import EdgeDaemon

/// The sd_notify protocol against a datagram socket the test binds (no systemd needed).
@Suite struct NotifierTests {
    @Test(arguments: [false, true])
    func sendsDatagramsToPathAndAbstractSockets(abstract: Bool) throws {
        let socket = try NotifySocket(abstract: abstract)
        defer { socket.close() }
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.environmentValue])
        #expect(notifier.isEnabled)
        notifier.ready(status: "first\nframe")
        notifier.watchdog()
        notifier.reloading()
        notifier.stopping()
        #expect(socket.wait(for: "STOPPING=1") != nil)
        let texts = socket.all.map(\.text)
        #expect(texts.count == 4)
        // STATUS is one line even when the text had a line break.
        #expect(texts[0] == "READY=1\nSTATUS=first frame")
        #expect(texts[1] == "WATCHDOG=1")
        let reloading = texts[2].split(separator: "\n")
        #expect(reloading[0] == "RELOADING=1")
        #expect(reloading[1].hasPrefix("MONOTONIC_USEC="))
        let usec = UInt64(reloading[1].dropFirst("MONOTONIC_USEC=".count)) ?? 0
        // CLOCK_MONOTONIC, in microseconds: close to now.
        #expect(abs(Double(usec) / 1e6 - monotonicSeconds()) < 5)
    }

    @Test func withoutNotifySocketEverythingIsANoOp() {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isEnabled)
        #expect(notifier.watchdogInterval == nil)
        #expect(notifier.notify("READY=1") == false)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative"]).isEnabled == false)
    }

    @Test func watchdogIntervalIsHalfOfWatchdogUsecForThisProcess() {
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "10000000"]).watchdogInterval == 5)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "3000000", "WATCHDOG_PID": String(getpid())]).watchdogInterval == 1.5)
        // Meant for another process (e.g. inherited from a parent service).
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "0"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "x"]).watchdogInterval == nil)
    }

    @Test func journalPrefixesOnlyWhenStderrIsTheJournal() {
        let lines = LinesBox()
        let log = DaemonLog(level: .info, environment: [:]) { lines.append($0) }
        log.info("hello")
        log.debug("hidden")
        log.error("bad")
        #expect(lines.all.count == 2)
        #expect(lines.all[0].hasSuffix(" info: hello\n"))
        #expect(lines.all[1].hasSuffix(" error: bad\n"))
        // A $JOURNAL_STREAM that is not our stderr (inherited) does not switch to priority prefixes.
        #expect(!DaemonLog.stderrIsJournal(["JOURNAL_STREAM": "1:1"]))
        #expect(!DaemonLog.stderrIsJournal([:]))
    }
}

final class LinesBox: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ s: String) { lock.locked { lines.append(s) } }
    var all: [String] { lock.locked { lines } }
}
