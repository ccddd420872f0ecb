#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeImaging

/// Camera frame -> model input tensor (NHWC) in one pass over the output rows, with no intermediate frame.
///
/// The result equals EdgeImaging's reference path `PreprocessSpec.preprocess(image, into:, layout: .nhwc)` applied to
/// `ColorConversion.image(from: frame)` bit for bit: the same Pillow BILINEAR fixed-point coefficients
/// (`PillowResample.coefficients`, computed once in `init`), the same pass order (horizontal then vertical, or
/// vertical first when Pillow does that), the same uint8 rounding between the passes, the same crop/zero-padding
/// geometry and the same normalisation table (`PreprocessSpec.normalizationTable()`).
///
/// How one output row is made (horizontal pass first, the usual case for camera frames):
/// 1. the vertical coefficients of the row name the source rows it needs (`start ..< start + count`, at most `taps`);
/// 2. each of those rows not computed yet is colour-converted (YUYV/NV12 -> RGB, or -> gray) for just the source
///    columns that the crop's horizontal taps read, into one row buffer, and resampled horizontally for just the
///    crop's columns into a ring of `taps` uint8 rows. Source rows are consecutive from one output row to the next,
///    so every source row is converted and resampled once per frame;
/// 3. the vertical pass sums the ring rows into the output row (uint8, `clip8`), which goes through the per-channel
///    lookup table (`(v / 255 - mean) / std`, or its int8 quantization) straight into the tensor, with the padding.
///
/// The only intermediate storage is that 8-bit ring (`taps` rows of `cropWidth * channels` bytes, about 3.4 KB for
/// 640x480 -> 224x224) plus one converted source row: Pillow's algorithm rounds to uint8 between the passes, so an
/// 8-bit ring is what exactness needs anyway, and it is small enough to stay in L1. Nothing is float until the table
/// lookup. When Pillow runs the vertical pass first, the ring holds converted source rows instead and each output
/// row is resampled vertically and then horizontally.
///
/// A frame whose format or size differs from the one given to `init` is still handled correctly (the coefficients
/// are computed for it on the spot, which is slower); MJPEG frames are decoded first (TurboJPEG). Nothing traps on
/// such input; a frame that cannot be decoded makes the `run` variants write the image of a black frame (every
/// element the value 0 maps to) and the `preprocess` variants throw.
public struct FramePreprocessor: Sendable {
    public let spec: PreprocessSpec
    public let frameWidth: Int
    public let frameHeight: Int
    public let format: PixelFormat

    /// Everything that depends only on the spec and the frame geometry.
    private let plan: Plan
    /// `channels * 256` floats: the value of each byte per output channel.
    private let lut: [Float]

    /// Validates the spec and precomputes the resample coefficients for `frameWidth` x `frameHeight` frames of
    /// `format` (MJPEG: the size of the decoded pictures). Throws `ImageError` (.invalidSpec) for a bad spec and
    /// `CaptureError.unsupported` for an empty or absurd frame size.
    public init(spec: PreprocessSpec, frameWidth: Int, frameHeight: Int, format: PixelFormat) throws {
        try spec.validate()
        guard frameWidth > 0, frameHeight > 0, frameWidth <= Frame.maximumDimension, frameHeight <= Frame.maximumDimension else {
            throw CaptureError.unsupported("frame size \(frameWidth)x\(frameHeight) is empty or too large")
        }
        self.spec = spec
        self.frameWidth = frameWidth
        self.frameHeight = frameHeight
        self.format = format
        plan = Plan(spec: spec, width: frameWidth, height: frameHeight, format: format == .mjpeg ? .rgb24 : format)
        lut = spec.normalizationTable()
    }

    /// Elements written per frame: `spec.elementCount` (inputHeight x inputWidth x channels).
    public var elementCount: Int { spec.elementCount }

    /// NHWC float, `spec.elementCount` values.
    public func run(_ frame: Frame, into output: UnsafeMutablePointer<Float>) {
        do { try preprocess(frame, into: output) } catch {
            fillBlack(output)
        }
    }

