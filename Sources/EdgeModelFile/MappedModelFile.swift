#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A file mapped read-only (`mmap(PROT_READ, MAP_PRIVATE)`), unmapped when the object goes away.
/// The bytes stay valid while the object is alive. (Like every mapping, it assumes nobody truncates the
/// file underneath it; the model file is written by rename, never in place.)
public final class MappedModelFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?
    private let length: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ModelFileError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ModelFileError("cannot stat \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ModelFileError("\(path) is not a regular file") }
        let size = Int(st.st_size)
        length = size
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw ModelFileError("cannot map \(path) (\(size) bytes): \(String(cString: strerror(errno)))") }
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit {
        if let base { munmap(base, length) }
    }
}

/// A copy of in-memory bytes at a 64-byte-aligned address, so that packed blobs seen in place are aligned
/// as they are in a mapping.
final class AlignedCopy: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    private let pointer: UnsafeMutableRawPointer

    init(_ source: UnsafeRawBufferPointer) {
        pointer = .allocate(byteCount: max(source.count, 1), alignment: Format.alignment)
        if let src = source.baseAddress, source.count > 0 { pointer.copyMemory(from: src, byteCount: source.count) }
        bytes = UnsafeRawBufferPointer(start: pointer, count: source.count)
    }

    deinit { pointer.deallocate() }
}
