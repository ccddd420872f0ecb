// String path helpers with NSString's semantics (appendingPathComponent, lastPathComponent, ...), which
// FoundationEssentials does not have (see Printf.swift for why the deployable binary avoids full Foundation).

extension StringProtocol {
    /// NSString.lastPathComponent: "/a/b/" -> "b", "/" -> "/", "" -> "".
    public var lastPathComponent: String {
        let s = String(self)
        let trimmed = s.trimmingTrailingSlashes
        if trimmed == "/" || trimmed.isEmpty { return trimmed }
        guard let slash = trimmed.lastIndex(of: "/") else { return trimmed }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    /// NSString.deletingLastPathComponent: "/a/b" -> "/a", "/a" -> "/", "a" -> "", "/" -> "/".
    public var deletingLastPathComponent: String {
        let trimmed = String(self).trimmingTrailingSlashes
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash]).trimmingTrailingSlashes
    }

    /// NSString.pathExtension: "x.JPG" -> "JPG", "a.tar.gz" -> "gz", "x" -> "", ".hidden" -> "".
    public var pathExtension: String {
        let name = lastPathComponent
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return String(name[name.index(after: dot)...])
    }

    /// NSString.appendingPathComponent: joins with one "/" ("a" + "b" -> "a/b", "a/" + "b" -> "a/b", "" + "b" -> "b").
    public func appendingPathComponent(_ component: String) -> String {
        let base = String(self)
        if base.isEmpty { return component }
        if component.isEmpty { return base }
        let left = base == "/" ? "" : base.trimmingTrailingSlashes
        let right = component.drop(while: { $0 == "/" })
        return left + "/" + right
    }
}

extension String {
    /// Drops trailing "/" except a lone root "/".
    fileprivate var trimmingTrailingSlashes: String {
        var s = Substring(self)
        while s.count > 1, s.last == "/" { s = s.dropLast() }
        return String(s)
    }
}
