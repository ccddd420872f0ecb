#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// Why an image could not be read, decoded or preprocessed.
///
/// `description` is always one line, `"<file name>: <cause>"`, e.g.
/// `skimage_coffee.png: corrupt PNG: IDAT: CRC error` or `notes.jpg: unknown image format (looks like text)`.
/// Decoding never traps on bad input: every failure of a file's content is reported as an `ImageError`.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable, Equatable {
        /// The file could not be opened or read (missing, a directory, no permission, I/O error).
        case unreadable
        /// The file has no bytes.
        case empty
        /// The magic bytes are neither JPEG nor PNG.
        case unknownFormat
        /// libjpeg-turbo reported an error or a warning (truncated data, bad Huffman code, ...).
        case corruptJPEG
        /// libpng reported an error (bad CRC, truncated data, bad zlib stream, ...).
        case corruptPNG
        /// A well-formed image that this decoder deliberately does not handle (see the message).
        case unsupported
        /// The image header declares more pixels than `ImageDecoder.maximumPixelCount`.
        case tooLarge
        /// A preprocessing spec that cannot be applied (e.g. `std` of 0, 2 mean values), or an unreadable sidecar.
        case invalidSpec
    }

    public let kind: Kind
    /// The path as given by the caller, or a name such as `<memory>` for in-memory data.
    public let path: String
    /// The cause, without the file name.
    public let cause: String

    public init(_ kind: Kind, path: String, cause: String) {
        self.kind = kind
        self.path = path
        // Keep the description on one line whatever a C library put in its message.
        self.cause = cause.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .map { $0.trimmed(.whitespaces) }.joined(separator: " ")
    }

    /// The last path component of `path` (the whole of it when it has no `/`).
    public var fileName: String {
        guard let slash = path.lastIndex(of: "/"), path.index(after: slash) != path.endIndex else { return path }
        return String(path[path.index(after: slash)...])
    }

    public var description: String { "\(fileName): \(cause)" }
}
