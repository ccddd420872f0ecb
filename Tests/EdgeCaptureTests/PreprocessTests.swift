import Foundation
import Testing
import EdgeImaging
import TestSupport
@testable import EdgeCapture

/// The specs every frame is checked with: the ImageNet evaluation transform, Fashion-MNIST (gray, pad 2, replicated),
/// a 1-channel gray spec, a crop larger than the resized image (zero padding), no resize, and a non-square crop.
let specs: [(String, PreprocessSpec)] = [
    ("imagenet224", .imagenet()),
    ("fashionMNIST", .fashionMNIST),
    ("gray1", PreprocessSpec(resize: 64, cropHeight: 56, cropWidth: 60, mean: [0.5], std: [0.25], grayscale: true, pad: 1)),
    ("undersized", PreprocessSpec(resize: 40, cropHeight: 48, cropWidth: 96, mean: [0.4, 0.5, 0.6], std: [0.2, 0.3, 0.4], pad: 3)),
    ("noResize", PreprocessSpec(resize: 0, cropHeight: 100, cropWidth: 90, mean: PreprocessSpec.imagenetMean, std: PreprocessSpec.imagenetStd)),
    ("rect", .imagenet(height: 160, width: 192)),
]

/// The reference: EdgeImaging's path on the frame converted to 8-bit RGB/gray by ColorConversion.
func reference(_ frame: Frame, _ spec: PreprocessSpec) throws -> [Float] {
    let image = try ColorConversion.image(from: frame)
    var out = [Float](repeating: .nan, count: spec.elementCount)
    try out.withUnsafeMutableBufferPointer { try spec.preprocess(image, into: $0.baseAddress!, layout: .nhwc) }
    return out
}

func onePass(_ frame: Frame, _ spec: PreprocessSpec, configuredAs format: PixelFormat? = nil) throws -> [Float] {
    let p = try FramePreprocessor(spec: spec, frameWidth: frame.width, frameHeight: frame.height, format: format ?? frame.format)
    var out = [Float](repeating: .nan, count: spec.elementCount)
    out.withUnsafeMutableBufferPointer { p.run(frame, into: $0.baseAddress!) }
    return out
}

/// Bit-exact comparison (reports the first difference and the largest one).
func expectIdentical(_ a: [Float], _ b: [Float], _ what: String) {
    #expect(a.count == b.count, "\(what): \(a.count) vs \(b.count) elements")
    var first: Int? = nil, worst: Float = 0
    for i in 0..<min(a.count, b.count) where a[i].bitPattern != b[i].bitPattern {
        if first == nil { first = i }
        worst = max(worst, abs(a[i] - b[i]))
    }
    #expect(first == nil, "\(what): first difference at \(first ?? -1): \(first.map { a[$0] } ?? 0) vs \(first.map { b[$0] } ?? 0), max |diff| \(worst)")
}

func quantizedReference(_ x: [Float], scale: Float, zeroPoint: Int32) -> [Int8] {
    x.map { v -> Int8 in
        let r = Int32((v / scale).rounded(.toNearestOrEven)) + zeroPoint
        return Int8(min(max(r, -128), 127))
    }
}

@Suite struct PreprocessEqualityTests {
    static let photos: [Frame] = {
        let source = ImageFileSource(path: TestPaths.testImages.path, fps: 0)
        do {
            try source.open()
            var frames: [Frame] = []
            let all = try FileManager.default.contentsOfDirectory(atPath: TestPaths.testImages.path).filter { !$0.hasSuffix(".txt") }
            let count = TestSubset.isActive ? 2 : all.count
            for _ in 0..<count { if let f = try source.read(timeout: 1) { frames.append(f) } }
            return frames
        } catch {
            Issue.record("cannot read the test photos: \(error)")
            return []
        }
    }()

    @Test func photoFolderIsRead() {
        #expect(Self.photos.count >= (TestSubset.isActive ? 2 : 18))
        #expect(Self.photos.contains { $0.format == .gray })   // skimage_camera.png etc. are gray
        #expect(Self.photos.contains { $0.format == .rgb24 })
    }

    @Test(arguments: specs.map { $0.0 })
    func photosRGBAndGrayEqualReference(specName: String) throws {
        let spec = specs.first { $0.0 == specName }!.1
        for frame in Self.photos {
            expectIdentical(try onePass(frame, spec), try reference(frame, spec), "\(specName) photo \(frame.width)x\(frame.height) \(frame.format)")
        }
    }

    /// Photos re-encoded as YUYV and NV12 (and gray): equal to the reference on the frame converted back to RGB.
    @Test(arguments: [PixelFormat.yuyv, .nv12, .gray])
    func photosInCameraFormatsEqualReference(format: PixelFormat) throws {
        for photo in Self.photos.prefix(TestSubset.isActive ? 2 : 5) {
            let rgb = try ColorConversion.image(from: photo)
            // Odd sizes are cut to even ones for YUV 4:2:x (as cameras deliver).
            let w = format == .gray ? rgb.width : rgb.width & ~1, h = format == .gray ? rgb.height : rgb.height & ~1
            let cut = DecodedImage(width: w, height: h, channels: rgb.channels,
                                   pixels: (0..<h).flatMap { y in rgb.pixels[(y * rgb.width * rgb.channels)..<((y * rgb.width + w) * rgb.channels)] })
            let frame = try Frame(format: format, width: w, height: h, sequence: 1, timestamp: 0,
                                  bytes: ColorConversion.encode(cut, as: format))
            for (name, spec) in specs {
                expectIdentical(try onePass(frame, spec), try reference(frame, spec), "\(name) photo \(w)x\(h) as \(format)")
            }
        }
    }

