#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CV4L2
#if canImport(Glibc)
import Glibc
#endif

/// What to ask a camera for.
public struct CameraConfiguration: Sendable {
    /// The device node, e.g. `/dev/video0`.
    public var device: String
    public var width: Int
    public var height: Int
    /// Frames per second asked for (S_PARM); <= 0 leaves the driver's rate.
    public var fps: Int
    /// nil = auto: YUYV at <= 640x480, MJPEG above if offered, then NV12, else RGB24 through libv4lconvert.
    public var pixelFormat: PixelFormat?
    /// Driver buffers (mmap), clamped to 2...32.
    public var buffers: Int = 4

    public init(device: String = "/dev/video0", width: Int = 640, height: Int = 480, fps: Int = 30,
                pixelFormat: PixelFormat? = nil, buffers: Int = 4) {
        self.device = device
        self.width = width
        self.height = height
        self.fps = fps
        self.pixelFormat = pixelFormat
        self.buffers = buffers
    }
}

/// A V4L2 capture device through libv4l2: mmap streaming, `poll()` with a timeout, each dequeued buffer copied into
/// a `Frame` and requeued at once.
///
/// - Formats: see `CameraConfiguration.pixelFormat`. RGB24 that the device does not offer natively is converted by
///   libv4lconvert (inside libv4l2). **MJPEG is decoded here with TurboJPEG** (the library and settings EdgeImaging
///   decodes photos with: accurate IDCT, Pillow's pixels), not by libv4lconvert: it avoids a second JPEG library
///   with other output, decodes straight into the frame, and lets a corrupt frame be skipped (counted in
///   `corruptFrames`) instead of failing the stream. MJPEG frames are therefore delivered as `rgb24` (gray for a
///   gray JPEG); `negotiated.format` still says `.mjpeg` (what travels over USB).
/// - Sequence numbers are this object's own, increasing by one per delivered frame and continuing across reopens;
///   gaps in the driver's sequence (frames the driver dropped) are counted in `driverDropped`.
/// - Timestamps: the buffer's timestamp when the driver says it is CLOCK_MONOTONIC (UVC, vivid), else the dequeue time.
/// - Faults: a missing node -> `.deviceMissing`; EACCES -> `.permissionDenied` naming the node's group (video);
///   ENODEV/EIO/ENXIO while streaming (USB camera unplugged) -> `.deviceGone`; the Raspberry Pi CSI pipeline
///   (rp1-cfe, pispbe, Bayer-only unicam) and other raw-Bayer-only sensors -> `.needsLibcamera`.
public final class V4L2Camera: FrameSource {
    public let configuration: CameraConfiguration
    /// What the driver agreed to at the last `open()`: the wire format (MJPEG frames are delivered decoded, as rgb24),
    /// the size (the driver may pick the nearest it supports) and the frame rate (0 when the driver does not say).
    public private(set) var negotiated: (format: PixelFormat, width: Int, height: Int, fps: Double)?
    /// QUERYCAP of the open device.
    public private(set) var driver = "", card = "", busInfo = ""
    /// Frames the driver skipped (gaps in its sequence numbers) since this object was created.
    public private(set) var driverDropped: UInt64 = 0
    /// Frames discarded: flagged as erroneous by the driver, too short, or MJPEG that did not decode.
    public private(set) var corruptFrames: UInt64 = 0
    /// Why the last discarded frame was discarded.
    public private(set) var lastCorruption: String?

    public var name: String { configuration.device }

    /// After this many discarded frames in a row, `read` throws `.io` (so LatestFrameCapture reopens the device).
    static let corruptLimit = 30

    private var fd: Int32 = -1
    private var mapped: [(address: UnsafeMutableRawPointer, length: Int)] = []
    private var streaming = false
    private var wire: PixelFormat = .yuyv
    private var frameWidth = 0, frameHeight = 0, bytesPerLine = 0
    private var sequence: UInt64 = 0
    private var lastDriverSequence: UInt32?
    private var consecutiveCorrupt = 0
    private var mjpeg: MJPEGDecoder?

