#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The pixel layouts a frame can have.
///
/// | case | layout | bytes per frame (with `bytesPerLine` = the packed minimum) |
/// |---|---|---|
/// | `rgb24` | R, G, B per pixel (V4L2 `RGB3`) | `3 * w * h` |
/// | `yuyv` | Y0 U Y1 V per pixel pair, 4:2:2 (V4L2 `YUYV`) | `2 * w * h` |
/// | `nv12` | Y plane, then interleaved U V plane at half width and height, 4:2:0 (V4L2 `NV12`) | `w * h + 2 * ceil(w/2) * ceil(h/2)` |
/// | `mjpeg` | one JPEG image (V4L2 `MJPG`); `bytesPerLine` is 0 | variable |
/// | `gray` | 8-bit luma (V4L2 `GREY`) | `w * h` |
public enum PixelFormat: String, Sendable, CaseIterable {
    case rgb24, yuyv, nv12, mjpeg, gray

    /// The V4L2 fourcc (`v4l2_fourcc(a, b, c, d)` = a | b << 8 | c << 16 | d << 24).
    public var fourcc: UInt32 {
        switch self {
        case .rgb24: return fourccCode("RGB3")
        case .yuyv: return fourccCode("YUYV")
        case .nv12: return fourccCode("NV12")
        case .mjpeg: return fourccCode("MJPG")
        case .gray: return fourccCode("GREY")
        }
    }

    /// The format for a V4L2 fourcc (`JPEG` is taken as MJPEG too), or nil.
    public init?(fourcc: UInt32) {
        if fourcc == fourccCode("JPEG") { self = .mjpeg; return }
        guard let f = PixelFormat.allCases.first(where: { $0.fourcc == fourcc }) else { return nil }
        self = f
    }

    /// The fourcc as four characters, e.g. "YUYV" (non-printable bytes as '?').
    public static func fourccString(_ code: UInt32) -> String {
        String((0..<4).map { i -> Character in
            let b = UInt8((code >> (8 * UInt32(i))) & 0xFF)
            return (0x20..<0x7F).contains(b) ? Character(Unicode.Scalar(b)) : "?"
        })
    }

    /// The smallest `bytesPerLine` for `width` pixels (of the first plane for NV12; 0 for MJPEG).
    public func minimumBytesPerLine(width: Int) -> Int {
        switch self {
        case .rgb24: return 3 * width
        case .yuyv: return 4 * ((width + 1) / 2)   // Y0 U Y1 V per pixel pair
        case .nv12: return (width + 1) & ~1   // the interleaved chroma row has ceil(w/2) CbCr pairs
        case .gray: return width
        case .mjpeg: return 0
        }
    }

    /// Bytes of one frame with rows `bytesPerLine` apart (NV12: the chroma plane follows the luma plane directly
    /// and has the same line pitch, as V4L2 single-planar NV12 does). Nil for MJPEG (variable).
    public func frameSize(width: Int, height: Int, bytesPerLine: Int) -> Int? {
        switch self {
        case .rgb24, .yuyv, .gray: return bytesPerLine * height
        case .nv12: return bytesPerLine * height + bytesPerLine * ((height + 1) / 2)
        case .mjpeg: return nil
        }
    }

    /// Whether frames of this format carry colour (all but gray).
    public var isColor: Bool { self != .gray }
}

@inline(__always) func fourccCode(_ s: StaticString) -> UInt32 {
    let p = s.utf8Start
    return UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24
}

/// One captured image. It owns its bytes: a copy out of the driver's buffer, so the buffer goes back to the driver
/// at once and a frame can be kept or handed to another thread for as long as needed. Immutable after creation.
public final class Frame: @unchecked Sendable {
    public let format: PixelFormat
    public let width: Int
    public let height: Int
    /// Bytes from the start of one row to the next (of the luma plane for NV12; 0 for MJPEG).
    public let bytesPerLine: Int
    /// Per source, increasing (not necessarily by 1: a camera's sequence skips the frames the driver dropped).
    public let sequence: UInt64
    /// Seconds on CLOCK_MONOTONIC: the V4L2 buffer timestamp for cameras, the capture time otherwise.
    public let timestamp: Double

    private let storage: UnsafeMutableRawBufferPointer

