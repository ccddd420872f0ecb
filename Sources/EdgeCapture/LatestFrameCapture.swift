import Foundation

/// Runs a frame source on its own thread; the newest frame replaces any older one the consumer has not taken.
public final class LatestFrameCapture: @unchecked Sendable {
    public let source: FrameSource
    public let reopenBackoff: [Double]

    public init(source: FrameSource, reopenBackoff: [Double] = [0.5, 1, 2, 5]) {
        self.source = source
        self.reopenBackoff = reopenBackoff.isEmpty ? [1] : reopenBackoff
    }

    public func start() {}
    public func stop() {}

    /// The newest frame with a sequence above `sequence`, waiting up to `timeout` seconds; nil on timeout or after `stop()`.
    public func next(after sequence: UInt64, timeout: Double) -> Frame? { nil }

    public var stats: CaptureStats { CaptureStats() }
}
