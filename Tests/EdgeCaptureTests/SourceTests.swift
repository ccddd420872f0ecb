import Foundation
import Testing
import EdgeImaging
import TestSupport
@testable import EdgeCapture

func temporaryPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("edgecapture-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

func bytes(of frame: Frame) -> [UInt8] { [UInt8](frame.bytes) }

@Suite struct TestPatternTests {
    @Test(arguments: PixelFormat.allCases)
    func deterministicPerSequence(format: PixelFormat) throws {
        let source = TestPatternSource(width: 160, height: 120, fps: 0, format: format)
        try source.open()
        let a = try #require(try source.read(timeout: 1)), b = try #require(try source.read(timeout: 1))
        #expect(a.sequence == 1 && b.sequence == 2 && a.format == format && a.width == 160 && a.height == 120)
        #expect(bytes(of: a) != bytes(of: b))   // the bars move
        let again = try TestPatternSource.frame(sequence: 2, width: 160, height: 120, format: format)
        #expect(bytes(of: again) == bytes(of: b))
        // The counter survives every format's conversion (MJPEG included).
        #expect(TestPatternSource.counter(in: try ColorConversion.image(from: b)) == 2)
        let big = try TestPatternSource.frame(sequence: 0xDEAD_BEEF, width: 640, height: 480, format: format)
        #expect(TestPatternSource.counter(in: try ColorConversion.image(from: big)) == 0xDEAD_BEEF)
    }

    @Test func pacedAtFPS() throws {
        let source = TestPatternSource(width: 64, height: 48, fps: 50)
        try source.open()
        let start = monotonicSeconds()
        var n = 0
        while monotonicSeconds() - start < 0.4 { if try source.read(timeout: 0.1) != nil { n += 1 } }
        #expect(n >= 15 && n <= 25, "\(n) frames in 0.4 s at 50 fps")
        let slow = TestPatternSource(width: 64, height: 48, fps: 1)
        try slow.open()
        _ = try slow.read(timeout: 0.1)
        #expect(try slow.read(timeout: 0.05) == nil)   // the next one is 1 s away: a timeout, not a wait
    }

    @Test func yuvRoundTripIsClose() throws {
        // BT.601 limited range: encode then decode stays within a few levels for a smooth picture (sanity of constants).
        let rgb = TestPatternSource.image(sequence: 9, width: 64, height: 48)
        for format in [PixelFormat.yuyv, .nv12] {
            let frame = try Frame(format: format, width: 64, height: 48, sequence: 1, timestamp: 0, bytes: ColorConversion.encode(rgb, as: format))
            let back = try ColorConversion.image(from: frame)
            // Colour bars (top 60%) have flat chroma over each pair: within 3 levels there.
            var worst = 0
            for y in 0..<28 { for x in 0..<64 { for c in 0..<3 {
                let d = abs(Int(back[y, x, c]) - Int(rgb[y, x, c]))
                if x % 8 != 7 && x % 8 != 0 { worst = max(worst, d) }
            } } }
            #expect(worst <= 3, "\(format): \(worst)")
        }
        #expect(ColorConversion.rgb(y: 16, cb: 128, cr: 128) == (0, 0, 0))
        #expect(ColorConversion.rgb(y: 235, cb: 128, cr: 128) == (255, 255, 255))
        #expect(ColorConversion.rgb(y: 81, cb: 90, cr: 240) == (255, 0, 0))
    }
}

@Suite struct FileSourceTests {
    @Test(arguments: [PixelFormat.rgb24, .yuyv, .nv12, .gray])
    func rawVideoRoundTrip(format: PixelFormat) throws {
        let w = 48, h = 30
        let frames = try (1...5).map { try TestPatternSource.frame(sequence: UInt64($0), width: w, height: h, format: format) }
        let path = temporaryPath("raw-\(format).bin")
        // 5 frames plus half a frame of trailing garbage (ignored).
        let data = frames.flatMap { bytes(of: $0) } + [UInt8](repeating: 7, count: bytes(of: frames[0]).count / 2)
        FileManager.default.createFile(atPath: path, contents: Data(data))
        let source = RawVideoSource(path: path, format: format, width: w, height: h, fps: 0)
        try source.open()
        #expect(source.frameCount == 5)
        for i in 0..<12 {   // loops
            let f = try #require(try source.read(timeout: 1))
            #expect(f.sequence == UInt64(i + 1))
            #expect(bytes(of: f) == bytes(of: frames[i % 5]), "frame \(i)")
        }
        // Reopen continues the sequence.
        source.close()
        try source.open()
        #expect(try source.read(timeout: 1)?.sequence == 13)
        source.close()
    }

    @Test func rawVideoBadInput() throws {
        let path = temporaryPath("short.bin")
        FileManager.default.createFile(atPath: path, contents: Data(repeating: 1, count: 100))
        #expect(throws: CaptureError.self) { try RawVideoSource(path: path, format: .yuyv, width: 64, height: 48, fps: 0).open() }
        do {
            try RawVideoSource(path: path, format: .yuyv, width: 64, height: 48, fps: 0).open()
        } catch let error as CaptureError {
            guard case .io(let message) = error else { Issue.record("expected .io, got \(error)"); return }
            #expect(message.contains("truncated") && message.contains("6144"))
        }
        #expect(throws: CaptureError.deviceMissing("/nonexistent/x.raw: No such file or directory")) {
            try RawVideoSource(path: "/nonexistent/x.raw", format: .rgb24, width: 4, height: 4, fps: 0).open()
        }
        #expect(throws: CaptureError.self) { try RawVideoSource(path: path, format: .mjpeg, width: 4, height: 4, fps: 0).open() }
        #expect(throws: CaptureError.self) { try RawVideoSource(path: path, format: .rgb24, width: 0, height: 4, fps: 0).open() }
        #expect(throws: CaptureError.self) { try RawVideoSource(path: "/tmp", format: .rgb24, width: 4, height: 4, fps: 0).open() }
        // A file that shrinks while open: the source restarts, then reports the truncation; it never traps.
        let shrinking = temporaryPath("shrinking.bin")
        FileManager.default.createFile(atPath: shrinking, contents: Data(repeating: 3, count: 4 * 48))
        let source = RawVideoSource(path: shrinking, format: .rgb24, width: 4, height: 4, fps: 0)
        try source.open()
        #expect(source.frameCount == 4)
        _ = try source.read(timeout: 1)
        truncate(shrinking, 10)
        #expect(throws: CaptureError.self) { _ = try source.read(timeout: 1) }
        // Reading while closed is an error, not a crash.
        source.close()
        #expect(throws: CaptureError.self) { _ = try source.read(timeout: 1) }
    }

    @Test func imageFolderLoopsAndSkipsNonImages() throws {
        let source = ImageFileSource(path: TestPaths.testImages.path, fps: 0)
        try source.open()
        #expect(source.skipped.count == 1 && source.skipped[0].contains("README.txt"))
        let names = try FileManager.default.contentsOfDirectory(atPath: TestPaths.testImages.path).filter { !$0.hasSuffix(".txt") }.sorted()
        var first: Frame? = nil
        for i in 0...names.count {
            let f = try #require(try source.read(timeout: 1))
            if i == 0 { first = f }
            if i == names.count { #expect(bytes(of: f) == bytes(of: first!)) }   // looped
        }
        // The first photo equals the decoder's image.
        let image = try ImageDecoder.decode(path: TestPaths.testImages.appendingPathComponent(names[0]).path)
        #expect(bytes(of: first!) == image.pixels)
    }

    @Test func imageSourceErrors() throws {
        #expect(throws: CaptureError.self) { try ImageFileSource(path: "/nonexistent.jpg", fps: 1).open() }
        let text = temporaryPath("notes.jpg")
        FileManager.default.createFile(atPath: text, contents: Data("hello".utf8))
        do {
            try ImageFileSource(path: text, fps: 1).open()
            Issue.record("no error")
        } catch let error as CaptureError {
            #expect(error.description.contains("unknown image format"))
        }
        let empty = temporaryPath("emptydir")
        try? FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(throws: CaptureError.self) { try ImageFileSource(path: empty, fps: 1).open() }
        // A truncated JPEG in a folder is skipped, the good one is used.
        let dir = temporaryPath("mixed")
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let jpeg = try Data(contentsOf: TestPaths.testImages.appendingPathComponent("mpl_grace_hopper.jpg"))
        FileManager.default.createFile(atPath: dir + "/a_truncated.jpg", contents: jpeg.prefix(jpeg.count / 2))
        FileManager.default.createFile(atPath: dir + "/b_good.jpg", contents: jpeg)
        let source = ImageFileSource(path: dir, fps: 0)
        try source.open()
        #expect(source.skipped.count == 1)
        #expect(try source.read(timeout: 1)?.format == .rgb24)
    }
}

@Suite struct V4L2CameraTests {
    @Test func missingDeviceIsDeviceMissingWithThePath() {
        let camera = V4L2Camera(CameraConfiguration(device: "/dev/video-does-not-exist", width: 640, height: 480, fps: 30))
        do {
            try camera.open()
            Issue.record("opened a missing device")
        } catch let error as CaptureError {
            guard case .deviceMissing(let message) = error else { Issue.record("expected deviceMissing, got \(error)"); return }
            #expect(message.contains("/dev/video-does-not-exist"))
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: CaptureError.self) { _ = try camera.read(timeout: 0.01) }
        camera.close()
        #expect(V4L2Camera.probe(device: "/dev/video-does-not-exist").contains("device missing"))
    }

    @Test func notAV4L2Device() {
        // /dev/null is a character device without V4L2 ioctls; a regular file is not a device at all.
        #expect(throws: CaptureError.unsupported("/dev/null is not a V4L2 device")) {
            try V4L2Camera(CameraConfiguration(device: "/dev/null")).open()
        }
        #expect(throws: CaptureError.unsupported("/etc/hostname is not a device node")) {
            try V4L2Camera(CameraConfiguration(device: "/etc/hostname")).open()
        }
        #expect(V4L2Camera.probe(device: "/dev/null").contains("not a V4L2 device"))
    }

    @Test func permissionMessageNamesTheGroup() {
        var st = stat()
        stat("/dev/null", &st)
        let message = V4L2Camera.permissionMessage("/dev/video0", st: nil)
        #expect(message.contains("'video' group") && message.contains("/dev/video0") && message.contains("usermod"))
    }

    @Test func errnoMapping() {
        for e in [ENODEV, EIO, ENXIO] {
            guard case .deviceGone = V4L2Camera.streamingError("/dev/video0", "VIDIOC_DQBUF", e) else { Issue.record("\(e)"); continue }
        }
        guard case .io = V4L2Camera.streamingError("/dev/video0", "VIDIOC_DQBUF", EINVAL) else { Issue.record("EINVAL"); return }
    }

    typealias F = V4L2Camera.OfferedFormat
    static func fmt(_ s: StaticString, emulated: Bool = false) -> F { F(fourcc: fourccCode(s), emulated: emulated) }

    @Test func autoFormatChoice() {
        let uvc = [Self.fmt("MJPG"), Self.fmt("YUYV"), Self.fmt("RGB3", emulated: true), Self.fmt("YU12", emulated: true)]
        #expect(V4L2Camera.chooseFormat(offered: uvc, width: 640, height: 480, requested: nil) == .yuyv)
        #expect(V4L2Camera.chooseFormat(offered: uvc, width: 1280, height: 720, requested: nil) == .mjpeg)
        #expect(V4L2Camera.chooseFormat(offered: uvc, width: 1280, height: 720, requested: .rgb24) == .rgb24)
        #expect(V4L2Camera.chooseFormat(offered: uvc, width: 640, height: 480, requested: .nv12) == nil)
        let yuyvOnly = [Self.fmt("YUYV"), Self.fmt("RGB3", emulated: true)]
        #expect(V4L2Camera.chooseFormat(offered: yuyvOnly, width: 1920, height: 1080, requested: nil) == .yuyv)
        let nv12 = [Self.fmt("NV12"), Self.fmt("RGB3", emulated: true)]
        #expect(V4L2Camera.chooseFormat(offered: nv12, width: 640, height: 480, requested: nil) == .nv12)
        let vivid = [Self.fmt("YUYV"), Self.fmt("RGB3"), Self.fmt("NV12")]
        #expect(V4L2Camera.chooseFormat(offered: vivid, width: 1280, height: 720, requested: nil) == .nv12)
        let odd = [Self.fmt("UYVY"), Self.fmt("RGB3", emulated: true)]
        #expect(V4L2Camera.chooseFormat(offered: odd, width: 640, height: 480, requested: nil) == .rgb24)
        #expect(V4L2Camera.chooseFormat(offered: [Self.fmt("UYVY")], width: 640, height: 480, requested: nil) == nil)
        #expect(V4L2Camera.chooseFormat(offered: [Self.fmt("GREY")], width: 640, height: 480, requested: nil) == .gray)
    }

    @Test func libcameraDetection() throws {
        let bayer = [Self.fmt("pBAA"), Self.fmt("BG10"), Self.fmt("RGGB")]
        let pi5 = try #require(V4L2Camera.libcameraReason(device: "/dev/video0", driver: "rp1-cfe", card: "rp1-cfe", formats: bayer))
        #expect(pi5.contains("Raspberry Pi 5") && pi5.contains("USB (UVC)") && pi5.contains("libcamerify") && pi5.contains("rpicam"))
        // The PiSP back end nodes (/dev/video20...), whatever they list.
        #expect(V4L2Camera.libcameraReason(device: "/dev/video20", driver: "pispbe", card: "pispbe", formats: [Self.fmt("YUYV")]) != nil)
        // Pi 4 unicam with a Bayer sensor; unicam with a YUV bridge (e.g. TC358743) works.
        #expect(V4L2Camera.libcameraReason(device: "/dev/video0", driver: "unicam", card: "unicam", formats: bayer + [Self.fmt("RGB3", emulated: true)]) != nil)
        #expect(V4L2Camera.libcameraReason(device: "/dev/video0", driver: "unicam", card: "unicam", formats: [Self.fmt("UYVY"), Self.fmt("YUYV")]) == nil)
        // Jetson-style raw sensor.
        let jetson = try #require(V4L2Camera.libcameraReason(device: "/dev/video0", driver: "tegra-video", card: "vi-output, imx219", formats: [Self.fmt("RG10")]))
        #expect(jetson.contains("nvargus"))
        // UVC webcams and vivid are fine.
        #expect(V4L2Camera.libcameraReason(device: "/dev/video0", driver: "uvcvideo", card: "HD Webcam", formats: [Self.fmt("MJPG"), Self.fmt("YUYV")]) == nil)
        #expect(V4L2Camera.libcameraReason(device: "/dev/video0", driver: "vivid", card: "vivid", formats: [Self.fmt("YUYV"), Self.fmt("RGB3"), Self.fmt("BA81")]) == nil)
        let error = CaptureError.needsLibcamera(pi5)
        #expect(error.description.hasPrefix("needs libcamera: /dev/video0 belongs to the Raspberry Pi 5 camera pipeline"))
    }

    @Test func fourccs() {
        #expect(PixelFormat.yuyv.fourcc == 0x5659_5559)
        #expect(PixelFormat(fourcc: fourccCode("JPEG")) == .mjpeg)
        for f in PixelFormat.allCases { #expect(PixelFormat(fourcc: f.fourcc) == f) }
        #expect(PixelFormat.fourccString(PixelFormat.rgb24.fourcc) == "RGB3")
    }
}
