#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeImaging

/// Moving colour bars, a diagonal gradient band, a gray ramp and the frame counter (32 bits of the sequence number,
/// most significant first, as black/white blocks in the top-left corner). A frame depends only on its sequence
/// number and size (not on time), so tests can rebuild any frame with `TestPatternSource.image(sequence:...)`.
/// Paced at `fps` (<= 0: as fast as read).
public final class TestPatternSource: FrameSource {
    public let width: Int
    public let height: Int
    public let fps: Double
    public let format: PixelFormat
    public var name: String { "test-pattern \(width)x\(height) \(format.rawValue)" }

    private var isOpen = false
    private var sequence: UInt64 = 0
    private var pacer: FramePacer

    public init(width: Int, height: Int, fps: Double, format: PixelFormat = .yuyv) {
        self.width = width
        self.height = height
        self.fps = fps
        self.format = format
        pacer = FramePacer(fps: fps)
    }

    public func open() throws {
        guard width > 0, height > 0, width <= Frame.maximumDimension, height <= Frame.maximumDimension else {
            throw CaptureError.unsupported("\(name): bad size")
        }
        isOpen = true
        pacer.reset()
    }

    public func close() { isOpen = false }

    public func read(timeout: Double) throws -> Frame? {
        guard isOpen else { throw CaptureError.io("\(name): not open") }
        guard pacer.wait(timeout: timeout) else { return nil }
        sequence += 1
        return try TestPatternSource.frame(sequence: sequence, width: width, height: height, format: format,
                                           timestamp: monotonicSeconds())
    }

    /// The frame with sequence number `sequence` (what `read` returns, apart from the timestamp).
    public static func frame(sequence: UInt64, width: Int, height: Int, format: PixelFormat, timestamp: Double = 0) throws -> Frame {
        let rgb = image(sequence: sequence, width: width, height: height)
        let bytes = ColorConversion.encode(rgb, as: format)
        return try Frame(format: format, width: width, height: height,
                         bytesPerLine: format == .mjpeg ? 0 : format.minimumBytesPerLine(width: width),
                         sequence: sequence, timestamp: timestamp, bytes: bytes)
    }

    /// The RGB picture of frame `sequence`.
    public static func image(sequence: UInt64, width w: Int, height h: Int) -> DecodedImage {
        let bars: [(UInt8, UInt8, UInt8)] = [(235, 235, 235), (235, 235, 16), (16, 235, 235), (16, 235, 16),
                                             (235, 16, 235), (235, 16, 16), (16, 16, 235), (16, 16, 16)]
        let shift = Int((sequence &* 4) % UInt64(w))
        let barsEnd = h * 6 / 10, gradientEnd = h * 85 / 100
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let o = (y * w + x) * 3
                let r: UInt8, g: UInt8, b: UInt8
                if y < barsEnd {
                    (r, g, b) = bars[((x + shift) % w) * 8 / w]
                } else if y < gradientEnd {
                    r = UInt8(truncatingIfNeeded: x + y + shift)
                    g = UInt8(truncatingIfNeeded: 2 * x + shift)
                    b = UInt8(truncatingIfNeeded: 3 * y)
                } else {
                    let v = UInt8(truncatingIfNeeded: w > 1 ? x * 255 / (w - 1) : 0)
                    (r, g, b) = (v, v, v)
                }
                px[o] = r; px[o + 1] = g; px[o + 2] = b
            }
        }
        // The counter: 32 blocks of `s` x `s` pixels (as many as fit), white = 1.
        let s = max(2, min(w / 40, h / 16))
        let bits = min(32, (w - s) / s)
        if bits > 0 && 3 * s <= h {
            for i in 0..<bits {
                let on = (sequence >> UInt64(31 - i)) & 1 == 1
                for y in s..<(2 * s) {
                    for x in (s + i * s)..<(s + (i + 1) * s) where x < w {
                        let v: UInt8 = on ? 255 : 0
                        let o = (y * w + x) * 3
                        px[o] = v; px[o + 1] = v; px[o + 2] = v
                    }
                }
            }
        }
        return DecodedImage(width: w, height: h, channels: 3, pixels: px)
    }

    /// Reads the counter back from an RGB picture of this pattern (nil if the blocks are not clearly black/white).
    public static func counter(in image: DecodedImage) -> UInt64? {
        let w = image.width, h = image.height
        let s = max(2, min(w / 40, h / 16))
        let bits = min(32, (w - s) / s)
        guard bits > 0, 3 * s <= h else { return nil }
        let rgb = image.rgb()
        var value: UInt64 = 0
        for i in 0..<bits {
            let v = Int(rgb[s + s / 2, s + i * s + s / 2, 0])
            guard v < 64 || v > 192 else { return nil }
            value |= (v > 128 ? 1 : 0) << UInt64(31 - i)
        }
        return value
    }
}
