import Foundation
import Testing
@testable import EdgeCapture

/// A source that fails on a script: `open()` fails `openFailures` times first; after that each opening delivers
/// `framesPerOpen` frames and then throws deviceGone, `gone` times in all; then it delivers forever.
final class FlakySource: FrameSource, @unchecked Sendable {
    let lock = NSLock()
    var openFailures: Int
    var gone: Int
    let framesPerOpen: Int
    private var sequence: UInt64 = 0
    private var delivered = 0
    private var isOpen = false
    private(set) var opens = 0
    var name: String { "flaky" }

    init(openFailures: Int, gone: Int, framesPerOpen: Int) {
        self.openFailures = openFailures
        self.gone = gone
        self.framesPerOpen = framesPerOpen
    }

    func open() throws {
        lock.lock(); defer { lock.unlock() }
        if openFailures > 0 { openFailures -= 1; throw CaptureError.deviceMissing("/dev/flaky") }
        isOpen = true
        opens += 1
        delivered = 0
    }

    func close() { lock.lock(); isOpen = false; lock.unlock() }

    func read(timeout: Double) throws -> Frame? {
        lock.lock(); defer { lock.unlock() }
        guard isOpen else { throw CaptureError.io("closed") }
        if gone > 0 && delivered >= framesPerOpen {
            gone -= 1
            throw CaptureError.deviceGone("/dev/flaky: VIDIOC_DQBUF: No such device")
        }
        usleep(2000)
        delivered += 1
        sequence += 1
        return try TestPatternSource.frame(sequence: sequence, width: 32, height: 24, format: .gray, timestamp: monotonicSeconds())
    }
}

/// Delivers nothing at all (a stalled camera).
final class SilentSource: FrameSource {
    var name: String { "silent" }
    var opens = 0
    func open() throws { opens += 1 }
    func close() {}
    func read(timeout: Double) throws -> Frame? { usleep(UInt32(timeout * 1e6)); return nil }
}

@Suite(.serialized) struct LatestFrameCaptureTests {
    @Test func latestWinsAndDropsAreCounted() throws {
        let capture = LatestFrameCapture(source: TestPatternSource(width: 64, height: 48, fps: 200, format: .yuyv))
        capture.start()
        var last: UInt64 = 0, taken = 0
        var sequences: [UInt64] = []
        for _ in 0..<8 {
            guard let frame = capture.next(after: last, timeout: 2) else { Issue.record("no frame"); break }
            #expect(frame.sequence > last)
            last = frame.sequence
            sequences.append(last)
            taken += 1
            usleep(50_000)   // a slow consumer: 50 ms per frame against a 5 ms source
        }
        capture.stop()
        let s = capture.stats
        #expect(s.healthy && s.lastError == nil && s.reopens == 0)
        #expect(s.dropped > 20, "dropped \(s.dropped)")
        // Every frame was either taken, replaced unseen (dropped), or is the last one still waiting.
        let pending = s.captured - s.dropped - UInt64(taken)
        #expect(pending <= 1, "captured \(s.captured) dropped \(s.dropped) taken \(taken)")
        // Latest wins: after a 50 ms pause the frame handed out is the newest, so consecutive ones skip many.
        #expect(zip(sequences, sequences.dropFirst()).allSatisfy { $1 - $0 >= 3 }, "\(sequences)")
        // After stop, next() still hands out a newer frame that is there, and otherwise returns nil at once.
        let tail = capture.next(after: last, timeout: 0)?.sequence ?? last
        let t = monotonicSeconds()
        #expect(capture.next(after: tail, timeout: 5) == nil)
        #expect(monotonicSeconds() - t < 0.5)
    }

    @Test func reopensAfterDeviceGoneAndRecovers() throws {
        let source = FlakySource(openFailures: 2, gone: 3, framesPerOpen: 5)
        let capture = LatestFrameCapture(source: source, reopenBackoff: [0.02, 0.05])
        capture.start()
        defer { capture.stop() }
        // Not healthy before the first frame; the missing device is reported.
        #expect(!capture.stats.healthy)
        var last: UInt64 = 0
        var sawUnhealthy = false, errors: Set<String> = []
        let deadline = monotonicSeconds() + 10
        while last < 40 && monotonicSeconds() < deadline {
            let s = capture.stats
            if !s.healthy { sawUnhealthy = true; if let e = s.lastError { errors.insert(e) } }
            if let f = capture.next(after: last, timeout: 0.01) { last = f.sequence }
        }
        #expect(last >= 40, "frames kept coming after the failures")
        let s = capture.stats
        #expect(s.healthy && s.lastError == nil)
        #expect(s.reopens == 4, "1 recovery from the missing device + 3 from deviceGone: \(s.reopens)")
        #expect(source.opens == 4)
        #expect(sawUnhealthy)
        #expect(errors.contains { $0.contains("device gone") } || errors.contains { $0.contains("device missing") })
        #expect(s.sinceLastFrame < 1)
    }

    @Test func stalledSourceIsReopened() throws {
        let source = SilentSource()
        let capture = LatestFrameCapture(source: source, reopenBackoff: [0.01], stallTimeout: 0.3)
        capture.start()
        usleep(1_100_000)
        capture.stop()
        let s = capture.stats
        #expect(source.opens >= 2)
        #expect(!s.healthy && s.captured == 0)
        #expect(s.lastError?.contains("no frame") == true)
        #expect(s.sinceLastFrame >= 1)
    }

    @Test func missingCameraKeepsRetryingWithoutCrashing() throws {
        let capture = LatestFrameCapture(source: V4L2Camera(CameraConfiguration(device: "/dev/video-missing")),
                                         reopenBackoff: [0.01])
        capture.start()
        #expect(capture.next(after: 0, timeout: 0.2) == nil)
        let s = capture.stats
        capture.stop()
        #expect(!s.healthy && s.lastError?.contains("/dev/video-missing") == true)
        guard case .deviceMissing? = s.lastFailure else { Issue.record("lastFailure \(String(describing: s.lastFailure))"); return }
        // Start again after stop works.
        capture.start()
        capture.stop()
    }
}
