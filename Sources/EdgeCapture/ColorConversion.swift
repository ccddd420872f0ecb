#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeImaging

/// Pixel conversions between the capture formats, all in integer arithmetic.
///
/// YCbCr <-> RGB is ITU-R BT.601 with limited ("studio") range, Y in 16...235 and Cb/Cr in 16...240, which is
/// what UVC webcams send for YUYV/NV12 (the UVC default colour matching descriptor is BT.601/SMPTE 170M) and what
/// libv4lconvert assumes. With `c = Y - 16`, `d = Cb - 128`, `e = Cr - 128` and 8 fractional bits:
///
/// ```
/// R = clip((298 c + 409 e + 128) >> 8)
/// G = clip((298 c - 100 d - 208 e + 128) >> 8)
/// B = clip((298 c + 516 d + 128) >> 8)
/// ```
///
/// (298/256 = 1.164 = 255/219, 409/256 = 1.596, 100/256 = 0.391, 208/256 = 0.813, 516/256 = 2.016), `>>` being an
/// arithmetic shift (floor). Chroma is upsampled by replication: a YUYV pixel pair shares its Cb/Cr, an NV12 2x2
/// block shares its Cb/Cr. The inverse (used to make test frames) is
/// `Y = ((66 R + 129 G + 25 B + 128) >> 8) + 16`, `Cb = ((-38 R - 74 G + 112 B + 128) >> 8) + 128`,
/// `Cr = ((112 R - 94 G - 18 B + 128) >> 8) + 128`, with Cb/Cr taken from the mean RGB of the pixels sharing them.
///
/// Gray from colour is Pillow's `convert('L')`: `L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16` of the RGB
/// above, so that a frame preprocessed with a grayscale spec equals the reference path on the converted image.
public enum ColorConversion {
    /// One BT.601 limited-range YCbCr sample -> RGB.
    @inline(__always)
    public static func rgb(y: UInt8, cb: UInt8, cr: UInt8) -> (r: UInt8, g: UInt8, b: UInt8) {
        let c = 298 &* (Int32(y) &- 16), d = Int32(cb) &- 128, e = Int32(cr) &- 128
        return (clip((c &+ 409 &* e &+ 128) >> 8),
                clip((c &- 100 &* d &- 208 &* e &+ 128) >> 8),
                clip((c &+ 516 &* d &+ 128) >> 8))
    }

    /// RGB -> BT.601 limited-range YCbCr.
    @inline(__always)
    public static func ycbcr(r: Int, g: Int, b: Int) -> (y: UInt8, cb: UInt8, cr: UInt8) {
        (UInt8(clamping: ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16),
         UInt8(clamping: ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128),
         UInt8(clamping: ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128))
    }

    /// Pillow's `L` from RGB.
    @inline(__always)
    public static func luma(r: UInt8, g: UInt8, b: UInt8) -> UInt8 {
        UInt8(truncatingIfNeeded: (UInt32(r) &* 19595 &+ UInt32(g) &* 38470 &+ UInt32(b) &* 7471 &+ 0x8000) >> 16)
    }

    @inline(__always) static func clip(_ v: Int32) -> UInt8 {
        // Branch-free (compiles to cmov / vector min-max).
        UInt8(truncatingIfNeeded: Swift.min(Swift.max(v, 0), 255))
    }

    /// One pixel from its luma term `c = 298 (Y - 16) + 128` and the chroma terms of its pair/block.
    @inline(__always)
    private static func store(_ c: Int32, _ rv: Int32, _ gv: Int32, _ bv: Int32, gray: Bool,
                              _ d: UnsafeMutablePointer<UInt8>) {
        let r = clip((c &+ rv) >> 8), g = clip((c &+ gv) >> 8), b = clip((c &+ bv) >> 8)
        if gray { d[0] = luma(r: r, g: g, b: b) } else { d[0] = r; d[1] = g; d[2] = b }
    }

    /// Whole pixel pairs of a 4:2:x row into three planes (R, G, B): the loads and the stores are interleaved by at
    /// most 4 (YUYV's Y0 Cb Y1 Cr, each plane's two pixels), which the compiler turns into NEON ld4/st2 vectors;
    /// writing interleaved RGB directly (6 bytes per pair) would leave the loop scalar. `lumaA/lumaB/cb/cr` point at
    /// the first pair's bytes and advance by `stride` per pair.
    @inline(__always)
    private static func pairsToPlanes(_ count: Int, lumaA: UnsafePointer<UInt8>, lumaB: UnsafePointer<UInt8>,
                                      cb: UnsafePointer<UInt8>, cr: UnsafePointer<UInt8>, lumaStride: Int, chromaStride: Int,
                                      r: UnsafeMutablePointer<UInt8>, g: UnsafeMutablePointer<UInt8>, b: UnsafeMutablePointer<UInt8>) {
        for i in 0..<count {
            let d = Int32(cb[chromaStride * i]) &- 128, e = Int32(cr[chromaStride * i]) &- 128
            let rv = 409 &* e &+ 128, gv = 128 &- 100 &* d &- 208 &* e, bv = 516 &* d &+ 128
            let c0 = 298 &* (Int32(lumaA[lumaStride * i]) &- 16), c1 = 298 &* (Int32(lumaB[lumaStride * i]) &- 16)
            r[2 * i] = clip((c0 &+ rv) >> 8); r[2 * i + 1] = clip((c1 &+ rv) >> 8)
            g[2 * i] = clip((c0 &+ gv) >> 8); g[2 * i + 1] = clip((c1 &+ gv) >> 8)
            b[2 * i] = clip((c0 &+ bv) >> 8); b[2 * i + 1] = clip((c1 &+ bv) >> 8)
        }
    }