    /// Test-pattern frames in every format and several sizes (odd ones, upscaling, portrait, vertical-first).
    @Test(arguments: PixelFormat.allCases)
    func testPatternEveryFormatEqualsReference(format: PixelFormat) throws {
        // 640x480: the common case; 33x17: odd sizes and upscaling; 300x1000: Pillow's vertical pass first;
        // 256x300: unchanged width (vertical pass only); 1280x720 (ImageNet spec only, it is slow in debug builds).
        let sizes = [(640, 480, 77 as UInt64), (33, 17, 1), (300, 1000, 2), (256, 300, 3), (1280, 720, 4)]
        for (w, h, sequence) in sizes {
            do {
                let frame = try TestPatternSource.frame(sequence: sequence, width: w, height: h, format: format)
                for (name, spec) in specs where w < 1000 || name == "imagenet224" {
                    // MJPEG frames are decoded inside the preprocessor; the reference decodes the same JPEG.
                    expectIdentical(try onePass(frame, spec), try reference(frame, spec), "\(name) pattern \(w)x\(h) \(format) #\(sequence)")
                }
            }
        }
    }

    @Test func vertical_first_and_single_pass_cases_are_covered() {
        // 300x1000 -> 256x853 runs Pillow's vertical pass first; 256x300 keeps its width (vertical pass only).
        #expect(!PillowResample.horizontalFirst(inWidth: 300, inHeight: 1000, outWidth: 256, outHeight: 853))
        #expect(PreprocessSpec.imagenet().resizedSize(width: 256, height: 300) == (256, 300))
    }

    @Test func int8EqualsQuantizedFloat() throws {
        for (w, h, format) in [(640, 480, PixelFormat.yuyv), (320, 240, .nv12), (101, 77, .rgb24), (64, 64, .gray)] {
            let frame = try TestPatternSource.frame(sequence: 5, width: w, height: h, format: format)
            for (name, spec) in specs {
                let p = try FramePreprocessor(spec: spec, frameWidth: w, frameHeight: h, format: format)
                let float = try onePass(frame, spec)
                for (scale, zp) in [(Float(0.018658), Int32(-14)), (0.0078125, 0), (0.05, 100), (1e-3, -128)] {
                    var q = [Int8](repeating: 0, count: spec.elementCount)
                    q.withUnsafeMutableBufferPointer { p.run(frame, into: $0.baseAddress!, scale: scale, zeroPoint: zp) }
                    #expect(q == quantizedReference(float, scale: scale, zeroPoint: zp), "\(name) \(format) scale \(scale) zp \(zp)")
                }
            }
        }
    }

    @Test func mismatchedFrameIsHandled() throws {
        // Configured for 640x480 YUYV, given other sizes and formats: still the right answer, no trap.
        let spec = PreprocessSpec.imagenet()
        let p = try FramePreprocessor(spec: spec, frameWidth: 640, frameHeight: 480, format: .yuyv)
        for (w, h, format) in [(320, 240, PixelFormat.yuyv), (640, 480, .rgb24), (17, 9, .gray), (640, 480, .mjpeg)] {
            let frame = try TestPatternSource.frame(sequence: 3, width: w, height: h, format: format)
            var out = [Float](repeating: .nan, count: spec.elementCount)
            out.withUnsafeMutableBufferPointer { p.run(frame, into: $0.baseAddress!) }
            expectIdentical(out, try reference(frame, spec), "mismatch \(w)x\(h) \(format)")
        }
        // A corrupt MJPEG frame: the black image (every element what byte 0 maps to), and preprocess throws.
        let junk = try Frame(format: .mjpeg, width: 640, height: 480, sequence: 1, timestamp: 0, bytes: [0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3])
        var out = [Float](repeating: .nan, count: spec.elementCount)
        out.withUnsafeMutableBufferPointer { p.run(junk, into: $0.baseAddress!) }
        let lut = spec.normalizationTable()
        #expect(out[0] == lut[0] && out[1] == lut[256] && out[2] == lut[512] && !out.contains { $0.isNaN })
        #expect(throws: CaptureError.self) {
            try out.withUnsafeMutableBufferPointer { try p.preprocess(junk, into: $0.baseAddress!) }
        }
    }

    @Test func frameRejectsShortBuffers() {
        #expect(throws: CaptureError.self) { try Frame(format: .yuyv, width: 640, height: 480, sequence: 1, timestamp: 0, bytes: [UInt8](repeating: 0, count: 1000)) }
        #expect(throws: CaptureError.self) { try Frame(format: .rgb24, width: 0, height: 480, sequence: 1, timestamp: 0, bytes: [1]) }
        #expect(throws: CaptureError.self) { try Frame(format: .nv12, width: 4, height: 4, bytesPerLine: 2, sequence: 1, timestamp: 0, bytes: [UInt8](repeating: 0, count: 100)) }
        #expect(throws: ImageError.self) { try FramePreprocessor(spec: PreprocessSpec(resize: 1, cropHeight: 0, cropWidth: 1, mean: [0], std: [1]), frameWidth: 4, frameHeight: 4, format: .rgb24) }
        #expect(throws: CaptureError.self) { try FramePreprocessor(spec: .imagenet(), frameWidth: 0, frameHeight: 4, format: .rgb24) }
    }
}
