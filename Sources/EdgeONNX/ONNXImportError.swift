/// Why an ONNX model could not be imported. The message is one line that names the operator,
/// the node and, where it helps, what is supported instead.
public struct ONNXImportError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