    /// NHWC int8, quantized as QuantizeLinear (`x / scale` rounded half to even, + zero point, saturated): exactly
    /// the float result of `run(_:into:)` quantized element by element.
    public func run(_ frame: Frame, into output: UnsafeMutablePointer<Int8>, scale: Float, zeroPoint: Int32) {
        do { try preprocess(frame, into: output, scale: scale, zeroPoint: zeroPoint) } catch {
            let q = quantizedTable(scale: scale, zeroPoint: zeroPoint)
            fillBlack(output, table: q)
        }
    }

    /// As `run(_:into:)`, but throws when an MJPEG frame cannot be decoded.
    public func preprocess(_ frame: Frame, into output: UnsafeMutablePointer<Float>) throws {
        try withPlan(for: frame) { plan, frame in
            lut.withUnsafeBufferPointer { t in plan.execute(frame, table: t.baseAddress!, into: output) }
        }
    }

    /// As `run(_:into:scale:zeroPoint:)`, but throws when an MJPEG frame cannot be decoded.
    public func preprocess(_ frame: Frame, into output: UnsafeMutablePointer<Int8>, scale: Float, zeroPoint: Int32) throws {
        let q = quantizedTable(scale: scale, zeroPoint: zeroPoint)
        try withPlan(for: frame) { plan, frame in
            q.withUnsafeBufferPointer { t in plan.execute(frame, table: t.baseAddress!, into: output) }
        }
    }

    /// QuantizeLinear of one value, as onnxruntime and EdgeRuntime's QuantizeKernel do it: `x / scale` in Float,
    /// rounded half to even, plus the zero point, saturated to int8 (NaN -> -128).
    @inline(__always)
    public static func quantize(_ x: Float, scale: Float, zeroPoint: Int32) -> Int8 {
        var v = x / scale
        v = v > -512 ? v : -512
        v = v < 512 ? v : 512
        let r = Int32(v.rounded(.toNearestOrEven)) + zeroPoint
        return Int8(truncatingIfNeeded: min(max(r, -128), 127))
    }

    /// The normalisation table quantized.
    public func quantizedTable(scale: Float, zeroPoint: Int32) -> [Int8] {
        lut.map { Self.quantize($0, scale: scale, zeroPoint: zeroPoint) }
    }

    // MARK: Internals

    /// Runs `body` with the plan for this frame: the precomputed one, or (format/size mismatch, MJPEG) one made now.
    private func withPlan(for frame: Frame, _ body: (Plan, Frame) -> Void) throws {
        var frame = frame
        if frame.format == .mjpeg {
            frame = try MJPEGDecoder().decode(frame.bytes, sequence: frame.sequence, timestamp: frame.timestamp)
        }
        if frame.format == plan.format && frame.width == plan.width && frame.height == plan.height {
            body(plan, frame)
        } else {
            body(Plan(spec: spec, width: frame.width, height: frame.height, format: frame.format), frame)
        }
    }

    private func fillBlack<T>(_ output: UnsafeMutablePointer<T>, table: [T]) {
        let C = spec.channels
        for i in 0..<(spec.inputHeight * spec.inputWidth) {
            for c in 0..<C { output[i * C + c] = table[c * 256] }
        }
    }

    private func fillBlack(_ output: UnsafeMutablePointer<Float>) { fillBlack(output, table: lut) }
}

/// The geometry and coefficients for one (spec, frame size, format).
private struct Plan: Sendable {
    let format: PixelFormat
    let width: Int, height: Int
    /// Channels after colour conversion (1: gray spec or gray frame; 3: RGB) and of the model input.
    let cc: Int, C: Int
    let gray: Bool
    let pad: Int, inputWidth: Int, inputHeight: Int, cropWidth: Int, cropHeight: Int
    /// The crop in resized-image coordinates: origin (x0, y0), and the part inside the image [xs, xe) x [ys, ye).
    let x0: Int, y0: Int, xs: Int, xe: Int, ys: Int, ye: Int
    let needH: Bool, needV: Bool, horizontalFirst: Bool
    /// Horizontal coefficients of output columns [xs, xe) (start relative to `colLo`), vertical of rows [ys, ye).
    let hStart: [Int32], hCount: [Int32], hWeights: [Int32], hTaps: Int
    let vStart: [Int32], vCount: [Int32], vWeights: [Int32], vTaps: Int
    /// Source columns the horizontal taps read (all output columns [xs, xe) when there is no horizontal pass).
    let colLo: Int, colHi: Int