    /// The frame's bytes (valid as long as the frame is alive).
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(storage) }

    /// Copies `bytes` into a new frame, checking that they hold a whole frame of this geometry (extra bytes at the
    /// end, e.g. a driver's `sizeimage` padding, are kept but ignored). Throws `CaptureError.unsupported` for an
    /// empty or absurd size and `.io` when there are too few bytes.
    public init(format: PixelFormat, width: Int, height: Int, bytesPerLine: Int? = nil, sequence: UInt64,
                timestamp: Double, copying bytes: UnsafeRawBufferPointer) throws {
        let pitch = bytesPerLine ?? format.minimumBytesPerLine(width: width)
        try Frame.check(format: format, width: width, height: height, bytesPerLine: pitch, available: bytes.count)
        self.format = format
        self.width = width
        self.height = height
        self.bytesPerLine = pitch
        self.sequence = sequence
        self.timestamp = timestamp
        // check() guarantees at least one byte.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 64)
        buffer.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        storage = buffer
    }

    /// Copies an array (see `init(format:width:height:bytesPerLine:sequence:timestamp:copying:)`).
    public init(format: PixelFormat, width: Int, height: Int, bytesPerLine: Int? = nil, sequence: UInt64,
                timestamp: Double, bytes: [UInt8]) throws {
        let pitch = bytesPerLine ?? format.minimumBytesPerLine(width: width)
        try Frame.check(format: format, width: width, height: height, bytesPerLine: pitch, available: bytes.count)
        self.format = format
        self.width = width
        self.height = height
        self.bytesPerLine = pitch
        self.sequence = sequence
        self.timestamp = timestamp
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 64)
        bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        storage = buffer
    }

    /// Takes ownership of `storage` (allocated with `allocate(byteCount:alignment:)`); geometry already checked.
    init(format: PixelFormat, width: Int, height: Int, bytesPerLine: Int, sequence: UInt64, timestamp: Double,
         adopting storage: UnsafeMutableRawBufferPointer) {
        self.format = format
        self.width = width
        self.height = height
        self.bytesPerLine = bytesPerLine
        self.sequence = sequence
        self.timestamp = timestamp
        self.storage = storage
    }

    deinit { storage.deallocate() }

    /// The largest width or height accepted (V4L2 itself stops well below).
    public static let maximumDimension = 1 << 15

    static func check(format: PixelFormat, width: Int, height: Int, bytesPerLine: Int, available: Int) throws {
        guard width > 0, height > 0, width <= maximumDimension, height <= maximumDimension else {
            throw CaptureError.unsupported("frame size \(width)x\(height) is empty or too large")
        }
        if format == .mjpeg {
            guard available > 0 else { throw CaptureError.io("empty MJPEG frame") }
            return
        }
        let minimum = format.minimumBytesPerLine(width: width)
        guard bytesPerLine >= minimum, bytesPerLine <= 4 * maximumDimension else {
            throw CaptureError.unsupported("\(format.rawValue) \(width)x\(height): bytes per line \(bytesPerLine) (needs at least \(minimum))")
        }
        let need = format.frameSize(width: width, height: height, bytesPerLine: bytesPerLine)!
        guard available >= need else {
            throw CaptureError.io("\(format.rawValue) \(width)x\(height) frame needs \(need) bytes, got \(available)")
        }
    }
}

/// Why a frame source failed. `description` is one line that names the device or file.
public enum CaptureError: Error, CustomStringConvertible, Equatable {
    /// The device node or file does not exist.
    case deviceMissing(String)
    /// The device went away while open (ENODEV/EIO/ENXIO during streaming): reopen later.
    case deviceGone(String)
    /// The node exists but cannot be opened by this user.
    case permissionDenied(String)
    /// The device or file cannot be used as asked (not a capture device, no usable format, bad size, ...).
    case unsupported(String)
    /// A camera that is only usable through libcamera (Raspberry Pi CSI pipeline).
    case needsLibcamera(String)
    /// Any other I/O failure.
    case io(String)

    public var description: String {
        switch self {
        case .deviceMissing(let s): return "device missing: \(s)"
        case .deviceGone(let s): return "device gone: \(s)"
        case .permissionDenied(let s): return "permission denied: \(s)"
        case .unsupported(let s): return "unsupported: \(s)"
        case .needsLibcamera(let s): return "needs libcamera: \(s)"
        case .io(let s): return "I/O error: \(s)"
        }
    }

    /// Whether closing and reopening the source later may help (LatestFrameCapture retries these with its
    /// backoff; the others are retried too, since a camera can be plugged in or permissions fixed, but this
    /// tells a caller whether the failure is expected to be transient).
    public var isTransient: Bool {
        switch self {
        case .deviceGone, .deviceMissing, .io: return true
        case .permissionDenied, .unsupported, .needsLibcamera: return false
        }
    }
}

/// Something that produces frames: a camera, a file, a pattern. Not thread-safe: one thread uses it at a time
/// (LatestFrameCapture runs it on its own thread).
public protocol FrameSource: AnyObject {
    /// For logs, e.g. "/dev/video0" or "test-pattern 640x480 yuyv".
    var name: String { get }
    /// Opens (or reopens after `close()`) the source. Throws a `CaptureError`.
    func open() throws
    /// Releases everything; `open()` may be called again. Safe to call when not open.
    func close()
    /// The next frame, waiting at most `timeout` seconds; nil when none arrived in time. Throws a `CaptureError`
    /// (e.g. `.deviceGone`) after which the source should be closed and reopened.
    func read(timeout: Double) throws -> Frame?
}

/// Seconds on CLOCK_MONOTONIC.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Sleeps `seconds` (nothing for <= 0).
func sleepSeconds(_ seconds: Double) {
    guard seconds > 0, seconds.isFinite else { return }
    var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&ts, &remaining) != 0 && errno == EINTR { ts = remaining }
}

/// Paces a synthetic source at `fps`: frame i is due at `start + i / fps`. `wait(timeout:)` sleeps until the next
/// frame is due, or returns false if that is further away than `timeout`. fps <= 0 means as fast as asked.
struct FramePacer {
    let fps: Double
    private var start: Double = 0
    private var index: UInt64 = 0

    init(fps: Double) { self.fps = fps }

    mutating func reset() { start = monotonicSeconds(); index = 0 }

    /// Waits for the next frame's time; false (after sleeping `timeout`) if it is not due within `timeout`.
    mutating func wait(timeout: Double) -> Bool {
        guard fps > 0, fps.isFinite else { return true }
        let due = start + Double(index) / fps
        let now = monotonicSeconds()
        if due - now > max(timeout, 0) {
            sleepSeconds(max(timeout, 0))
            return false
        }
        sleepSeconds(due - now)
        // Fell far behind (e.g. the consumer paused): restart the schedule rather than bursting.
        if now - due > 1 { start = now; index = 0 }
        index += 1
        return true
    }
}
