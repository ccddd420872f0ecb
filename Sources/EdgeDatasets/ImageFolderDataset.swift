import EdgeImaging
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// torchvision's ImageFolder layout: `root/<class name>/<image file>`. Classes are the sorted
/// directory names, as torchvision numbers them; with a labels file whose names cover every
/// directory, each directory takes its label's index instead, so a model whose label order is not
/// alphabetical is still scored correctly.
public struct ImageFolderDataset: LabelledImageSet {
    public let root: String
    private let files: [(path: String, label: Int)]
    public let classNames: [String]?
    public var count: Int { files.count }
    public var summary: String { "ImageFolder \(root) (\(files.count) images, \(classNames?.count ?? 0) classes)" }

    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    public init(root: String, labels: Labels? = nil) throws {
        let fm = FileManager.default
        let classes = try fm.contentsOfDirectory(atPath: root).filter { name in
            var isDirectory = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: root + "/" + name, isDirectory: &isDirectory) && isDirectory
        }.sorted()
        guard !classes.isEmpty else {
            throw DatasetError("\(root) is neither an IDX dataset nor an ImageFolder tree (no class subdirectories)")
        }
        var index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        if let labels, Set(classes).isSubset(of: Set(labels.names)) {
            index = Dictionary(uniqueKeysWithValues: classes.map { name in (name, labels.names.firstIndex(of: name)!) })
        }
        var files: [(String, Int)] = []
        for name in classes {
            let dir = root + "/" + name
            for file in try fm.contentsOfDirectory(atPath: dir).sorted()
            where Self.imageExtensions.contains(file.pathExtension.lowercased()) {
                files.append((dir + "/" + file, index[name]!))
            }
        }
        guard !files.isEmpty else { throw DatasetError("\(root) has class directories but no .jpg/.jpeg/.png images") }
        self.root = root
        self.files = files
        self.classNames = classes
    }

    public func image(at index: Int) throws -> DecodedImage { try ImageDecoder.decode(path: files[index].path) }
    public func label(at index: Int) -> Int { files[index].label }
    public func path(at index: Int) -> String { files[index].path }
}