    /// One pixel from its Y and its pair's Cb/Cr (the edges of a row that does not start or end on a pair).
    @inline(__always)
    private static func single(_ y: UInt8, _ cb: UInt8, _ cr: UInt8, gray: Bool, _ d: UnsafeMutablePointer<UInt8>) {
        let dd = Int32(cb) &- 128, e = Int32(cr) &- 128
        store(298 &* (Int32(y) &- 16), 409 &* e &+ 128, 128 &- 100 &* dd &- 208 &* e, 516 &* dd &+ 128, gray: gray, d)
    }

    /// The planes of `n` pixels to the destination: interleaved RGB (NEON st3) or Pillow's L.
    @inline(__always)
    private static func planesOut(_ n: Int, _ r: UnsafePointer<UInt8>, _ g: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>,
                                  gray: Bool, _ d: UnsafeMutablePointer<UInt8>) {
        if gray {
            for i in 0..<n { d[i] = luma(r: r[i], g: g[i], b: b[i]) }
        } else {
            for i in 0..<n { d[3 * i] = r[i]; d[3 * i + 1] = g[i]; d[3 * i + 2] = b[i] }
        }
    }

    /// Pixel pairs converted per chunk (the planes take 6 bytes per pair, on the stack).
    private static let chunkPairs = 128

