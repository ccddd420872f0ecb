import CPNG

/// PNG through libpng's simplified API (`png_image_*`): libpng's longjmp stays inside libpng, errors come back in
/// `png_image.message`.
///
/// The simplified API is set up so that the bytes equal Pillow's `convert('RGB')` / `convert('L')`:
/// - Output always carries alpha (GA or RGBA) and the alpha is dropped here, so nothing is composited
///   (Pillow drops alpha and tRNS without compositing).
/// - Pillow does no colour management: gAMA, sRGB and iCCP chunks are renamed to private ancillary chunks
///   (with their CRC recomputed) before libpng sees them, so libpng assumes sRGB in and sRGB out (8-bit) or
///   linear in and linear out (16-bit) and converts nothing. cHRM only matters for RGB->gray, which is done
///   here with Pillow's formula, not by libpng; sBIT is ignored by both.
/// - 16-bit files are read as 16-bit "linear" output (no gamma, no scaling) and reduced here the way Pillow does:
///   RGB/RGBA/GA keep the high byte (`RGB;16B` unpacking); gray becomes Pillow's `I;16`, whose conversion to
///   L/RGB clips to 255. tRNS is renamed away in 16-bit files (libpng would premultiply by it).
/// - The one kind the simplified API cannot match: a 16-bit file with an alpha channel that is not everywhere
///   65535, because libpng premultiplies 16-bit output by alpha. Such files throw `.unsupported`.
enum PNGDecoder {
    static func decode(_ original: [UInt8], name: String) throws -> DecodedImage {
        func corrupt(_ cause: String) -> ImageError { ImageError(.corruptPNG, path: name, cause: "corrupt PNG: \(cause)") }

        // IHDR must be the first chunk: length 13 at offset 8, type at 12, then width, height, depth, colour type.
        guard original.count >= 33 else { throw corrupt("truncated header (\(original.count) bytes)") }
        guard original[12] == 0x49, original[13] == 0x48, original[14] == 0x44, original[15] == 0x52 else {
            throw corrupt("first chunk is not IHDR")
        }
        let bitDepth = Int(original[24]), colorType = Int(original[25])
        let hasAlphaChannel = colorType == 4 || colorType == 6
        let isColor = colorType == 2 || colorType == 3 || colorType == 6
        let sixteen = bitDepth == 16

        var bytes = original
        neutralizeChunks(&bytes, renameTRNS: sixteen)

        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }

        // Output format: 8-bit GA/RGBA for depth <= 8; 16-bit linear (no alpha unless the file has an alpha channel).
        var format: UInt32 = 0
        if isColor { format |= UInt32(PNG_FORMAT_FLAG_COLOR) }
        if sixteen {
            format |= UInt32(PNG_FORMAT_FLAG_LINEAR)
            if hasAlphaChannel { format |= UInt32(PNG_FORMAT_FLAG_ALPHA) }
        } else {
            format |= UInt32(PNG_FORMAT_FLAG_ALPHA)
        }
        let components = (isColor ? 3 : 1) + ((format & UInt32(PNG_FORMAT_FLAG_ALPHA)) != 0 ? 1 : 0)

