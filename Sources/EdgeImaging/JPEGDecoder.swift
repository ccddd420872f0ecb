import CJPEG

/// JPEG through libjpeg-turbo's TurboJPEG API (errors come back as return codes, never as a longjmp into Swift).
enum JPEGDecoder {
    static func decode(_ bytes: [UInt8], name: String) throws -> DecodedImage {
        guard let handle = tjInitDecompress() else {
            throw ImageError(.corruptJPEG, path: name, cause: "cannot initialise the JPEG decoder")
        }
        defer { tjDestroy(handle) }

        func failure() -> ImageError {
            let message = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
            return ImageError(.corruptJPEG, path: name, cause: "corrupt JPEG: \(message)")
        }

        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let headerStatus = bytes.withUnsafeBufferPointer { buf in
            tjDecompressHeader3(handle, buf.baseAddress, UInt(buf.count), &width, &height, &subsampling, &colorspace)
        }
        if headerStatus != 0 {
            // libjpeg-turbo 2.x reports a frame header cut off by the end of the data as success with width 0
            // (below); 3.x fails here with its own wording. Say the same thing for both.
            if !Self.containsFrameHeader(bytes) {
                throw ImageError(.corruptJPEG, path: name,
                                 cause: "corrupt JPEG: no image found before the end of the data (truncated header)")
            }
            throw failure()
        }
        guard width > 0, height > 0 else {
            // libjpeg met the end of the data before a frame header (it pads with a fake EOI and only warns).
            throw ImageError(.corruptJPEG, path: name,
                             cause: "corrupt JPEG: no image found before the end of the data (truncated header)")
        }
        let w = Int(width), h = Int(height)
        if w * h > ImageDecoder.maximumPixelCount {
            throw ImageError(.tooLarge, path: name,
                             cause: "image too large: \(w)x\(h) exceeds \(ImageDecoder.maximumPixelCount) pixels")
        }

        // Pillow opens 1-component JPEGs as L, 3-component as RGB and 4-component as CMYK (raw mode CMYK;I).
        let pixelFormat: TJPF, sourceChannels: Int
        switch colorspace {
        case Int32(TJCS_GRAY.rawValue): pixelFormat = TJPF_GRAY; sourceChannels = 1
        case Int32(TJCS_CMYK.rawValue), Int32(TJCS_YCCK.rawValue): pixelFormat = TJPF_CMYK; sourceChannels = 4
        default: pixelFormat = TJPF_RGB; sourceChannels = 3
        }

        // The libjpeg defaults Pillow decodes with: the accurate integer IDCT (JDCT_ISLOW) and fancy upsampling
        // (no TJFLAG_FASTDCT / TJFLAG_FASTUPSAMPLE). Stop on warnings: a truncated or damaged file is an error.
        let flags = Int32(TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING)
        var raw = [UInt8](repeating: 0, count: w * h * sourceChannels)
        let status = bytes.withUnsafeBufferPointer { src in
            raw.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(handle, src.baseAddress, UInt(src.count), dst.baseAddress, width,
                              Int32(w * sourceChannels), height, Int32(pixelFormat.rawValue), flags)
            }
        }
        // With TJFLAG_STOPONWARNING a libjpeg warning (TJERR_WARNING) aborts the decode too.
        if status != 0 { throw failure() }
        if sourceChannels == 4 { raw = cmykToRGB(raw, pixelCount: w * h) }
        return DecodedImage(width: w, height: h, channels: sourceChannels == 1 ? 1 : 3, pixels: raw)
    }

    /// Pillow's path for 4-component JPEGs: unpack `CMYK;I` (every byte inverted, the Adobe convention that
    /// Pillow assumes for all CMYK JPEGs) and then `cmyk2rgb`: `nk = 255 - K; X = nk - MULDIV255(X, nk)`
    /// with `MULDIV255(a, b) = ((a*b + 128) >> 8 + a*b + 128) >> 8`.
    static func cmykToRGB(_ cmyk: [UInt8], pixelCount n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 3 * n)
        cmyk.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                for i in 0..<n {
                    let k = 255 - Int(s[4 * i + 3])
                    let nk = 255 - k
                    for c in 0..<3 {
                        let x = 255 - Int(s[4 * i + c])
                        let t = x * nk + 128
                        let v = nk - (((t >> 8) + t) >> 8)
                        d[3 * i + c] = UInt8(clamping: v)
                    }
                }
            }
        }
        return out
    }

    /// Whether the data holds a complete start-of-frame segment (SOF0-SOF15 but DHT/JPG/DAC), i.e. a header
    /// that says the image size.
    static func containsFrameHeader(_ bytes: [UInt8]) -> Bool {
        var i = 2
        while i + 3 < bytes.count {
            guard bytes[i] == 0xFF else { return false }
            let marker = bytes[i + 1]
            if marker == 0xFF { i += 1; continue }
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
                return i + 2 + length <= bytes.count
            }
            if marker == 0xDA || marker == 0xD9 { return false }
            i += 2 + length
        }
        return false
    }
}