    init(spec: PreprocessSpec, width: Int, height: Int, format: PixelFormat) {
        self.format = format
        self.width = width
        self.height = height
        gray = spec.grayscale
        cc = spec.grayscale || format == .gray ? 1 : 3
        C = spec.channels
        pad = spec.pad
        inputWidth = spec.inputWidth
        inputHeight = spec.inputHeight
        cropWidth = spec.cropWidth
        cropHeight = spec.cropHeight
        // PreprocessSpec.crop's geometry (torchvision center_crop with zero padding of undersized images).
        let (rw, rh) = spec.resizedSize(width: width, height: height)
        let ch = spec.cropHeight, cw = spec.cropWidth
        let padLeft = cw > rw ? (cw - rw) / 2 : 0, padRight = cw > rw ? (cw - rw + 1) / 2 : 0
        let padTop = ch > rh ? (ch - rh) / 2 : 0, padBottom = ch > rh ? (ch - rh + 1) / 2 : 0
        let paddedW = rw + padLeft + padRight, paddedH = rh + padTop + padBottom
        let top = Int((Double(paddedH - ch) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(paddedW - cw) / 2).rounded(.toNearestOrEven))
        y0 = top - padTop; x0 = left - padLeft
        ys = max(y0, 0); ye = max(min(y0 + ch, rh), ys)
        xs = max(x0, 0); xe = max(min(x0 + cw, rw), xs)
        needH = rw != width
        needV = rh != height
        horizontalFirst = PillowResample.horizontalFirst(inWidth: width, inHeight: height, outWidth: rw, outHeight: rh)

        if needH && xe > xs {
            let k = PillowResample.coefficients(inSize: width, outSize: rw)
            var lo = Int.max, hi = 0
            for xx in xs..<xe { lo = min(lo, Int(k.start[xx])); hi = max(hi, Int(k.start[xx] + k.count[xx])) }
            colLo = lo; colHi = max(hi, lo)
            hTaps = k.taps
            hStart = (xs..<xe).map { k.start[$0] - Int32(lo) }
            hCount = Array(k.count[xs..<xe])
            hWeights = Array(k.weights[(xs * k.taps)..<(xe * k.taps)])
        } else {
            colLo = xs; colHi = xe
            hTaps = 0; hStart = []; hCount = []; hWeights = []
        }
        if needV && ye > ys {
            let k = PillowResample.coefficients(inSize: height, outSize: rh)
            vTaps = k.taps
            vStart = Array(k.start[ys..<ye])
            vCount = Array(k.count[ys..<ye])
            vWeights = Array(k.weights[(ys * k.taps)..<(ye * k.taps)])
        } else {
            vTaps = 0; vStart = []; vCount = []; vWeights = []
        }
    }

