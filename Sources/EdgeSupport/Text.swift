// Trimming with the CharacterSet classes the project used (`.whitespaces`, `.whitespacesAndNewlines`, plus NUL for
// sysfs/procfs text), which FoundationEssentials does not have (see Printf.swift for why the deployable binary avoids
// full Foundation). Trims Unicode scalars, as `trimmingCharacters(in:)` does.

/// Which scalars `trimmed(_:)` removes from both ends.
public enum TrimmedScalars: Sendable {
    /// CharacterSet.whitespaces: tab and the space separators (Unicode category Zs).
    case whitespaces
    /// CharacterSet.whitespacesAndNewlines: the above, line/paragraph separators, U+000A-U+000D and U+0085.
    case whitespacesAndNewlines
    /// The above and NUL (sysfs and device-tree strings end in NUL).
    case whitespacesNewlinesAndNUL

    func contains(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        let space = v == 0x09 || s.properties.generalCategory == .spaceSeparator
        switch self {
        case .whitespaces:
            return space
        case .whitespacesAndNewlines:
            return space || (0x0A...0x0D).contains(v) || v == 0x85 || v == 0x2028 || v == 0x2029
        case .whitespacesNewlinesAndNUL:
            return v == 0 || TrimmedScalars.whitespacesAndNewlines.contains(s)
        }
    }
}

extension StringProtocol {
    /// `trimmingCharacters(in:)` for the sets above (default: whitespace and newlines).
    public func trimmed(_ set: TrimmedScalars = .whitespacesAndNewlines) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !set.contains($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !set.contains($0) })!
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}

extension StringProtocol {
    /// Every occurrence of `target` replaced by `replacement`, matching Unicode scalars as Foundation's
    /// `replacingOccurrences(of:with:)` does for the plain ASCII targets used here. (The standard library's
    /// `replacing(_:with:)` matches whole Characters instead, so "\n" would not match inside "\r\n".)
    public func replacingAll(_ target: String, with replacement: String) -> String {
        let needle = Array(target.unicodeScalars)
        guard !needle.isEmpty else { return String(self) }
        let hay = Array(unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < hay.count {
            if hay[i] == needle[0], i + needle.count <= hay.count, Array(hay[i..<i + needle.count]) == needle {
                out.append(contentsOf: replacement.unicodeScalars)
                i += needle.count
            } else {
                out.append(hay[i])
                i += 1
            }
        }
        return String(out)
    }
}
