// Plain POSIX reads and writes for what the project did with Foundation's FileHandle, which FoundationEssentials does
// not have (see Printf.swift for why the deployable binary avoids full Foundation).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed system call: `call` names it, `code` is its errno. The description is the C library's text.
public struct SystemCallError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let code: Int32
    public init(_ call: String, code: Int32 = errno) { self.call = call; self.code = code }
    public var description: String { "\(call): \(String(cString: strerror(code)))" }
}

/// Writes all of `bytes` to file descriptor `fd`, retrying after signals and short writes. A write that fails (a
/// closed pipe) drops the rest: what goes to stdout/stderr is best effort, and a reader that left must not stop us.
public func writeAll<Bytes: Collection>(_ bytes: Bytes, to fd: Int32) where Bytes.Element == UInt8 {
    let array = Array(bytes)
    array.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }
}

/// `FileHandle.standardOutput.write(Data(text.utf8))`.
public func writeStandardOutput(_ text: String) { writeAll(text.utf8, to: STDOUT_FILENO) }
/// `FileHandle.standardOutput.write(bytes)`.
public func writeStandardOutput<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 { writeAll(bytes, to: STDOUT_FILENO) }
/// `FileHandle.standardError.write(Data(text.utf8))`.
public func writeStandardError(_ text: String) { writeAll(text.utf8, to: STDERR_FILENO) }

/// A file opened for reading (Foundation's `FileHandle(forReadingFrom:)`), read in pieces, closed on deinit.
public final class ReadableFile {
    private var fd: Int32

    /// Nil when the file cannot be opened (missing, no permission).
    public init?(path: String) {
        var opened: Int32
        repeat { opened = open(path, O_RDONLY | O_CLOEXEC) } while opened < 0 && errno == EINTR
        guard opened >= 0 else { return nil }
        fd = opened
    }

    deinit { close() }

    /// Up to `count` bytes; fewer only at the end of the file, none after it. Throws when a read fails (e.g. the path
    /// is a directory).
    public func read(upToCount count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(0, count))
        var filled = 0
        try out.withUnsafeMutableBytes { raw in
            while filled < raw.count {
                let n = Glibc.read(fd, raw.baseAddress! + filled, raw.count - filled)
                if n > 0 { filled += n } else if n == 0 { break } else if errno == EINTR { continue } else { throw SystemCallError("read") }
            }
        }
        out.removeLast(out.count - filled)
        return out
    }

    public func close() {
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
    }
}
