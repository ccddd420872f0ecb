#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeImaging

/// What a `LatestFrameCapture` has seen so far.
public struct CaptureStats: Sendable, Equatable {
    /// Frames read from the source.
    public var captured: UInt64 = 0
    /// Frames replaced by a newer one before any consumer took them.
    public var dropped: UInt64 = 0
    /// Successful reopens after a failure.
    public var reopens: UInt64 = 0
    /// Open and delivering: false before the first frame and from a failure until the next frame after a reopen.
    public var healthy: Bool = false
    /// The last failure (one line), nil once a frame arrives after it.
    public var lastError: String? = nil
    /// The same failure as a value, when the source threw a `CaptureError` (e.g. to stop retrying on
    /// `.needsLibcamera` or `.permissionDenied`, which a reopen does not cure).
    public var lastFailure: CaptureError? = nil
    /// Seconds since the last frame arrived (since `start()` when none has).
    public var sinceLastFrame: Double = 0
}
