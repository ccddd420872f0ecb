/// Why a labelled set or a labels file could not be used; one line naming the file.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