    public init(_ configuration: CameraConfiguration) {
        self.configuration = configuration
    }

    deinit { close() }

    // MARK: FrameSource

    public func open() throws {
        close()
        let dev = configuration.device
        let c = configuration
        guard c.width > 0, c.height > 0, c.width <= Frame.maximumDimension, c.height <= Frame.maximumDimension else {
            throw CaptureError.unsupported("\(dev): bad frame size \(c.width)x\(c.height)")
        }
        fd = try Self.openDevice(dev)
        do {
            try configure()
        } catch {
            close()
            throw error
        }
    }

    public func close() {
        if fd < 0 { return }
        if streaming {
            _ = cv4l2_streamoff(fd, Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue))
            streaming = false
        }
        for m in mapped { _ = cv4l2_munmap(m.address, m.length) }
        if !mapped.isEmpty {
            var req = v4l2_requestbuffers()
            req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            req.memory = V4L2_MEMORY_MMAP.rawValue
            req.count = 0
            _ = cv4l2_reqbufs(fd, &req)
        }
        mapped = []
        _ = cv4l2_close(fd)
        fd = -1
        mjpeg = nil
        lastDriverSequence = nil
        consecutiveCorrupt = 0
    }

    public func read(timeout: Double) throws -> Frame? {
        let dev = configuration.device
        guard fd >= 0, streaming else { throw CaptureError.io("\(dev): not open") }
        let deadline = monotonicSeconds() + max(0, timeout.isFinite ? timeout : 0)
        while true {
            let remaining = deadline - monotonicSeconds()
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(max(0, min(remaining, 3600)) * 1000 + 0.999))
            if ready < 0 {
                if errno == EINTR { continue }
                throw CaptureError.io("\(dev): poll: \(Self.errnoText())")
            }
            if ready == 0 { return nil }
            var buf = v4l2_buffer()
            buf.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            buf.memory = V4L2_MEMORY_MMAP.rawValue
            if Self.retrying({ cv4l2_dqbuf(fd, &buf) }) < 0 {
                let e = errno
                if e == EAGAIN {
                    // No frame after all. An error condition without a frame means the stream is broken.
                    if pfd.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 {
                        throw CaptureError.deviceGone("\(dev): poll reports an error and no frame can be dequeued")
                    }
                    if monotonicSeconds() >= deadline { return nil }
                    continue
                }
                throw Self.streamingError(dev, "VIDIOC_DQBUF", e)
            }
            let index = Int(buf.index)
            guard index < mapped.count else {
                throw CaptureError.io("\(dev): the driver returned buffer \(index) of \(mapped.count)")
            }
            let frame = makeFrame(buf, mapped[index])
            if Self.retrying({ cv4l2_qbuf(fd, &buf) }) < 0 {
                throw Self.streamingError(dev, "VIDIOC_QBUF", errno)
            }
            if let frame {
                consecutiveCorrupt = 0
                return frame
            }
            consecutiveCorrupt += 1
            if consecutiveCorrupt >= Self.corruptLimit {
                consecutiveCorrupt = 0
                throw CaptureError.io("\(dev): \(Self.corruptLimit) unusable frames in a row (last: \(lastCorruption ?? "?"))")
            }
            if monotonicSeconds() >= deadline { return nil }
        }
    }

    /// The frame in a dequeued buffer (copied or decoded), or nil (counted) when it is unusable.
    private func makeFrame(_ buf: v4l2_buffer, _ memory: (address: UnsafeMutableRawPointer, length: Int)) -> Frame? {
        if let last = lastDriverSequence, buf.sequence > last &+ 1, buf.sequence &- last < 1 << 20 {
            driverDropped += UInt64(buf.sequence &- last &- 1)
        }
        lastDriverSequence = buf.sequence
        func discard(_ why: String) -> Frame? {
            corruptFrames += 1
            lastCorruption = why
            return nil
        }
        if buf.flags & UInt32(V4L2_BUF_FLAG_ERROR) != 0 { return discard("the driver flagged the frame as erroneous") }
        let used = buf.bytesused > 0 ? min(Int(buf.bytesused), memory.length) : memory.length
        let bytes = UnsafeRawBufferPointer(start: memory.address, count: used)
        var timestamp = monotonicSeconds()
        let tv = buf.timestamp
        if buf.flags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MASK) == UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC),
           tv.tv_sec != 0 || tv.tv_usec != 0 {
            timestamp = Double(tv.tv_sec) + Double(tv.tv_usec) * 1e-6
        }
        do {
            let frame: Frame
            if wire == .mjpeg {
                frame = try mjpeg!.decode(bytes, sequence: sequence + 1, timestamp: timestamp,
                                          expected: (frameWidth, frameHeight))
            } else {
                frame = try Frame(format: wire, width: frameWidth, height: frameHeight, bytesPerLine: bytesPerLine,
                                  sequence: sequence + 1, timestamp: timestamp, copying: bytes)
            }
            sequence += 1
            return frame
        } catch {
            return discard("\(error)")
        }
    }

    // MARK: Opening

    static func openDevice(_ dev: String) throws -> Int32 {
        var st = stat()
        if stat(dev, &st) != 0 {
            let e = errno
            if e == EACCES { throw CaptureError.permissionDenied(permissionMessage(dev, st: nil)) }
            throw CaptureError.deviceMissing("\(dev) does not exist (\(String(cString: strerror(e)))): no camera connected, or it is another /dev/videoN")
        }
        if (st.st_mode & S_IFMT) != S_IFCHR {
            throw CaptureError.unsupported("\(dev) is not a device node")
        }
        let f = cv4l2_open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        if f < 0 {
            let e = errno
            switch e {
            case EACCES, EPERM: throw CaptureError.permissionDenied(permissionMessage(dev, st: st))
            case ENOENT, ENODEV, ENXIO: throw CaptureError.deviceMissing("\(dev): \(String(cString: strerror(e))) (the camera is not there)")
            case EBUSY: throw CaptureError.io("\(dev) is busy: another program is using the camera")
            // libv4l2's v4l2_open queries the device and fails like this on a node without V4L2 ioctls.
            // (ENOSYS: an emulator such as qemu-user that does not pass V4L2 ioctls through.)
            case ENOTTY, EINVAL, ENOSYS: throw CaptureError.unsupported("\(dev) is not a V4L2 device")
            default: throw CaptureError.io("\(dev): open: \(String(cString: strerror(e)))")
            }
        }
        return f
    }

    /// "/dev/video0 is not accessible to user pi (node crw-rw---- root:video): add the user to the 'video' group ..."
    static func permissionMessage(_ dev: String, st: stat?) -> String {
        let user = getpwuid(geteuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "uid \(geteuid())"
        var group = "video"
        var node = ""
        if let st {
            if let g = getgrgid(st.st_gid), let n = g.pointee.gr_name { group = String(cString: n) }
            node = " (mode \(String(st.st_mode & 0o777, radix: 8)), group \(group))"
        }
        return "\(dev) is not readable and writable by user \(user)\(node): add the user to the '\(group)' group "
            + "(sudo usermod -aG \(group) \(user), then log in again; for a systemd service: SupplementaryGroups=\(group))"
    }

    private func configure() throws {
        let dev = configuration.device
        var cap = v4l2_capability()
        if Self.retrying({ cv4l2_querycap(fd, &cap) }) < 0 {
            let e = errno
            if e == ENOTTY || e == EINVAL || e == ENOSYS { throw CaptureError.unsupported("\(dev) is not a V4L2 device") }
            throw Self.streamingError(dev, "VIDIOC_QUERYCAP", e)
        }
        driver = Self.string(cap.driver)
        card = Self.string(cap.card)
        busInfo = Self.string(cap.bus_info)
        let caps = cap.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
        let formats = Self.enumerateFormats(fd)
        if let reason = Self.libcameraReason(device: dev, driver: driver, card: card, formats: formats) {
            throw CaptureError.needsLibcamera(reason)
        }
        guard caps & UInt32(V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE) != 0 else {
            throw CaptureError.unsupported("\(dev) (\(driver), \(card)) is not a video capture device (capabilities 0x\(String(caps, radix: 16)))")
        }
        guard caps & UInt32(V4L2_CAP_STREAMING) != 0 else {
            throw CaptureError.unsupported("\(dev) (\(driver)) does not support streaming I/O")
        }
        guard !formats.isEmpty else {
            throw CaptureError.unsupported("\(dev) (\(driver)) offers no capture format (a multiplanar-only driver needs libv4l2's libv4l-mplane plugin, in package libv4l-0)")
        }
        let c = configuration
        guard let chosen = Self.chooseFormat(offered: formats, width: c.width, height: c.height, requested: c.pixelFormat) else {
            let list = formats.map { PixelFormat.fourccString($0.fourcc) + ($0.emulated ? " (emulated)" : "") }.joined(separator: ", ")
            if let want = c.pixelFormat {
                throw CaptureError.unsupported("\(dev) (\(driver)) does not offer \(want.rawValue); it offers \(list)")
            }
            throw CaptureError.unsupported("\(dev) (\(driver)) offers no usable format (\(list))")
        }

        // S_FMT, with the fourcc as the device lists it (MJPEG may be listed as 'JPEG').
        let fourcc = formats.first { PixelFormat(fourcc: $0.fourcc) == chosen }?.fourcc ?? chosen.fourcc
        var fmt = v4l2_format()
        fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        fmt.fmt.pix.width = UInt32(c.width)
        fmt.fmt.pix.height = UInt32(c.height)
        fmt.fmt.pix.pixelformat = fourcc
        fmt.fmt.pix.field = V4L2_FIELD_ANY.rawValue
        if Self.retrying({ cv4l2_s_fmt(fd, &fmt) }) < 0 { throw Self.streamingError(dev, "VIDIOC_S_FMT", errno) }
        guard let got = PixelFormat(fourcc: fmt.fmt.pix.pixelformat), got == chosen else {
            throw CaptureError.unsupported("\(dev) (\(driver)): asked for \(PixelFormat.fourccString(chosen.fourcc)), the driver set \(PixelFormat.fourccString(fmt.fmt.pix.pixelformat))")
        }
        wire = got
        frameWidth = Int(fmt.fmt.pix.width)
        frameHeight = Int(fmt.fmt.pix.height)
        guard frameWidth > 0, frameHeight > 0, frameWidth <= Frame.maximumDimension, frameHeight <= Frame.maximumDimension else {
            throw CaptureError.unsupported("\(dev) (\(driver)): the driver set a frame size of \(frameWidth)x\(frameHeight)")
        }
        let minimumPitch = wire.minimumBytesPerLine(width: frameWidth)
        bytesPerLine = Int(fmt.fmt.pix.bytesperline) >= minimumPitch ? Int(fmt.fmt.pix.bytesperline) : minimumPitch

        // Frame rate.
        var fps = 0.0
        var parm = v4l2_streamparm()
        parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        if c.fps > 0, Self.retrying({ cv4l2_g_parm(fd, &parm) }) == 0,
           parm.parm.capture.capability & UInt32(V4L2_CAP_TIMEPERFRAME) != 0 {
            parm.parm.capture.timeperframe = v4l2_fract(numerator: 1, denominator: UInt32(c.fps))
            _ = Self.retrying({ cv4l2_s_parm(fd, &parm) })
        }
        parm = v4l2_streamparm()
        parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        if Self.retrying({ cv4l2_g_parm(fd, &parm) }) == 0, parm.parm.capture.timeperframe.numerator > 0 {
            fps = Double(parm.parm.capture.timeperframe.denominator) / Double(parm.parm.capture.timeperframe.numerator)
        }

        // Buffers.
        var req = v4l2_requestbuffers()
        req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        req.memory = V4L2_MEMORY_MMAP.rawValue
        req.count = UInt32(min(max(c.buffers, 2), 32))
        if Self.retrying({ cv4l2_reqbufs(fd, &req) }) < 0 {
            let e = errno
            if e == EINVAL { throw CaptureError.unsupported("\(dev) (\(driver)) does not support mmap streaming") }
            throw Self.streamingError(dev, "VIDIOC_REQBUFS", e)
        }
        guard req.count >= 1 else { throw CaptureError.io("\(dev): the driver granted no buffers") }
        let needed = wire.frameSize(width: frameWidth, height: frameHeight, bytesPerLine: bytesPerLine) ?? 1
        for i in 0..<Int(req.count) {
            var buf = v4l2_buffer()
            buf.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            buf.memory = V4L2_MEMORY_MMAP.rawValue
            buf.index = UInt32(i)
            if Self.retrying({ cv4l2_querybuf(fd, &buf) }) < 0 { throw Self.streamingError(dev, "VIDIOC_QUERYBUF", errno) }
            let length = Int(buf.length)
            guard length >= needed else {
                throw CaptureError.unsupported("\(dev) (\(driver)): buffer of \(length) bytes for a \(frameWidth)x\(frameHeight) \(wire.rawValue) frame of \(needed)")
            }
            guard let address = cv4l2_mmap(length, fd, Int64(buf.m.offset)), cv4l2_map_failed(address) == 0 else {
                throw Self.streamingError(dev, "mmap", errno)
            }
            mapped.append((address, length))
        }
        for i in 0..<mapped.count {
            var buf = v4l2_buffer()
            buf.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            buf.memory = V4L2_MEMORY_MMAP.rawValue
            buf.index = UInt32(i)
            if Self.retrying({ cv4l2_qbuf(fd, &buf) }) < 0 { throw Self.streamingError(dev, "VIDIOC_QBUF", errno) }
        }
        if wire == .mjpeg { mjpeg = try MJPEGDecoder() }
        if Self.retrying({ cv4l2_streamon(fd, Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)) }) < 0 {
            throw Self.streamingError(dev, "VIDIOC_STREAMON", errno)
        }
        streaming = true
        negotiated = (wire, frameWidth, frameHeight, fps)
    }

    // MARK: Decisions (pure functions, tested without a device)

    /// A format the device lists: fourcc, description, and whether libv4lconvert emulates it.
    struct OfferedFormat: Equatable {
        var fourcc: UInt32
        var description: String = ""
        var emulated: Bool = false
    }

    /// The format to ask for. With `requested`, that format if offered (natively or emulated), else nil. Auto:
    /// at <= 640x480 YUYV, NV12, MJPEG; above MJPEG, NV12, YUYV (USB 2 cannot carry uncompressed HD at full rate);
    /// then native RGB24, native gray, and last RGB24 emulated by libv4lconvert (converted from whatever the camera has).
    static func chooseFormat(offered: [OfferedFormat], width: Int, height: Int, requested: PixelFormat?) -> PixelFormat? {
        if let requested {
            return offered.contains { PixelFormat(fourcc: $0.fourcc) == requested } ? requested : nil
        }
        let native = Set(offered.filter { !$0.emulated }.compactMap { PixelFormat(fourcc: $0.fourcc) })
        let order: [PixelFormat] = width * height <= 640 * 480 ? [.yuyv, .nv12, .mjpeg] : [.mjpeg, .nv12, .yuyv]
        for f in order + [.rgb24, .gray] where native.contains(f) { return f }
        if offered.contains(where: { PixelFormat(fourcc: $0.fourcc) == .rgb24 }) { return .rgb24 }
        return nil
    }

    /// Raw Bayer (and raw mono sensor) fourccs: 8-bit, 10/12/14/16-bit, MIPI-packed and PiSP-compressed.
    static func isBayer(_ fourcc: UInt32) -> Bool {
        let s = PixelFormat.fourccString(fourcc)
        let known: Set<String> = ["BA81", "GBRG", "GRBG", "RGGB", "BG10", "GB10", "BA10", "RG10", "BG12", "GB12", "BA12",
                                  "RG12", "BG14", "GB14", "GR14", "RG14", "BYR2", "GB16", "GR16", "RG16", "BD10",
                                  "Y10 ", "Y12 ", "Y14 ", "Y10P", "Y12P", "Y14P"]
        if known.contains(s) { return true }
        // MIPI CSI-2 packed Bayer: pBAA pGAA pgAA pRAA (10), pBCC... (12), pBEE... (14); PiSP compressed: PC1B PC1G PC1g PC1R.
        if s.hasPrefix("p") && ["BAA", "GAA", "gAA", "RAA", "BCC", "GCC", "gCC", "RCC", "BEE", "GEE", "gEE", "REE"].contains(String(s.dropFirst())) { return true }
        return s.hasPrefix("PC1")
    }

    /// Why this device must go through libcamera (or nvargus), or nil if plain V4L2 capture works.
    static func libcameraReason(device: String, driver: String, card: String, formats: [OfferedFormat]) -> String? {
        let d = driver.lowercased()
        let via = "Use a USB (UVC) camera (it shows up as another /dev/videoN; `v4l2-ctl --list-devices` lists them), or capture "
            + "through libcamera: rpicam-apps (rpicam-vid), or run under `libcamerify` (libcamera's V4L2 compatibility layer)."
        if d == "rp1-cfe" || d == "pispbe" || d.hasPrefix("rp1-cfe") || d.hasPrefix("pispbe") {
            return "\(device) belongs to the Raspberry Pi 5 camera pipeline (driver \(driver), card \(card)): a CSI camera "
                + "on a Pi 5 delivers raw sensor data that only libcamera configures and processes (RP1 CFE + PiSP). " + via
        }
        let native = formats.filter { !$0.emulated }
        let usable = native.contains { PixelFormat(fourcc: $0.fourcc) != nil }
        let bayerOnly = !native.isEmpty && native.allSatisfy { isBayer($0.fourcc) }
        let list = native.map { PixelFormat.fourccString($0.fourcc) }.joined(separator: ", ")
        if d.contains("unicam") && !usable {
            return "\(device) is a Raspberry Pi CSI camera (driver \(driver), card \(card)) with raw Bayer formats only (\(list)): "
                + "it needs libcamera's ISP processing. " + via
        }
        if bayerOnly {
            return "\(device) (driver \(driver), card \(card)) offers raw Bayer formats only (\(list)): a CSI sensor that needs "
                + "an ISP. On a Raspberry Pi use libcamera (rpicam-apps or `libcamerify`), on a Jetson nvargus "
                + "(nvarguscamerasrc), or use a USB (UVC) camera."
        }
        return nil
    }

    // MARK: Probe

    /// Driver, card, capabilities, formats (with frame sizes), the current format, what auto selection would pick and
    /// whether libcamera is needed, as lines of text. Never throws: failures are described in the text.
    public static func probe(device: String) -> String {
        var lines = ["device: \(device)"]
        let fd: Int32
        do { fd = try openDevice(device) } catch {
            lines.append("error: \(error)")
            return lines.joined(separator: "\n")
        }
        defer { _ = cv4l2_close(fd) }
        var cap = v4l2_capability()
        if retrying({ cv4l2_querycap(fd, &cap) }) < 0 {
            lines.append("error: VIDIOC_QUERYCAP: \(errnoText()) (not a V4L2 device?)")
            return lines.joined(separator: "\n")
        }
        let driver = string(cap.driver), card = string(cap.card)
        let v = cap.version
        lines.append("driver: \(driver) \(v >> 16).\((v >> 8) & 0xFF).\(v & 0xFF)")
        lines.append("card: \(card)")
        lines.append("bus: \(string(cap.bus_info))")
        let caps = cap.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
        let names: [(Int32, String)] = [(V4L2_CAP_VIDEO_CAPTURE, "video-capture"), (V4L2_CAP_VIDEO_CAPTURE_MPLANE, "video-capture-mplane"),
                                        (V4L2_CAP_VIDEO_OUTPUT, "video-output"), (V4L2_CAP_VIDEO_M2M, "m2m"),
                                        (V4L2_CAP_META_CAPTURE, "meta-capture"), (V4L2_CAP_READWRITE, "read-write"),
                                        (V4L2_CAP_STREAMING, "streaming")]
        let capNames = names.filter { caps & UInt32($0.0) != 0 }.map { $0.1 }
        lines.append("capabilities: 0x\(String(caps, radix: 16)) (\(capNames.joined(separator: ", ")))")
        let formats = enumerateFormats(fd)
        lines.append("formats: \(formats.isEmpty ? "none" : "")")
        for f in formats {
            let ours = PixelFormat(fourcc: f.fourcc).map { " = \($0.rawValue)" } ?? ""
            lines.append("  \(PixelFormat.fourccString(f.fourcc)) '\(f.description)'\(f.emulated ? " emulated (libv4lconvert)" : "")\(ours): \(frameSizes(fd, f.fourcc))")
        }
        var fmt = v4l2_format()
        fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        if retrying({ cv4l2_g_fmt(fd, &fmt) }) == 0 {
            let p = fmt.fmt.pix
            lines.append("current: \(PixelFormat.fourccString(p.pixelformat)) \(p.width)x\(p.height) bytesperline \(p.bytesperline) sizeimage \(p.sizeimage)")
        }
        if let reason = libcameraReason(device: device, driver: driver, card: card, formats: formats) {
            lines.append("needs libcamera: \(reason)")
        } else {
            let small = chooseFormat(offered: formats, width: 640, height: 480, requested: nil)
            let large = chooseFormat(offered: formats, width: 1280, height: 720, requested: nil)
            lines.append("auto format: \(small?.rawValue ?? "none") at 640x480, \(large?.rawValue ?? "none") at 1280x720")
        }
        return lines.joined(separator: "\n")
    }

    private static func frameSizes(_ fd: Int32, _ fourcc: UInt32) -> String {
        var sizes: [String] = []
        var e = v4l2_frmsizeenum()
        e.pixel_format = fourcc
        while sizes.count < 64 {
            if retrying({ cv4l2_enum_framesizes(fd, &e) }) < 0 { break }
            if e.type == V4L2_FRMSIZE_TYPE_DISCRETE.rawValue {
                sizes.append("\(e.discrete.width)x\(e.discrete.height)")
            } else {
                let s = e.stepwise
                sizes.append("\(s.min_width)x\(s.min_height)-\(s.max_width)x\(s.max_height) step \(s.step_width)x\(s.step_height)")
                break
            }
            e.index += 1
        }
        return sizes.isEmpty ? "sizes not listed" : sizes.joined(separator: " ")
    }

    // MARK: Helpers

    static func enumerateFormats(_ fd: Int32) -> [OfferedFormat] {
        var out: [OfferedFormat] = []
        var d = v4l2_fmtdesc()
        d.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        while out.count < 256 {
            if retrying({ cv4l2_enum_fmt(fd, &d) }) < 0 { break }
            out.append(OfferedFormat(fourcc: d.pixelformat, description: string(d.description),
                                     emulated: d.flags & UInt32(V4L2_FMT_FLAG_EMULATED) != 0))
            d.index += 1
        }
        return out
    }

    /// Runs an ioctl wrapper again while it fails with EINTR.
    @inline(__always) static func retrying(_ call: () -> Int32) -> Int32 {
        var r: Int32
        repeat { r = call() } while r < 0 && errno == EINTR
        return r
    }

    /// ENODEV/EIO/ENXIO/ESHUTDOWN (USB camera unplugged, device reset) -> deviceGone; anything else -> io.
    static func streamingError(_ dev: String, _ what: String, _ e: Int32) -> CaptureError {
        let text = "\(dev): \(what): \(String(cString: strerror(e)))"
        switch e {
        case ENODEV, EIO, ENXIO, ESHUTDOWN, EPIPE: return .deviceGone(text)
        case EACCES, EPERM: return .permissionDenied(text)
        default: return .io(text)
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// A fixed-size C char array (imported as a tuple) as a String.
    static func string<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
