#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The preprocessing pipeline, bit-exact with Pillow + torchvision:
///
/// ```python
/// img = Image.open(path).convert("L" if spec.grayscale else "RGB")
/// img = torchvision.transforms.functional.resize(img, spec.resize)        # BILINEAR, antialiased (Pillow)
/// img = torchvision.transforms.functional.center_crop(img, [spec.cropHeight, spec.cropWidth])
/// x = np.asarray(img, dtype=np.float32) / 255                              # float32
/// x = (x - mean) / std                                                     # float32, per channel
/// x = pad(x, spec.pad, value=(0 - mean) / std); replicate gray to spec.channels
/// ```
extension PreprocessSpec {
    /// torchvision's `resize(img, size=resize)` output size for a `width` x `height` image: the shorter side becomes
    /// `resize`, the longer `int(resize * long / short)`. `resize == 0` leaves the size unchanged.
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        guard resize > 0 else { return (width, height) }
        let short = min(width, height), long = max(width, height)
        // Python: int(requested * long / short), a correctly rounded true division then truncation.
        let newLong = Int(Double(resize * long) / Double(short))
        return width <= height ? (resize, newLong) : (newLong, resize)
    }

    /// Steps 1-3 (colour, resize, centre crop): the uint8 image that the tensor is made from,
    /// `cropHeight` x `cropWidth` x `cropChannels` (1 for grayscale specs, else 3).
    ///
    /// When the resized image is smaller than the crop in a dimension, it is zero-padded first exactly like
    /// torchvision's `center_crop` (left/top `(crop - size) // 2`, right/bottom `(crop - size + 1) // 2`);
    /// the crop offsets are `round((size - crop) / 2)` with Python's round-half-to-even.
    /// Only the rows and columns that survive the crop are resampled; they equal Pillow's full resize.
    /// Throws `.invalidSpec` if the spec does not validate.
    public func crop(_ image: DecodedImage) throws -> DecodedImage {
        try validate()
        // 1. Colour. RGB output from a gray image is replicated after the crop (resampling is per channel, so
        //    resizing one channel and replicating equals Pillow's convert('RGB') then resize).
        let colored = grayscale ? image.grayscale() : image
        let c = colored.channels

        // 2. Resize target.
        let (rw, rh) = resizedSize(width: colored.width, height: colored.height)

        // 3. Centre crop (torchvision), with zero padding for undersized images.
        let ch = cropHeight, cw = cropWidth
        let padLeft = cw > rw ? (cw - rw) / 2 : 0, padRight = cw > rw ? (cw - rw + 1) / 2 : 0
        let padTop = ch > rh ? (ch - rh) / 2 : 0, padBottom = ch > rh ? (ch - rh + 1) / 2 : 0
        let paddedW = rw + padLeft + padRight, paddedH = rh + padTop + padBottom
        let top = Int((Double(paddedH - ch) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(paddedW - cw) / 2).rounded(.toNearestOrEven))
        // The crop's origin in resized-image coordinates, and the part of it that lies inside the image.
        let y0 = top - padTop, x0 = left - padLeft
        let ys = max(y0, 0), ye = min(y0 + ch, rh)
        let xs = max(x0, 0), xe = min(x0 + cw, rw)

        var out = [UInt8](repeating: 0, count: ch * cw * c)
        if ye > ys && xe > xs {
            out.withUnsafeMutableBufferPointer { dst in
                let origin = dst.baseAddress! + ((ys - y0) * cw + (xs - x0)) * c
                PillowResample.resize(colored, toWidth: rw, height: rh, windowX: xs, windowY: ys,
                                      windowWidth: xe - xs, windowHeight: ye - ys, into: origin, rowStride: cw * c)
            }
        }
        let cropped = DecodedImage(width: cw, height: ch, channels: c, pixels: out)
        return cropChannels == 3 ? cropped.rgb() : cropped
    }

    /// The float32 value each byte maps to, per output channel: `lut[c * 256 + v] = (Float(v) / 255 - mean[c]) / std[c]`,
    /// evaluated in Float in that order (numpy float32 `x / 255` then `(x - mean) / std`).
    public func normalizationTable() -> [Float] {
        var lut = [Float](repeating: 0, count: channels * 256)
        for c in 0..<channels {
            let m = mean.count == 1 ? mean[0] : mean[c]
            let s = std.count == 1 ? std[0] : std[c]
            for v in 0..<256 { lut[c * 256 + v] = (Float(v) / 255 - m) / s }
        }
        return lut
    }

    /// Step 4: normalises `crop` (as returned by `crop(_:)`), pads it and replicates gray to `channels`, writing
    /// `elementCount` floats at `output` in `layout` (for a batch, pass the pointer to this image's slot).
    public func writeTensor(from crop: DecodedImage, into output: UnsafeMutablePointer<Float>, layout: TensorLayout) {
        precondition(crop.width == cropWidth && crop.height == cropHeight && crop.channels == cropChannels,
                     "writeTensor: crop is \(crop.width)x\(crop.height)x\(crop.channels), spec wants "
                     + "\(cropWidth)x\(cropHeight)x\(cropChannels)")
        let lut = normalizationTable()
        let H = inputHeight, W = inputWidth, C = channels, p = pad
        let ch = cropHeight, cw = cropWidth, cc = crop.channels
        lut.withUnsafeBufferPointer { lutBuf in
            crop.pixels.withUnsafeBufferPointer { srcBuf in
                let src = srcBuf.baseAddress!, luts = lutBuf.baseAddress!
                switch layout {
                case .nchw:
                    for c in 0..<C {
                        let t = luts + c * 256
                        let padValue = t[0]
                        let plane = output + c * H * W
                        let sc = cc == 1 ? 0 : c
                        if p > 0 {
                            plane.initialize(repeating: padValue, count: p * W)
                            (plane + (p + ch) * W).initialize(repeating: padValue, count: p * W)
                        }
                        for y in 0..<ch {
                            let row = plane + (y + p) * W
                            if p > 0 {
                                row.initialize(repeating: padValue, count: p)
                                (row + p + cw).initialize(repeating: padValue, count: p)
                            }
                            let s = src + y * cw * cc + sc
                            let d = row + p
                            if cc == 1 {
                                for x in 0..<cw { d[x] = t[Int(s[x])] }
                            } else {
                                for x in 0..<cw { d[x] = t[Int(s[x * 3])] }
                            }
                        }
                    }
                case .nhwc:
                    var padPixel = [Float](repeating: 0, count: C)
                    for c in 0..<C { padPixel[c] = luts[c * 256] }
                    padPixel.withUnsafeBufferPointer { padBuf in
                        let padPx = padBuf.baseAddress!
                        func fillPad(_ at: UnsafeMutablePointer<Float>, pixels: Int) {
                            for i in 0..<pixels { (at + i * C).update(from: padPx, count: C) }
                        }
                        fillPad(output, pixels: p * W)
                        fillPad(output + (p + ch) * W * C, pixels: p * W)
                        for y in 0..<ch {
                            let row = output + (y + p) * W * C
                            fillPad(row, pixels: p)
                            fillPad(row + (p + cw) * C, pixels: p)
                            let s = src + y * cw * cc
                            let d = row + p * C
                            if cc == 1 && C == 1 {
                                for x in 0..<cw { d[x] = luts[Int(s[x])] }
                            } else if cc == 1 {
                                for x in 0..<cw {
                                    let v = Int(s[x])
                                    for c in 0..<C { d[x * C + c] = luts[c * 256 + v] }
                                }
                            } else {
                                for x in 0..<cw {
                                    d[x * 3] = luts[Int(s[x * 3])]
                                    d[x * 3 + 1] = luts[256 + Int(s[x * 3 + 1])]
                                    d[x * 3 + 2] = luts[512 + Int(s[x * 3 + 2])]
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The whole pipeline for a decoded image into `elementCount` floats at `output`.
    /// Throws `.invalidSpec` if the spec does not validate.
    public func preprocess(_ image: DecodedImage, into output: UnsafeMutablePointer<Float>,
                           layout: TensorLayout = .nchw) throws {
        writeTensor(from: try crop(image), into: output, layout: layout)
    }

    /// Decodes the file at `path` and preprocesses it into `output` (see `preprocess(_:into:layout:)`).
    public func preprocess(path: String, into output: UnsafeMutablePointer<Float>, layout: TensorLayout = .nchw) throws {
        try preprocess(ImageDecoder.decode(path: path), into: output, layout: layout)
    }

    /// The whole pipeline into a new array of `elementCount` floats.
    public func tensor(_ image: DecodedImage, layout: TensorLayout = .nchw) throws -> [Float] {
        let cropped = try crop(image)
        return [Float](unsafeUninitializedCapacity: elementCount) { buf, count in
            writeTensor(from: cropped, into: buf.baseAddress!, layout: layout)
            count = elementCount
        }
    }
}
