/// An 8-bit image in memory: `height` rows of `width` pixels of `channels` interleaved bytes (HWC).
/// `channels` is 1 (gray, Pillow mode `L`) or 3 (RGB, Pillow mode `RGB`).
public struct DecodedImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    /// `height * width * channels` bytes, row-major, channels interleaved.
    public var pixels: [UInt8]

    /// Wraps `pixels`; traps if the sizes disagree or `channels` is not 1 or 3 (a programming error, not bad input).
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "DecodedImage: empty size \(width)x\(height)")
        precondition(channels == 1 || channels == 3, "DecodedImage: channels must be 1 or 3, not \(channels)")
        precondition(pixels.count == width * height * channels,
                     "DecodedImage: \(pixels.count) bytes for \(width)x\(height)x\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    public var isGrayscale: Bool { channels == 1 }

    /// The byte at row `y`, column `x`, channel `c`.
    @inlinable public subscript(y: Int, x: Int, c: Int) -> UInt8 {
        pixels[(y * width + x) * channels + c]
    }

    /// Pillow's `convert('L')`: RGB is reduced with ITU-R 601-2 luma in Pillow's fixed point,
    /// `L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16`; a gray image is returned unchanged.
    public func grayscale() -> DecodedImage {
        if channels == 1 { return self }
        let n = width * height
        var out = [UInt8](repeating: 0, count: n)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                for i in 0..<n {
                    let r = UInt32(s[3 * i]), g = UInt32(s[3 * i + 1]), b = UInt32(s[3 * i + 2])
                    d[i] = UInt8(truncatingIfNeeded: (r &* 19595 &+ g &* 38470 &+ b &* 7471 &+ 0x8000) >> 16)
                }
            }
        }
        return DecodedImage(width: width, height: height, channels: 1, pixels: out)
    }

    /// Pillow's `convert('RGB')`: a gray image has its channel replicated; an RGB image is returned unchanged.
    public func rgb() -> DecodedImage {
        if channels == 3 { return self }
        let n = width * height
        var out = [UInt8](repeating: 0, count: 3 * n)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                for i in 0..<n {
                    let v = s[i]
                    d[3 * i] = v; d[3 * i + 1] = v; d[3 * i + 2] = v
                }
            }
        }
        return DecodedImage(width: width, height: height, channels: 3, pixels: out)
    }
}