        let decoded: DecodedImage = try bytes.withUnsafeBufferPointer { buf -> DecodedImage in
            if png_image_begin_read_from_memory(&image, buf.baseAddress, buf.count) == 0 {
                throw corrupt(message(image))
            }
            let w = Int(image.width), h = Int(image.height)
            guard w > 0, h > 0 else { throw corrupt("empty image size \(w)x\(h)") }
            if w * h > ImageDecoder.maximumPixelCount {
                throw ImageError(.tooLarge, path: name,
                                 cause: "image too large: \(w)x\(h) exceeds \(ImageDecoder.maximumPixelCount) pixels")
            }
            image.format = format
            let samples = w * h * components
            if sixteen {
                var raw = [UInt16](repeating: 0, count: samples)
                let ok = raw.withUnsafeMutableBytes { dst in
                    png_image_finish_read(&image, nil, dst.baseAddress, 0, nil)
                }
                if ok == 0 { throw corrupt(message(image)) }
                return try reduce16(raw, width: w, height: h, color: isColor, alpha: hasAlphaChannel, name: name)
            } else {
                var raw = [UInt8](repeating: 0, count: samples)
                let ok = raw.withUnsafeMutableBytes { dst in
                    png_image_finish_read(&image, nil, dst.baseAddress, 0, nil)
                }
                if ok == 0 { throw corrupt(message(image)) }
                return dropAlpha(raw, width: w, height: h, channels: isColor ? 3 : 1)
            }
        }
        return decoded
    }

    /// libpng's message from a `png_image` (a NUL-terminated char[64]), with truncation said plainly.
    private static func message(_ image: png_image) -> String {
        var m = image.message
        let text = withUnsafeBytes(of: &m) { raw -> String in
            let bytes = raw.prefix(while: { $0 != 0 })
            return String(decoding: bytes, as: UTF8.self)
        }
        if text.isEmpty { return "unknown libpng error" }
        // The simplified API's memory reader says this when the file ends early.
        if text == "read beyond end of data" { return "truncated file (read beyond end of data)" }
        return text
    }

    /// Interleaved N+1 channels -> N channels.
    private static func dropAlpha(_ raw: [UInt8], width: Int, height: Int, channels: Int) -> DecodedImage {
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * channels)
        raw.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                if channels == 3 {
                    for i in 0..<n { d[3 * i] = s[4 * i]; d[3 * i + 1] = s[4 * i + 1]; d[3 * i + 2] = s[4 * i + 2] }
                } else {
                    for i in 0..<n { d[i] = s[2 * i] }
                }
            }
        }
        return DecodedImage(width: width, height: height, channels: channels, pixels: out)
    }

    /// 16-bit samples (native byte order) -> Pillow's 8-bit values.
    private static func reduce16(_ raw: [UInt16], width: Int, height: Int, color: Bool, alpha: Bool,
                                 name: String) throws -> DecodedImage {
        let n = width * height
        let channels = color ? 3 : 1
        let stride = channels + (alpha ? 1 : 0)
        if alpha {
            // libpng premultiplied the colour by alpha; only fully opaque images survive that unchanged.
            let opaque = raw.withUnsafeBufferPointer { s -> Bool in
                for i in 0..<n where s[i * stride + channels] != 0xFFFF { return false }
                return true
            }
            if !opaque {
                throw ImageError(.unsupported, path: name, cause:
                    "unsupported PNG: 16-bit \(color ? "RGBA" : "gray+alpha") with non-opaque pixels "
                    + "(libpng's simplified API premultiplies 16-bit alpha, so Pillow's colours cannot be recovered)")
            }
        }
        var out = [UInt8](repeating: 0, count: n * channels)
        raw.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                if !color && !alpha {
                    // Pillow: 16-bit gray opens as I;16, and I;16 -> L / RGB clips (values above 255 become 255).
                    for i in 0..<n { d[i] = UInt8(min(s[i], 255)) }
                } else {
                    // Pillow: RGB;16B / RGBA;16B / LA;16B unpacking keeps the most significant byte.
                    for i in 0..<n {
                        for c in 0..<channels { d[i * channels + c] = UInt8(truncatingIfNeeded: s[i * stride + c] >> 8) }
                    }
                }
            }
        }
        return DecodedImage(width: width, height: height, channels: channels, pixels: out)
    }

    /// Renames gAMA, sRGB, iCCP (and tRNS if asked) in the chunks before the first IDAT to private ancillary names
    /// that libpng skips, recomputing each renamed chunk's CRC. Leaves anything it cannot parse to libpng.
    static func neutralizeChunks(_ bytes: inout [UInt8], renameTRNS: Bool) {
        let gAMA: UInt32 = 0x6741_4D41, sRGB: UInt32 = 0x7352_4742, iCCP: UInt32 = 0x6943_4350
        let tRNS: UInt32 = 0x7452_4E53, IDAT: UInt32 = 0x4944_4154, IEND: UInt32 = 0x4945_4E44
        func be32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
        }
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = Int(be32(offset))
            let type = be32(offset + 4)
            let end = offset + 12 + length
            if type == IDAT || type == IEND || length > 0x7FFF_FFFF || end > bytes.count { return }
            if type == gAMA || type == sRGB || type == iCCP || (renameTRNS && type == tRNS) {
                // Lower-case the last letter: still ancillary, private-safe-to-copy, unknown to libpng (e.g. gAMa).
                bytes[offset + 7] |= 0x20
                let crc = crc32(bytes, from: offset + 4, count: 4 + length)
                bytes[end - 4] = UInt8(truncatingIfNeeded: crc >> 24)
                bytes[end - 3] = UInt8(truncatingIfNeeded: crc >> 16)
                bytes[end - 2] = UInt8(truncatingIfNeeded: crc >> 8)
                bytes[end - 1] = UInt8(truncatingIfNeeded: crc)
            }
            offset = end
        }
    }

    private static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8], from: Int, count: Int) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for i in from..<(from + count) { c = crcTable[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
