/// Pillow's `Image.resize(size, Image.BILINEAR)` for 8-bit images, reproduced operation for operation from
/// libImaging/Resample.c so that the bytes are identical:
///
/// - coefficients (`precompute_coeffs`): for output index `xx`, `center = (xx + 0.5) * scale`, support
///   `1 * max(scale, 1)` (the triangle filter widened when downscaling, i.e. antialiased), window
///   `[Int(center - support + 0.5), Int(center + support + 0.5))` clamped to the input, weights
///   `triangle((x + xmin - center + 0.5) / max(scale, 1))` normalised by their sum, all in Double;
/// - fixed point (`normalize_coeffs_8bpc`): `Int32(0.5 + w * 2^22)` (or `-0.5 + ...` for negative weights),
///   accumulators start at `2^21` and the result is `clip8(acc >> 22)`;
/// - two passes through a uint8 intermediate (each pass ends in `clip8`): horizontal then vertical, except when
///   the height shrinks by more than twice as many pixels as the width (`inH - outH > 2 * (inW - outW)`), where
///   Pillow (>= 12, checked against Pillow 13.0.0's source) runs the vertical pass first; a pass whose dimension
///   does not change is skipped (then the bytes are copied).
///
/// The internal windowed `resize` computes only a rectangle of the resized image (the centre crop): each output
/// byte depends only on its own coefficients and the intermediate bytes it reads, so the rectangle is identical
/// to cropping a full resize.
public enum PillowResample {
    /// The fixed-point coefficients of one axis (public for EdgeCapture's one-pass frame preprocessing, which
    /// must use exactly these).
    public struct Coefficients: Sendable {
        /// Per output index: first input index and number of taps.
        public var start: [Int32]
        public var count: [Int32]
        /// `outSize * taps` weights, row `i` at `i * taps`.
        public var weights: [Int32]
        public var taps: Int
    }

    /// Fractional bits of the fixed-point weights: accumulators start at `1 << (precisionBits - 1)` and the
    /// result is `clip8(acc >> precisionBits)`.
    public static let precisionBits: Int32 = 22

