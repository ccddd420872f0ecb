// printf-style formatting without Foundation.
//
// Why this exists: the deployable binary links FoundationEssentials only (full Foundation drags in ICU data, libcurl
// and libxml2, ~45 MiB of a 65 MiB static binary), and FoundationEssentials has no `String(printf:)`. The project's
// outputs (CLI tables, probe reports, JSON numbers, daemon logs) were written with `String(printf:)`, and tests and
// JSON consumers read them, so the replacement must produce the same text. Rather than a family of ad-hoc helpers,
// each numeric conversion is handed to the C library's vsnprintf, which is what Foundation's String(printf:) uses for
// numbers too: same digits, same rounding (round-half-even on the exact binary value), same "-0.0", "nan", "inf".
// Only `%@` (a Swift value's description) is done here.
//
// Supported: `%%`; flags `-+ 0#`; a decimal width and precision (no `*`, no positional `%1$`); length modifiers
// `hh h l ll q j z t L` (accepted; see below); conversions `d i u x X o c` (integers), `f F e E g G a A` (floating
// point) and `@` (String or any CustomStringConvertible).
//
// `%@` ignores width, precision and flags: swift-corelibs-foundation's String(format:) did (measured: "[%-9@]" with
// "conv" gave "[conv]"), so the CLI's tables written as "%-9@" were never padded on Linux, and stay so.
//
// Integers follow C exactly, as Foundation did: without a length modifier `%d`/`%x` print the value's low 32 bits
// (an Int above Int32.max wraps, as it did before); with `l`/`ll`/`q`/`j`/`z`/`t` they print all 64.
//
// A tiny target of its own (not a file in EdgeGraph) because the modules that format text (EdgeDatasets, EdgeDaemon,
// EdgeProbeTool, the CLI, ...) do not all depend on one common module, and this one depends on nothing but libc.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A value that can stand for one printf conversion. Conformances below cover the integer types, Double, Float,
/// String and Substring; anything else CustomStringConvertible can go to `%@` through `PrintfDescription`.
public protocol PrintfArgument {
    var printfValue: PrintfValue { get }
}

/// What a `PrintfArgument` contributes to a conversion.
public enum PrintfValue {
    case signed(Int64)
    case unsigned(UInt64)
    case double(Double)
    case text(String)
}

extension Int: PrintfArgument { public var printfValue: PrintfValue { .signed(Int64(self)) } }
extension Int8: PrintfArgument { public var printfValue: PrintfValue { .signed(Int64(self)) } }
extension Int16: PrintfArgument { public var printfValue: PrintfValue { .signed(Int64(self)) } }
extension Int32: PrintfArgument { public var printfValue: PrintfValue { .signed(Int64(self)) } }
extension Int64: PrintfArgument { public var printfValue: PrintfValue { .signed(self) } }
extension UInt: PrintfArgument { public var printfValue: PrintfValue { .unsigned(UInt64(self)) } }
extension UInt8: PrintfArgument { public var printfValue: PrintfValue { .unsigned(UInt64(self)) } }
extension UInt16: PrintfArgument { public var printfValue: PrintfValue { .unsigned(UInt64(self)) } }
extension UInt32: PrintfArgument { public var printfValue: PrintfValue { .unsigned(UInt64(self)) } }
extension UInt64: PrintfArgument { public var printfValue: PrintfValue { .unsigned(self) } }
extension Double: PrintfArgument { public var printfValue: PrintfValue { .double(self) } }
extension Float: PrintfArgument { public var printfValue: PrintfValue { .double(Double(self)) } }
extension String: PrintfArgument { public var printfValue: PrintfValue { .text(self) } }
extension Substring: PrintfArgument { public var printfValue: PrintfValue { .text(String(self)) } }

/// Wraps any value for `%@`, e.g. `String(printf: "%@", PrintfDescription(url))`.
public struct PrintfDescription: PrintfArgument {
    public let printfValue: PrintfValue
    public init(_ value: Any) { printfValue = .text(String(describing: value)) }
}

extension String {
    /// `String(printf:)` for the conversions listed at the top of this file, without Foundation.
    /// A malformed or unsupported conversion, or too few arguments, is a programming error (precondition).
    public init(printf format: String, _ arguments: any PrintfArgument...) {
        self = formatPrintf(format, arguments)
    }
}

