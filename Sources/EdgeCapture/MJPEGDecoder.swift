#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CJPEG
import EdgeImaging

/// MJPEG frames through libjpeg-turbo's TurboJPEG API, the library EdgeImaging decodes photos with, with the same
/// settings (accurate integer IDCT, fancy upsampling, i.e. Pillow's pixels), so a camera frame and the same JPEG
/// read from a file give the same bytes. Two differences from `ImageDecoder`, both for cameras:
/// - a libjpeg *warning* (e.g. "Corrupt JPEG data: 2 extraneous bytes before marker 0xd9", common in webcam
///   MJPEG) does not reject the frame: the image is decoded completely and used; only errors reject it;
/// - one decompressor handle is kept per camera and frames decode straight into the frame's own storage.
/// UVC MJPEG frames without Huffman tables (DHT) are fine: libjpeg-turbo supplies the standard tables.
final class MJPEGDecoder {
    private let handle: tjhandle

    init() throws {
        guard let h = tjInitDecompress() else { throw CaptureError.io("cannot initialise the JPEG decoder") }
        handle = h
    }

    deinit { tjDestroy(handle) }

    private func message() -> String {
        tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
    }

    /// Pictures larger than this are refused before any allocation (a corrupt header must not allocate gigabytes).
    static let maximumPixels = 8192 * 8192

    /// Decodes `jpeg` into a new rgb24 (gray JPEG: gray) frame; with `expected`, a picture of another size is refused
    /// (a camera's frames have the negotiated size).
    func decode(_ jpeg: UnsafeRawBufferPointer, sequence: UInt64, timestamp: Double,
                expected: (width: Int, height: Int)? = nil) throws -> Frame {
        guard let base = jpeg.baseAddress?.assumingMemoryBound(to: UInt8.self), jpeg.count > 0 else {
            throw CaptureError.io("empty MJPEG frame")
        }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        if tjDecompressHeader3(handle, base, UInt(jpeg.count), &width, &height, &subsampling, &colorspace) != 0 {
            throw CaptureError.io("corrupt MJPEG frame: \(message())")
        }
        guard width > 0, height > 0, Int(width) <= Frame.maximumDimension, Int(height) <= Frame.maximumDimension,
              Int(width) * Int(height) <= Self.maximumPixels else {
            throw CaptureError.io("corrupt MJPEG frame: size \(width)x\(height)")
        }
        if let expected, expected.width != Int(width) || expected.height != Int(height) {
            throw CaptureError.io("MJPEG frame of \(width)x\(height), expected \(expected.width)x\(expected.height)")
        }
        let gray = colorspace == Int32(TJCS_GRAY.rawValue)
        let format: PixelFormat = gray ? .gray : .rgb24
        let pitch = format.minimumBytesPerLine(width: Int(width))
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: pitch * Int(height), alignment: 64)
        let status = tjDecompress2(handle, base, UInt(jpeg.count), storage.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                   width, Int32(pitch), height, Int32((gray ? TJPF_GRAY : TJPF_RGB).rawValue),
                                   Int32(TJFLAG_ACCURATEDCT))
        if status != 0 && tjGetErrorCode(handle) != Int32(TJERR_WARNING.rawValue) {
            let why = message()
            storage.deallocate()
            throw CaptureError.io("corrupt MJPEG frame: \(why)")
        }
        return Frame(format: format, width: Int(width), height: Int(height), bytesPerLine: pitch, sequence: sequence,
                     timestamp: timestamp, adopting: storage)
    }

    /// One-off decode to a `DecodedImage` (same rules).
    static func decodeImage(_ jpeg: UnsafeRawBufferPointer, name: String) throws -> DecodedImage {
        let frame = try MJPEGDecoder().decode(jpeg, sequence: 0, timestamp: 0)
        let c = frame.format == .gray ? 1 : 3
        return DecodedImage(width: frame.width, height: frame.height, channels: c,
                            pixels: [UInt8](frame.bytes.prefix(frame.width * frame.height * c)))
    }

    /// Encodes an RGB or gray image as a baseline JPEG (4:2:2 like UVC cameras; gray stays gray). For test frames.
    static func encode(_ image: DecodedImage, quality: Int) throws -> [UInt8] {
        guard let h = tjInitCompress() else { throw CaptureError.io("cannot initialise the JPEG encoder") }
        defer { tjDestroy(h) }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let gray = image.channels == 1
        let status = image.pixels.withUnsafeBufferPointer { px in
            tjCompress2(h, px.baseAddress, Int32(image.width), Int32(image.width * image.channels), Int32(image.height),
                        Int32((gray ? TJPF_GRAY : TJPF_RGB).rawValue), &buffer, &size,
                        Int32((gray ? TJSAMP_GRAY : TJSAMP_422).rawValue), Int32(quality), Int32(TJFLAG_ACCURATEDCT))
        }
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let buffer else {
            throw CaptureError.io("JPEG encoding failed: \(tjGetErrorStr2(h).map { String(cString: $0) } ?? "?")")
        }
        return [UInt8](UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}
