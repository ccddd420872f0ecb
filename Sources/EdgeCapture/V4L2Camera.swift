import Foundation
import CV4L2
#if canImport(Glibc)
import Glibc
#endif

/// What to ask a camera for.
public struct CameraConfiguration: Sendable {
    public var device: String
    public var width: Int
    public var height: Int
    public var fps: Int
    /// nil = auto: YUYV at <= 640x480, MJPEG above if offered, then NV12, else RGB24 through libv4lconvert.
    public var pixelFormat: PixelFormat?
    /// Driver buffers (mmap), 2...32.
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

/// A V4L2 capture device through libv4l2 (mmap streaming, poll with a timeout).
public final class V4L2Camera: FrameSource {
    public let configuration: CameraConfiguration
    /// What the driver agreed to at the last `open()` (the wire format: MJPEG frames are delivered decoded, as rgb24).
    public private(set) var negotiated: (format: PixelFormat, width: Int, height: Int, fps: Double)?

    public var name: String { configuration.device }

    public init(_ configuration: CameraConfiguration) {
        self.configuration = configuration
    }

    deinit { close() }

    public func open() throws {
        close()
        var st = stat()
        if stat(configuration.device, &st) != 0 {
            throw CaptureError.deviceMissing("\(configuration.device): \(String(cString: strerror(errno)))")
        }
        throw CaptureError.unsupported("\(configuration.device): not implemented yet")
    }

    public func close() {}

    public func read(timeout: Double) throws -> Frame? {
        throw CaptureError.io("\(configuration.device): not open")
    }

    /// Driver, card, capabilities and formats of `device`, as lines of text (never throws: failures are described).
    public static func probe(device: String) -> String {
        "\(device): probe not implemented yet"
    }
}
