extension Operator {
    /// Multiply-accumulates for one execution with the given input and output shapes. Counted for
    /// convolutions and matrix products only, as the field's GMAC figures do (1.814 GMAC for ResNet18).
    public func multiplyAccumulates(inputs: [Shape], output: Shape) -> Int {
        switch self {
        case .convolution(let c):
            return output.elementCount * c.inputChannelsPerGroup * c.window.kernelHeight * c.window.kernelWidth
        case .fullyConnected(let f):
            return output.elementCount * f.inputs
        case .matMul:
            return output.elementCount * inputs[0][1]
        default:
            return 0
        }
    }
}