/// The implementation behind `String(printf:_:)`, taking the arguments as an array.
public func formatPrintf(_ format: String, _ arguments: [any PrintfArgument]) -> String {
    var out = ""
    var next = 0
    let bytes = Array(format.utf8)
    var i = 0
    var literalStart = 0

    func flushLiteral(upTo end: Int) {
        if end > literalStart { out += String(decoding: bytes[literalStart..<end], as: UTF8.self) }
    }

    while i < bytes.count {
        guard bytes[i] == UInt8(ascii: "%") else { i += 1; continue }
        flushLiteral(upTo: i)
        let specStart = i
        i += 1
        precondition(i < bytes.count, "printf: format ends in '%': \(format)")
        if bytes[i] == UInt8(ascii: "%") {
            out += "%"
            i += 1
            literalStart = i
            continue
        }
        // Flags, width, precision.
        var flags = ""
        while i < bytes.count, "-+ 0#".utf8.contains(bytes[i]) {
            flags.append(Character(Unicode.Scalar(bytes[i])))
            i += 1
        }
        var width: Int?
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            width = (width ?? 0) * 10 + Int(bytes[i] - UInt8(ascii: "0"))
            i += 1
        }
        var precision: Int?
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            precision = 0
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
                precision = precision! * 10 + Int(bytes[i] - UInt8(ascii: "0"))
                i += 1
            }
        }
        // Length modifiers: only "64-bit or not" matters for integers; L on a double is ignored (Swift has no long
        // double argument).
        var wide = false
        while i < bytes.count, "hlqjztL".utf8.contains(bytes[i]) {
            if "lqjzt".utf8.contains(bytes[i]) { wide = true }
            i += 1
        }
        precondition(i < bytes.count, "printf: incomplete conversion in \(format)")
        let conversion = bytes[i]
        i += 1
        literalStart = i
        precondition(next < arguments.count, "printf: too few arguments for \(format)")
        let value = arguments[next].printfValue
        next += 1

        var spec = "%" + flags
        if let width { spec += String(width) }
        if let precision { spec += "." + String(precision) }

        switch conversion {
        case UInt8(ascii: "d"), UInt8(ascii: "i"):
            let v: Int64
            switch value {
            case .signed(let s): v = s
            case .unsigned(let u): v = Int64(truncatingIfNeeded: u)
            case .double(let d): v = Int64(d)
            case .text: preconditionFailure("printf: %d given a string in \(format)")
            }
            out += cFormat(spec + "lld", wide ? v : Int64(Int32(truncatingIfNeeded: v)))
        case UInt8(ascii: "u"), UInt8(ascii: "x"), UInt8(ascii: "X"), UInt8(ascii: "o"), UInt8(ascii: "c"):
            let v: UInt64
            switch value {
            case .signed(let s): v = UInt64(truncatingIfNeeded: s)
            case .unsigned(let u): v = u
            case .double(let d): v = UInt64(d)
            case .text: preconditionFailure("printf: integer conversion given a string in \(format)")
            }
            if conversion == UInt8(ascii: "c") {
                out += cFormat(spec + "c", Int32(truncatingIfNeeded: v))
            } else {
                let c = String(Character(Unicode.Scalar(conversion)))
                out += cFormat(spec + "ll" + c, wide ? v : UInt64(UInt32(truncatingIfNeeded: v)))
            }
        case UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "e"), UInt8(ascii: "E"),
             UInt8(ascii: "g"), UInt8(ascii: "G"), UInt8(ascii: "a"), UInt8(ascii: "A"):
            let v: Double
            switch value {
            case .double(let d): v = d
            case .signed(let s): v = Double(s)
            case .unsigned(let u): v = Double(u)
            case .text: preconditionFailure("printf: floating-point conversion given a string in \(format)")
            }
            out += cFormat(spec + String(Character(Unicode.Scalar(conversion))), v)
        case UInt8(ascii: "@"):
            let text: String
            switch value {
            case .text(let t): text = t
            case .signed(let s): text = String(s)
            case .unsigned(let u): text = String(u)
            case .double(let d): text = String(d)
            }
            out += text  // no padding or truncation: see the top of this file
        default:
            preconditionFailure("printf: unsupported conversion '\(String(decoding: bytes[specStart..<i], as: UTF8.self))' in \(format)")
        }
    }
    flushLiteral(upTo: bytes.count)
    return out
}

/// One conversion through the C library (a spec with exactly one conversion and one argument).
private func cFormat(_ spec: String, _ argument: any CVarArg) -> String {
    var capacity = 64
    while true {
        // vsnprintf consumes its va_list, so a retry with a larger buffer needs a fresh one.
        let (n, text) = withVaList([argument]) { args in
            withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { buffer in
                let n = Int(vsnprintf(buffer.baseAddress!, capacity, spec, args))
                return (n, n >= 0 && n < capacity ? String(cString: buffer.baseAddress!) : "")
            }
        }
        precondition(n >= 0, "printf: vsnprintf failed for \(spec)")
        if n < capacity { return text }
        capacity = n + 1
    }
}
