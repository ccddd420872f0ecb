/// Why a model file could not be written or read. The message is one line that says what is wrong and
/// where (the section, the node, the JSON path), and, where it helps, what to do instead.
public struct ModelFileError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