    /// YUYV (Y0 Cb Y1 Cr per pixel pair) columns [x0, x1) of one row.
    private static func yuyvRow(_ row: UnsafePointer<UInt8>, _ x0: Int, _ x1: Int, gray: Bool,
                                _ dst: UnsafeMutablePointer<UInt8>) {
        let step = gray ? 1 : 3
        var x = x0, d = dst
        if x & 1 == 1 && x < x1 {
            let p = row + 4 * (x >> 1)
            single(p[2], p[1], p[3], gray: gray, d); d += step; x += 1
        }
        let pairs = (x1 - x) / 2
        if pairs > 0 {
            // Fixed-size chunks keep the planes on the stack (a run-time size above 1 KB would go to the heap).
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 6 * chunkPairs) { planes in
                let r = planes.baseAddress!, g = r + 2 * chunkPairs, b = g + 2 * chunkPairs
                var done = 0
                while done < pairs {
                    let n = min(chunkPairs, pairs - done)
                    let p = row + 2 * x + 4 * done
                    pairsToPlanes(n, lumaA: p, lumaB: p + 2, cb: p + 1, cr: p + 3, lumaStride: 4, chromaStride: 4, r: r, g: g, b: b)
                    planesOut(2 * n, r, g, b, gray: gray, d + 2 * done * step)
                    done += n
                }
            }
            x += 2 * pairs; d += 2 * pairs * step
        }
        if x < x1 {
            let p = row + 4 * (x >> 1)
            single(p[0], p[1], p[3], gray: gray, d)
        }
    }

    /// NV12 columns [x0, x1) of one luma row with its interleaved Cb/Cr row.
    private static func nv12Row(_ row: UnsafePointer<UInt8>, _ chroma: UnsafePointer<UInt8>, _ x0: Int, _ x1: Int,
                                gray: Bool, _ dst: UnsafeMutablePointer<UInt8>) {
        let step = gray ? 1 : 3
        var x = x0, d = dst
        if x & 1 == 1 && x < x1 {
            let c = chroma + 2 * (x >> 1)
            single(row[x], c[0], c[1], gray: gray, d); d += step; x += 1
        }
        let pairs = (x1 - x) / 2
        if pairs > 0 {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 6 * chunkPairs) { planes in
                let r = planes.baseAddress!, g = r + 2 * chunkPairs, b = g + 2 * chunkPairs
                var done = 0
                while done < pairs {
                    let n = min(chunkPairs, pairs - done)
                    let l = row + x + 2 * done, c = chroma + x + 2 * done
                    pairsToPlanes(n, lumaA: l, lumaB: l + 1, cb: c, cr: c + 1, lumaStride: 2, chromaStride: 2, r: r, g: g, b: b)
                    planesOut(2 * n, r, g, b, gray: gray, d + 2 * done * step)
                    done += n
                }
            }
            x += 2 * pairs; d += 2 * pairs * step
        }
        if x < x1 {
            let c = chroma + 2 * (x >> 1)
            single(row[x], c[0], c[1], gray: gray, d)
        }
    }

    /// Writes columns `[x0, x1)` of row `y` of `frame` (not MJPEG) to `dst` as RGB (3 bytes per pixel) or, with
    /// `gray`, as Pillow `L` (1 byte; a gray frame is copied). Bounds are the caller's responsibility.
    static func convertRow(format: PixelFormat, base: UnsafePointer<UInt8>, bytesPerLine: Int, height: Int,
                           y: Int, x0: Int, x1: Int, gray: Bool, dst: UnsafeMutablePointer<UInt8>) {
        let row = base + y * bytesPerLine
        switch format {
        case .rgb24:
            if gray {
                var p = row + 3 * x0
                for i in 0..<(x1 - x0) { dst[i] = luma(r: p[0], g: p[1], b: p[2]); p += 3 }
            } else {
                dst.update(from: row + 3 * x0, count: 3 * (x1 - x0))
            }
        case .gray:
            dst.update(from: row + x0, count: x1 - x0)
        case .yuyv:
            // Separate instantiations so the colour/gray choice is not made per pixel.
            if gray { yuyvRow(row, x0, x1, gray: true, dst) } else { yuyvRow(row, x0, x1, gray: false, dst) }
        case .nv12:
            let chroma = base + height * bytesPerLine + (y >> 1) * bytesPerLine
            if gray { nv12Row(row, chroma, x0, x1, gray: true, dst) } else { nv12Row(row, chroma, x0, x1, gray: false, dst) }
        case .mjpeg:
            preconditionFailure("convertRow: MJPEG has no rows")
        }
    }

    /// The frame as an 8-bit image: rgb24/yuyv/nv12 -> RGB (the conversion above), gray -> 1 channel, MJPEG -> decoded
    /// with TurboJPEG (RGB, or 1 channel for a gray JPEG).
    public static func image(from frame: Frame) throws -> DecodedImage {
        if frame.format == .mjpeg {
            return try MJPEGDecoder.decodeImage(frame.bytes, name: "MJPEG frame \(frame.sequence)")
        }
        let c = frame.format == .gray ? 1 : 3
        var pixels = [UInt8](repeating: 0, count: frame.width * frame.height * c)
        let base = frame.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        pixels.withUnsafeMutableBufferPointer { out in
            for y in 0..<frame.height {
                convertRow(format: frame.format, base: base, bytesPerLine: frame.bytesPerLine, height: frame.height,
                           y: y, x0: 0, x1: frame.width, gray: false, dst: out.baseAddress! + y * frame.width * c)
            }
        }
        return DecodedImage(width: frame.width, height: frame.height, channels: c, pixels: pixels)
    }

    /// Encodes an 8-bit image (RGB or gray) as packed frame bytes of `format` (not MJPEG): RGB -> YCbCr as above,
    /// gray -> Y (with neutral chroma) for YUV formats; RGB -> Pillow `L` for gray.
    public static func encode(_ image: DecodedImage, as format: PixelFormat) -> [UInt8] {
        let w = image.width, h = image.height
        func px(_ x: Int, _ y: Int) -> (Int, Int, Int) {
            if image.channels == 1 { let v = Int(image[y, x, 0]); return (v, v, v) }
            return (Int(image[y, x, 0]), Int(image[y, x, 1]), Int(image[y, x, 2]))
        }
        switch format {
        case .rgb24:
            return image.rgb().pixels
        case .gray:
            return image.grayscale().pixels
        case .yuyv:
            let pitch = format.minimumBytesPerLine(width: w)
            var out = [UInt8](repeating: 0, count: pitch * h)
            for y in 0..<h {
                var x = 0
                while x < w {
                    let a = px(x, y), b = x + 1 < w ? px(x + 1, y) : a
                    let ya = ycbcr(r: a.0, g: a.1, b: a.2).y, yb = ycbcr(r: b.0, g: b.1, b: b.2).y
                    let m = ycbcr(r: (a.0 + b.0 + 1) / 2, g: (a.1 + b.1 + 1) / 2, b: (a.2 + b.2 + 1) / 2)
                    let o = y * pitch + 2 * x
                    out[o] = ya; out[o + 1] = m.cb; out[o + 2] = yb; out[o + 3] = m.cr
                    x += 2
                }
            }
            return out
        case .nv12:
            let ch = (h + 1) / 2
            let pitch = format.minimumBytesPerLine(width: w)
            var out = [UInt8](repeating: 0, count: pitch * (h + ch))
            for y in 0..<h { for x in 0..<w { let p = px(x, y); out[y * pitch + x] = ycbcr(r: p.0, g: p.1, b: p.2).y } }
            for cy in 0..<ch {
                var cx = 0
                while cx < w {
                    var sr = 0, sg = 0, sb = 0, n = 0
                    for yy in (2 * cy)..<min(2 * cy + 2, h) {
                        for xx in cx..<min(cx + 2, w) { let p = px(xx, yy); sr += p.0; sg += p.1; sb += p.2; n += 1 }
                    }
                    let m = ycbcr(r: (sr + n / 2) / n, g: (sg + n / 2) / n, b: (sb + n / 2) / n)
                    let o = h * pitch + cy * pitch + cx
                    out[o] = m.cb; out[o + 1] = m.cr
                    cx += 2
                }
            }
            return out
        case .mjpeg:
            return (try? MJPEGDecoder.encode(image, quality: 90)) ?? []
        }
    }
}
