#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A short reason for a failed file operation, for messages: the C library's text for the POSIX error behind it
/// ("No such file or directory"). Foundation's `localizedDescription` (NSError bridging) is not in FoundationEssentials.
public func errorReason(_ error: Error) -> String {
    if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
    if let cocoa = error as? CocoaError {
        if let posix = cocoa.underlying as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        switch cocoa.code {
        case .fileNoSuchFile, .fileReadNoSuchFile: return String(cString: strerror(ENOENT))
        case .fileReadNoPermission, .fileWriteNoPermission: return String(cString: strerror(EACCES))
        case .fileWriteOutOfSpace: return String(cString: strerror(ENOSPC))
        case .fileWriteVolumeReadOnly: return String(cString: strerror(EROFS))
        case .fileReadCorruptFile: return "the file is corrupt"
        case .fileReadInapplicableStringEncoding: return "the file's text encoding is not supported"
        default: return "file error \(cocoa.code.rawValue)"
        }
    }
    if let system = error as? SystemCallError { return String(cString: strerror(system.code)) }
    return String(describing: error)
}