    /// `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear filter, box `[0, inSize)`.
    public static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        // filterscale = scale = (double)(in1 - in0) / outSize with in0 = 0.0f, in1 = (float)inSize.
        let scale = Double(Float(inSize) - Float(0)) / Double(outSize)
        let filterscale = scale < 1.0 ? 1.0 : scale
        let support = 1.0 * filterscale
        let taps = Int(support.rounded(.up)) * 2 + 1
        var start = [Int32](repeating: 0, count: outSize)
        var count = [Int32](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * taps)
        var k = [Double](repeating: 0, count: taps)
        let ss = 1.0 / filterscale
        let one = Double(1 << Int(precisionBits))
        for xx in 0..<outSize {
            let center = 0.0 + (Double(xx) + 0.5) * scale
            var ww = 0.0
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            for x in 0..<xmax {
                let w = triangle((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            for x in 0..<xmax where ww != 0.0 { k[x] /= ww }
            for x in 0..<taps {
                let w = x < xmax ? k[x] : 0.0
                weights[xx * taps + x] = w < 0 ? Int32(-0.5 + w * one) : Int32(0.5 + w * one)
            }
            start[xx] = Int32(xmin)
            count[xx] = Int32(xmax)
        }
        return Coefficients(start: start, count: count, weights: weights, taps: taps)
    }

    @inline(__always) static func triangle(_ x: Double) -> Double {
        let a = x < 0.0 ? -x : x
        return a < 1.0 ? 1.0 - a : 0.0
    }

    @inline(__always) static func clip8(_ acc: Int32) -> UInt8 {
        let v = acc >> precisionBits
        return v < 0 ? 0 : (v > 255 ? 255 : UInt8(truncatingIfNeeded: v))
    }

    /// Resizes `image` to `width` x `height` exactly as Pillow's BILINEAR resize does.
    public static func resize(_ image: DecodedImage, width: Int, height: Int) -> DecodedImage {
        precondition(width > 0 && height > 0, "resize to an empty size \(width)x\(height)")
        var out = [UInt8](repeating: 0, count: width * height * image.channels)
        out.withUnsafeMutableBufferPointer { dst in
            resize(image, toWidth: width, height: height, windowX: 0, windowY: 0, windowWidth: width,
                   windowHeight: height, into: dst.baseAddress!, rowStride: width * image.channels)
        }
        return DecodedImage(width: width, height: height, channels: image.channels, pixels: out)
    }

    /// Computes the rectangle `[windowX, windowX + windowWidth) x [windowY, windowY + windowHeight)` of `image`
    /// resized to `width` x `height`, writing its rows `rowStride` bytes apart from `dst` (channels as `image`).
    static func resize(_ image: DecodedImage, toWidth width: Int, height: Int,
                       windowX: Int, windowY: Int, windowWidth: Int, windowHeight: Int,
                       into dst: UnsafeMutablePointer<UInt8>, rowStride: Int) {
        precondition(windowX >= 0 && windowY >= 0 && windowX + windowWidth <= width && windowY + windowHeight <= height)
        if windowWidth <= 0 || windowHeight <= 0 { return }
        let c = image.channels
        let needHorizontal = width != image.width
        let needVertical = height != image.height

        image.pixels.withUnsafeBufferPointer { srcBuf in
            let src = srcBuf.baseAddress!
            let srcStride = image.width * c

            // Vertical coefficients for the window's rows decide which input rows the horizontal pass must produce.
            let vertical = needVertical ? coefficients(inSize: image.height, outSize: height) : nil
            let firstRow: Int, lastRow: Int   // input rows [firstRow, lastRow) needed
            if let v = vertical {
                var lo = Int.max, hi = 0
                for yy in windowY..<(windowY + windowHeight) {
                    lo = min(lo, Int(v.start[yy]))
                    hi = max(hi, Int(v.start[yy] + v.count[yy]))
                }
                firstRow = lo; lastRow = max(hi, lo)
            } else {
                firstRow = windowY; lastRow = windowY + windowHeight
            }

            let columns = windowX..<(windowX + windowWidth)
            let outRows = windowY..<(windowY + windowHeight)
            let bytesPerRow = windowWidth * c
            if needHorizontal {
                let h = coefficients(inSize: image.width, outSize: width)
                guard let v = vertical else {
                    // No vertical pass: the horizontal pass writes the window's rows straight to the destination.
                    horizontal(src: src, srcStride: srcStride, firstColumn: 0, channels: c, rows: firstRow..<lastRow,
                               coefficients: h, columns: columns, dst: dst, dstStride: rowStride)
                    return
                }
                if horizontalFirst(inWidth: image.width, inHeight: image.height, outWidth: width, outHeight: height) {
                    // Horizontal pass into a uint8 intermediate holding only the input rows the window needs.
                    var temp = [UInt8](repeating: 0, count: (lastRow - firstRow) * bytesPerRow)
                    temp.withUnsafeMutableBufferPointer { t in
                        let base = t.baseAddress!
                        horizontal(src: src, srcStride: srcStride, firstColumn: 0, channels: c, rows: firstRow..<lastRow,
                                   coefficients: h, columns: columns, dst: base, dstStride: bytesPerRow)
                        verticalPass(temp: UnsafePointer(base), tempStride: bytesPerRow, firstRow: firstRow,
                                     bytesPerRow: bytesPerRow, coefficients: v, rows: outRows, dst: dst, dstStride: rowStride)
                    }
                } else {
                    // Vertical pass first into a uint8 intermediate of the window's rows and the input columns that
                    // the window's horizontal taps read, then the horizontal pass.
                    var lo = Int.max, hi = 0
                    for xx in columns {
                        lo = min(lo, Int(h.start[xx]))
                        hi = max(hi, Int(h.start[xx] + h.count[xx]))
                    }
                    let firstColumn = lo, tempBytesPerRow = (max(hi, lo) - lo) * c
                    var temp = [UInt8](repeating: 0, count: windowHeight * tempBytesPerRow)
                    temp.withUnsafeMutableBufferPointer { t in
                        let base = t.baseAddress!
                        verticalPass(temp: src + firstColumn * c, tempStride: srcStride, firstRow: 0,
                                     bytesPerRow: tempBytesPerRow, coefficients: v, rows: outRows, dst: base,
                                     dstStride: tempBytesPerRow)
                        horizontal(src: UnsafePointer(base), srcStride: tempBytesPerRow, firstColumn: firstColumn,
                                   channels: c, rows: 0..<windowHeight, coefficients: h, columns: columns,
                                   dst: dst, dstStride: rowStride)
                    }
                }
            } else {
                // Same width: the intermediate is the input itself, offset to the window's first column.
                let base = src + firstRow * srcStride + windowX * c
                guard let v = vertical else {
                    for y in 0..<windowHeight {
                        (dst + y * rowStride).update(from: base + y * srcStride, count: bytesPerRow)
                    }
                    return
                }
                verticalPass(temp: base, tempStride: srcStride, firstRow: firstRow, bytesPerRow: bytesPerRow,
                             coefficients: v, rows: outRows, dst: dst, dstStride: rowStride)
            }
        }
    }

    /// Pillow >= 12's pass order (ImagingResampleInner): "If height is being scaled down more than twice the amount
    /// the width is, run the vertical pass first". The order matters because the intermediate is rounded to uint8.
    public static func horizontalFirst(inWidth: Int, inHeight: Int, outWidth: Int, outHeight: Int) -> Bool {
        !((inHeight - outHeight) > 0 && (inHeight - outHeight) > (inWidth - outWidth) * 2)
    }

    /// `ImagingResampleHorizontal_8bpc` for output columns `columns` of input rows `rows`; `src` starts at input
    /// column `firstColumn`.
    private static func horizontal(src: UnsafePointer<UInt8>, srcStride: Int, firstColumn: Int, channels: Int,
                                   rows: Range<Int>,
                                   coefficients k: Coefficients, columns: Range<Int>,
                                   dst: UnsafeMutablePointer<UInt8>, dstStride: Int) {
        let half: Int32 = 1 << (precisionBits - 1)
        let taps = k.taps
        k.weights.withUnsafeBufferPointer { wBuf in
            k.start.withUnsafeBufferPointer { sBuf in
                k.count.withUnsafeBufferPointer { cBuf in
                    let weights = wBuf.baseAddress!
                    for (i, y) in rows.enumerated() {
                        let row = src + y * srcStride
                        let out = dst + i * dstStride
                        if channels == 3 {
                            for (j, xx) in columns.enumerated() {
                                let w = weights + xx * taps
                                let xmin = Int(sBuf[xx]) - firstColumn, n = Int(cBuf[xx])
                                var p = row + xmin * 3
                                var s0 = half, s1 = half, s2 = half
                                for x in 0..<n {
                                    let kx = w[x]
                                    s0 &+= Int32(p[0]) &* kx
                                    s1 &+= Int32(p[1]) &* kx
                                    s2 &+= Int32(p[2]) &* kx
                                    p += 3
                                }
                                out[3 * j] = clip8(s0); out[3 * j + 1] = clip8(s1); out[3 * j + 2] = clip8(s2)
                            }
                        } else {
                            for (j, xx) in columns.enumerated() {
                                let w = weights + xx * taps
                                let p = row + Int(sBuf[xx]) - firstColumn
                                var s0 = half
                                for x in 0..<Int(cBuf[xx]) { s0 &+= Int32(p[x]) &* w[x] }
                                out[j] = clip8(s0)
                            }
                        }
                    }
                }
            }
        }
    }

    /// `ImagingResampleVertical_8bpc` for output rows `rows`; `temp` holds input rows from `firstRow` on.
    private static func verticalPass(temp: UnsafePointer<UInt8>, tempStride: Int, firstRow: Int, bytesPerRow: Int,
                                  coefficients k: Coefficients, rows: Range<Int>,
                                  dst: UnsafeMutablePointer<UInt8>, dstStride: Int) {
        let half: Int32 = 1 << (precisionBits - 1)
        let taps = k.taps
        var acc = [Int32](repeating: 0, count: bytesPerRow)
        k.weights.withUnsafeBufferPointer { wBuf in
            acc.withUnsafeMutableBufferPointer { accBuf in
                let a = accBuf.baseAddress!
                for (i, yy) in rows.enumerated() {
                    let w = wBuf.baseAddress! + yy * taps
                    let ymin = Int(k.start[yy]) - firstRow, n = Int(k.count[yy])
                    for b in 0..<bytesPerRow { a[b] = half }
                    // Same sums as Pillow's per-pixel loop over y (integer addition is associative).
                    for y in 0..<n {
                        let ky = w[y]
                        let row = temp + (ymin + y) * tempStride
                        for b in 0..<bytesPerRow { a[b] &+= Int32(row[b]) &* ky }
                    }
                    let out = dst + i * dstStride
                    for b in 0..<bytesPerRow { out[b] = clip8(a[b]) }
                }
            }
        }
    }
}