    /// Writes the whole tensor: `table` maps (channel, byte) to the output element (`table[c * 256 + v]`).
    func execute<T>(_ frame: Frame, table: UnsafePointer<T>, into output: UnsafeMutablePointer<T>) {
        let W = inputWidth, C = C
        // Everything outside the resized image (padding, zero-padded crop) is byte 0 of each channel.
        func fillBlank(_ at: UnsafeMutablePointer<T>, pixels: Int) {
            if C == 1 { at.update(repeating: table[0], count: pixels); return }
            for i in 0..<pixels { for c in 0..<C { at[i * C + c] = table[c * 256] } }
        }
        guard ye > ys, xe > xs else { fillBlank(output, pixels: inputHeight * W); return }
        let firstImageRow = pad + (ys - y0), lastImageRow = firstImageRow + (ye - ys)   // tensor rows
        fillBlank(output, pixels: firstImageRow * W)
        fillBlank(output + lastImageRow * W * C, pixels: (inputHeight - lastImageRow) * W)
        let leftBlank = pad + (xs - x0), windowWidth = xe - xs, rightBlank = W - leftBlank - windowWidth
        let rowBytes = windowWidth * cc
        let src = frame.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let pitch = frame.bytesPerLine

        // Emits one finished uint8 row (window columns) as tensor row `firstImageRow + i`.
        @inline(__always) func emit(_ i: Int, _ row: UnsafePointer<UInt8>) {
            let out = output + (firstImageRow + i) * W * C
            fillBlank(out, pixels: leftBlank)
            fillBlank(out + (leftBlank + windowWidth) * C, pixels: rightBlank)
            let d = out + leftBlank * C
            if cc == C {
                if C == 3 {
                    let t0 = table, t1 = table + 256, t2 = table + 512
                    for x in 0..<windowWidth {
                        d[3 * x] = t0[Int(row[3 * x])]
                        d[3 * x + 1] = t1[Int(row[3 * x + 1])]
                        d[3 * x + 2] = t2[Int(row[3 * x + 2])]
                    }
                } else {
                    for x in 0..<windowWidth { d[x] = table[Int(row[x])] }
                }
            } else {
                // 1 channel replicated to 3.
                let t0 = table, t1 = table + 256, t2 = table + 512
                for x in 0..<windowWidth {
                    let v = Int(row[x])
                    d[3 * x] = t0[v]; d[3 * x + 1] = t1[v]; d[3 * x + 2] = t2[v]
                }
            }
        }

        @inline(__always) func convert(_ y: Int, _ x0: Int, _ x1: Int, _ dst: UnsafeMutablePointer<UInt8>) {
            ColorConversion.convertRow(format: format, base: src, bytesPerLine: pitch, height: height, y: y,
                                       x0: x0, x1: x1, gray: gray, dst: dst)
        }

        let sourceBytes = (colHi - colLo) * cc
        let lineBytes = sourceBytes + hTaps * cc + 4              // + the fixed-length tap loop's overrun (HPass)
        let ringRows = max(vTaps, 1)
        let ringRowBytes = needH && horizontalFirst ? rowBytes : sourceBytes
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: lineBytes + ringRows * ringRowBytes + rowBytes) { scratch in
            let line = scratch.baseAddress!                       // one converted source row (or vertical result)
            (line + sourceBytes).initialize(repeating: 0, count: lineBytes - sourceBytes)
            let ring = line + lineBytes                            // ringRows rows
            let result = ring + ringRows * ringRowBytes            // one finished output row
            hWeights.withUnsafeBufferPointer { hw in
            vWeights.withUnsafeBufferPointer { vw in
            hStart.withUnsafeBufferPointer { hs in
            hCount.withUnsafeBufferPointer { hn in
                let h = HPass(start: hs.baseAddress, count: hn.baseAddress, weights: hw.baseAddress, taps: hTaps,
                              columns: windowWidth, channels: cc)
                switch (needH, needV) {
                case (false, false):
                    for (i, y) in (ys..<ye).enumerated() {
                        convert(y, xs, xe, result)
                        emit(i, result)
                    }
                case (true, false):
                    for (i, y) in (ys..<ye).enumerated() {
                        convert(y, colLo, colHi, line)
                        h.run(line, result)
                        emit(i, result)
                    }
                case (false, true), (true, true):
                    // Ring of rows (h-resampled if horizontal-first, else converted source rows), keyed by source row.
                    var next = 0   // the next source row to bring into the ring
                    for i in 0..<(ye - ys) {
                        let first = Int(vStart[i]), n = Int(vCount[i])
                        if next < first { next = first }
                        while next < first + n {
                            let slot = ring + (next % ringRows) * ringRowBytes
                            if needH && horizontalFirst {
                                convert(next, colLo, colHi, line)
                                h.run(line, slot)
                            } else {
                                convert(next, colLo, colHi, slot)
                            }
                            next += 1
                        }
                        let w = vw.baseAddress! + i * vTaps
                        let target = needH && !horizontalFirst ? line : result
                        vertical(ring: ring, ringRows: ringRows, rowBytes: ringRowBytes, first: first, count: n,
                                 weights: w, into: target)
                        if needH && !horizontalFirst { h.run(line, result) }
                        emit(i, result)
                    }
                }
            }}}}
        }
    }

    /// `ImagingResampleVertical_8bpc` for one output row over ring rows `first ..< first + count`.
    @inline(__always)
    private func vertical(ring: UnsafeMutablePointer<UInt8>, ringRows: Int, rowBytes: Int, first: Int, count: Int,
                          weights: UnsafePointer<Int32>, into out: UnsafeMutablePointer<UInt8>) {
        let half: Int32 = 1 << (PillowResample.precisionBits - 1)
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: rowBytes) { accBuf in
            let acc = accBuf.baseAddress!
            acc.update(repeating: half, count: rowBytes)
            for y in 0..<count {
                let k = weights[y]
                let row = UnsafePointer(ring + ((first + y) % ringRows) * rowBytes)
                for b in 0..<rowBytes { acc[b] &+= Int32(row[b]) &* k }
            }
            for b in 0..<rowBytes { out[b] = clip8(acc[b]) }
        }
    }
}

