import EdgeImaging
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A labelled set of images for evaluation and calibration.
public protocol LabelledImageSet {
    var count: Int { get }
    /// Class names in label-index order, when the set defines them (ImageFolder's directory names).
    var classNames: [String]? { get }
    /// A short description for reports: format and location.
    var summary: String { get }
    func image(at index: Int) throws -> DecodedImage
    func label(at index: Int) -> Int
}

public enum DatasetLoader {
    /// Opens `path` as an IDX set (a directory with `<split>-images-idx3-ubyte[.gz]` and
    /// `<split>-labels-idx1-ubyte[.gz]`, as Debian's dataset-fashion-mnist ships) or as an ImageFolder tree
    /// (`path/<class>/<image>`), whichever it is.
    public static func open(_ path: String, split: String = "t10k", labels: Labels? = nil) throws -> LabelledImageSet {
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory else {
            throw DatasetError("dataset \(path) is not a directory")
        }
        if let idx = try IDXDataset.find(in: path, split: split) { return idx }
        return try ImageFolderDataset(root: path, labels: labels)
    }
}
