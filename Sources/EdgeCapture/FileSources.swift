import Foundation
import EdgeImaging

/// A JPEG/PNG file, or a folder of them, decoded once at `open()` and looped as rgb24 (gray images: gray) frames.
public final class ImageFileSource: FrameSource {
    public let path: String
    public let fps: Double
    public var name: String { path }
    private var frames: [DecodedImage] = []
    private var index = 0
    private var sequence: UInt64 = 0
    private var pacer: FramePacer

    public init(path: String, fps: Double) {
        self.path = path
        self.fps = fps
        pacer = FramePacer(fps: fps)
    }

    public func open() throws {
        frames = [try ImageDecoder.decode(path: path)]
        index = 0
        pacer.reset()
    }

    public func close() { frames = [] }

    public func read(timeout: Double) throws -> Frame? {
        guard !frames.isEmpty else { throw CaptureError.io("\(path): not open") }
        guard pacer.wait(timeout: timeout) else { return nil }
        let image = frames[index]
        index = (index + 1) % frames.count
        sequence += 1
        return try Frame(format: image.channels == 1 ? .gray : .rgb24, width: image.width, height: image.height,
                         sequence: sequence, timestamp: monotonicSeconds(), bytes: image.pixels)
    }
}

/// A file of raw frames back to back (no header), looped.
public final class RawVideoSource: FrameSource {
    public let path: String
    public let format: PixelFormat
    public let width: Int
    public let height: Int
    public let fps: Double
    public var name: String { path }

    public init(path: String, format: PixelFormat, width: Int, height: Int, fps: Double) {
        self.path = path
        self.format = format
        self.width = width
        self.height = height
        self.fps = fps
    }

    public func open() throws { throw CaptureError.unsupported("\(path): not implemented yet") }
    public func close() {}
    public func read(timeout: Double) throws -> Frame? { throw CaptureError.io("\(path): not open") }
}
