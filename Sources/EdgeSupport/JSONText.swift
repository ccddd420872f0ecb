// Compact JSON text from `[String: Any]` / `[Any]` trees, byte for byte what Foundation's
// `JSONSerialization.data(withJSONObject:options: [.sortedKeys])` wrote for the CLI's `--json` lines and the probe's
// per-frame message size. JSONSerialization is not in FoundationEssentials (see Printf.swift for why the deployable
// binary avoids full Foundation); JSONEncoder is, but it orders keys and writes numbers differently.
//
// As swift-corelibs-foundation's JSONWriter: no whitespace; strings escaped per Unicode scalar (`"` `\` `/` unless
// `escapingSlashes` is false, \b \f \n \r \t, other controls as \u00XX in lowercase hex); Bool as true/false;
// integers in decimal; Float and Double as their Swift `description` with a trailing ".0" dropped (NaN and infinity
// are not JSON: a precondition failure, where JSONSerialization threw); nil (an Optional in an `Any`) as null.
// Sorted keys: JSONSerialization compares numerically and case-insensitively; plain UTF-8 byte order is the same for
// the project's keys (lowercase snake_case, digits only at the end as in top1/top5), which the tests check.

/// The JSON text of `object` (a dictionary, array, string, number, Bool or nil, nested).
public func jsonText(_ object: Any, escapingSlashes: Bool = true) -> String {
    var out = ""
    writeJSON(object, escapingSlashes: escapingSlashes, into: &out)
    return out
}

private func writeJSON(_ value: Any, escapingSlashes: Bool, into out: inout String) {
    // An Optional wrapped in Any: unwrap, nil is null.
    if let optional = value as? AnyOptional {
        guard let wrapped = optional.wrappedAny else { out += "null"; return }
        writeJSON(wrapped, escapingSlashes: escapingSlashes, into: &out)
        return
    }
    switch value {
    case let s as String: writeJSONString(s, escapingSlashes: escapingSlashes, into: &out)
    case let s as Substring: writeJSONString(String(s), escapingSlashes: escapingSlashes, into: &out)
    case let b as Bool: out += b ? "true" : "false"
    case let n as Int: out += String(n)
    case let n as Int8: out += String(n)
    case let n as Int16: out += String(n)
    case let n as Int32: out += String(n)
    case let n as Int64: out += String(n)
    case let n as UInt: out += String(n)
    case let n as UInt8: out += String(n)
    case let n as UInt16: out += String(n)
    case let n as UInt32: out += String(n)
    case let n as UInt64: out += String(n)
    case let d as [String: Any]:
        out += "{"
        for (i, key) in d.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if i > 0 { out += "," }
            writeJSONString(key, escapingSlashes: escapingSlashes, into: &out)
            out += ":"
            writeJSON(d[key]!, escapingSlashes: escapingSlashes, into: &out)
        }
        out += "}"
    case let a as [Any]:
        out += "["
        for (i, element) in a.enumerated() {
            if i > 0 { out += "," }
            writeJSON(element, escapingSlashes: escapingSlashes, into: &out)
        }
        out += "]"
    case let f as Float: writeJSONNumber(f, into: &out)
    case let f as Double: writeJSONNumber(f, into: &out)
    default: preconditionFailure("jsonText: \(type(of: value)) is not a JSON value")
    }
}

private func writeJSONNumber<T: FloatingPoint & LosslessStringConvertible>(_ x: T, into out: inout String) {
    precondition(x.isFinite, "jsonText: \(x) is not a JSON number")
    var s = x.description
    if s.hasSuffix(".0") { s.removeLast(2) }
    out += s
}

private func writeJSONString(_ s: String, escapingSlashes: Bool, into out: inout String) {
    out += "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "/": out += escapingSlashes ? "\\/" : "/"
        case "\u{8}": out += "\\b"
        case "\u{c}": out += "\\f"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{0}"..."\u{f}": out += "\\u000" + String(scalar.value, radix: 16)
        case "\u{10}"..."\u{1f}": out += "\\u00" + String(scalar.value, radix: 16)
        default: out.unicodeScalars.append(scalar)
        }
    }
    out += "\""
}

/// Lets `writeJSON` see through an Optional stored in an `Any`.
private protocol AnyOptional { var wrappedAny: Any? { get } }
extension Optional: AnyOptional {
    fileprivate var wrappedAny: Any? { self.map { $0 as Any } }
}
