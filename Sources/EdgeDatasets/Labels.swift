#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// Class names, one per line in index order (torchvision's `categories`, a fine-tuned model's labels.txt).
public struct Labels: Sendable, Equatable {
    public let names: [String]

    public init(names: [String]) { self.names = names }

    /// Reads a labels file; blank trailing lines are ignored, a blank line in the middle is an error.
    /// With `classes`, the count must match the model's outputs: a wrong labels file is caught, not misread.
    public init(contentsOf url: URL, classes: Int? = nil) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DatasetError("cannot read labels file \(url.path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DatasetError("labels file \(url.path) is not UTF-8 text")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmed(.whitespacesAndNewlines) }
        while lines.last?.isEmpty == true { lines.removeLast() }
        if let blank = lines.firstIndex(where: \.isEmpty) {
            throw DatasetError("labels file \(url.path): line \(blank + 1) is empty")
        }
        if let classes, lines.count != classes {
            throw DatasetError("labels file \(url.path) has \(lines.count) labels, the model has \(classes) classes")
        }
        names = lines
    }

    public subscript(_ index: Int) -> String { names.indices.contains(index) ? names[index] : "class \(index)" }
    public var count: Int { names.count }
}