@inline(__always) private func clip8(_ acc: Int32) -> UInt8 {
    // Branch-free (min/max vectorise; the rounding is PillowResample's clip8).
    UInt8(truncatingIfNeeded: min(max(acc >> PillowResample.precisionBits, 0), 255))
}

/// `ImagingResampleHorizontal_8bpc` for the window's columns of one row; `start` is relative to the row pointer.
///
/// Every column runs over all `taps` weights (the ones past its `count` are 0, as `PillowResample.coefficients`
/// pads them), so the tap loop has a fixed length that the common sizes (3: upscaling, 5: downscaling by up to 2x,
/// 7: up to 3x) get unrolled for. The integer sums are the same as over `count` taps (the extra terms are 0), so the
/// result is unchanged; the row must have `taps * channels + 4` readable bytes past its end (the caller pads it).
private struct HPass {
    let start: UnsafePointer<Int32>?, count: UnsafePointer<Int32>?, weights: UnsafePointer<Int32>?
    let taps: Int, columns: Int, channels: Int

    /// Three channels in the lanes of one SIMD4 (the 4th lane reads the next pixel's red and is discarded).
    @inline(__always)
    private func rgb(_ row: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<UInt8>, taps: Int) {
        let half = SIMD4<Int32>(repeating: 1 << (PillowResample.precisionBits - 1))
        let start = start!, weights = weights!
        for j in 0..<columns {
            let w = weights + j * taps
            let p = UnsafeRawPointer(row + Int(start[j]) * 3)
            var s = half
            for x in 0..<taps {
                let px = SIMD4<Int32>(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: 3 * x, as: SIMD4<UInt8>.self))
                s &+= px &* w[x]
            }
            let v = (s &>> PillowResample.precisionBits).clamped(lowerBound: .zero, upperBound: SIMD4(repeating: 255))
            out[3 * j] = UInt8(truncatingIfNeeded: v[0])
            out[3 * j + 1] = UInt8(truncatingIfNeeded: v[1])
            out[3 * j + 2] = UInt8(truncatingIfNeeded: v[2])
        }
    }

    @inline(__always)
    private func gray(_ row: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<UInt8>, taps: Int) {
        let half: Int32 = 1 << (PillowResample.precisionBits - 1)
        let start = start!, weights = weights!
        for j in 0..<columns {
            let w = weights + j * taps
            let p = row + Int(start[j])
            var s0 = half
            for x in 0..<taps { s0 &+= Int32(p[x]) &* w[x] }
            out[j] = clip8(s0)
        }
    }

    func run(_ row: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<UInt8>) {
        if channels == 3 {
            switch taps {
            case 3: rgb(row, out, taps: 3)
            case 5: rgb(row, out, taps: 5)
            case 7: rgb(row, out, taps: 7)
            default: rgb(row, out, taps: taps)
            }
        } else {
            switch taps {
            case 3: gray(row, out, taps: 3)
            case 5: gray(row, out, taps: 5)
            case 7: gray(row, out, taps: 7)
            default: gray(row, out, taps: taps)
            }
        }
    }
}
