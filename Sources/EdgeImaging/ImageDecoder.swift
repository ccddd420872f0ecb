#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The container formats EdgeImaging decodes, recognised by their magic bytes (never by the file name).
public enum ImageFormat: String, Sendable, Equatable, CaseIterable {
    case jpeg
    case png

    /// The format whose signature starts `bytes`, or nil.
    /// JPEG: `FF D8 FF` (SOI and the first marker); PNG: the 8-byte signature `89 'PNG' 0D 0A 1A 0A`.
    public static func sniff<C: Collection>(_ bytes: C) -> ImageFormat? where C.Element == UInt8 {
        let head = Array(bytes.prefix(8))
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        return nil
    }
}

/// Decodes JPEG and PNG files into `DecodedImage`s with the same pixels as Pillow 13's
/// `Image.open(path).convert('RGB')` (or `convert('L')` for gray files, which stay 1-channel here).
///
/// - JPEG: libjpeg-turbo through the TurboJPEG API, with the libjpeg defaults that Pillow uses (accurate
///   integer IDCT, "fancy" upsampling). Any libjpeg warning (e.g. "Premature end of JPEG file" for a truncated
///   file, "Corrupt JPEG data: ...") is an error, which is stricter than Pillow: Pillow ignores libjpeg warnings
///   other than truncation. Gray JPEGs decode to 1 channel; CMYK/YCCK (Adobe) JPEGs are converted to RGB with
///   Pillow's `CMYK;I` + `cmyk2rgb` arithmetic.
/// - PNG: libpng's simplified API, set up to give Pillow's bytes: alpha (and tRNS) is dropped without
///   compositing, gAMA/sRGB/iCCP are ignored, 16-bit RGB(A)/GA keep the high byte, 16-bit gray is clipped to
///   255 (Pillow's `I;16` -> `L`/`RGB`). One kind cannot be matched through the simplified API and is rejected
///   with `ImageError.Kind.unsupported`: a 16-bit PNG with an alpha channel that is not fully opaque (libpng
///   premultiplies 16-bit output by alpha, which loses the colour Pillow keeps).
///
/// Orientation metadata (EXIF) is ignored, as Pillow's `open()` does. All functions are thread-safe (no shared
/// state; each call has its own TurboJPEG handle / png_image).
public enum ImageDecoder {
    /// Headers declaring more pixels than this are rejected (`.tooLarge`) before any allocation: Pillow's
    /// `DecompressionBombError` limit (2 * `Image.MAX_IMAGE_PIXELS`).
    public static let maximumPixelCount = 178_956_970

    /// Reads and decodes the file at `path`.
    public static func decode(path: String) throws -> DecodedImage {
        let bytes = try readFile(path)
        return try decode(bytes: bytes, name: path)
    }

    /// Reads and decodes the file at `url` (a file URL).
    public static func decode(contentsOf url: URL) throws -> DecodedImage {
        try decode(path: url.path)
    }

    /// Decodes an in-memory file; `name` is used in error messages (a path or a label).
    public static func decode(data: Data, name: String = "<memory>") throws -> DecodedImage {
        try decode(bytes: [UInt8](data), name: name)
    }

    /// Decodes an in-memory file; `name` is used in error messages (a path or a label).
    public static func decode(bytes: [UInt8], name: String = "<memory>") throws -> DecodedImage {
        if bytes.isEmpty { throw ImageError(.empty, path: name, cause: "empty file (0 bytes)") }
        switch ImageFormat.sniff(bytes) {
        case .jpeg?: return try JPEGDecoder.decode(bytes, name: name)
        case .png?: return try PNGDecoder.decode(bytes, name: name)
        case nil: throw ImageError(.unknownFormat, path: name, cause: "unknown image format (\(describeUnknown(bytes)))")
        }
    }

    /// The whole file, or an `.unreadable` error carrying the OS's reason.
    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw ImageError(.unreadable, path: path, cause: "cannot open: \(errnoString())") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw ImageError(.unreadable, path: path, cause: "cannot stat: \(errnoString())") }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw ImageError(.unreadable, path: path, cause: "cannot read: is a directory") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(max(0, Int(st.st_size)))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError(.unreadable, path: path, cause: "cannot read: \(errnoString())")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }

    private static func errnoString() -> String { String(cString: strerror(errno)) }

    /// A short, one-line hint about what an unrecognised file is.
    private static func describeUnknown(_ bytes: [UInt8]) -> String {
        let head = Array(bytes.prefix(16))
        func starts(_ sig: [UInt8]) -> Bool { head.count >= sig.count && Array(head[0..<sig.count]) == sig }
        var what: String
        if starts([0x47, 0x49, 0x46, 0x38]) { what = "GIF, not supported" }
        else if starts([0x42, 0x4D]) { what = "BMP, not supported" }
        else if head.count >= 12, starts([0x52, 0x49, 0x46, 0x46]), Array(head[8..<12]) == [0x57, 0x45, 0x42, 0x50] {
            what = "WebP, not supported"
        } else if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { what = "TIFF, not supported" }
        else if starts([0xFF, 0xD8]) { what = "JPEG SOI without a following marker" }
        else if starts([0x89, 0x50, 0x4E, 0x47]) { what = "damaged PNG signature" }
        else if head.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            what = "looks like text"
        } else { what = "not JPEG or PNG" }
        let hex = head.prefix(8).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        return "\(what); first bytes \(hex.joined(separator: " "))"
    }
}
