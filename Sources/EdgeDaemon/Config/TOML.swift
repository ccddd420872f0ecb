#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// A TOML 1.0 reader that remembers the line of every key, so that configuration errors can point at it.
///
/// Why not a package: the TOML packages available here (LebJe/TOMLKit, over the C++ toml++) report positions for
/// syntax errors only, not for the keys of a parsed document; "unknown key 'widht' at line 12" needs the key's line.
/// It also keeps a C++ library out of the aarch64 cross build. Everything in TOML 1.0 is read except that
/// date/time values are kept as their text (no configuration key takes one, so they only ever produce a type error).
public enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case bool(Bool)
    /// An offset date-time, local date-time, local date or local time, as written.
    case datetime(String)
    case array([TOMLValue])
    case table(TOMLTable)

    /// "a string", "an integer", ... for error messages.
    public var typeDescription: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a float"
        case .bool: return "a boolean"
        case .datetime: return "a date/time"
        case .array: return "an array"
        case .table: return "a table"
        }
    }
}

/// A table whose entries keep their order and the line they were defined on (1-based).
public struct TOMLTable: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var key: String
        public var value: TOMLValue
        public var line: Int
    }
    public private(set) var entries: [Entry] = []
    /// The line of the `[header]` that opened this table, or of the first key that created it implicitly.
    public var line: Int

    public init(line: Int = 0) { self.line = line }

    public subscript(key: String) -> TOMLValue? { entries.first { $0.key == key }?.value }
    public func entry(_ key: String) -> Entry? { entries.first { $0.key == key } }
    public var keys: [String] { entries.map(\.key) }

    fileprivate func index(of key: String) -> Int? { entries.firstIndex { $0.key == key } }
    fileprivate mutating func append(_ key: String, _ value: TOMLValue, line: Int) { entries.append(Entry(key: key, value: value, line: line)) }
    fileprivate mutating func set(at index: Int, _ value: TOMLValue) { entries[index].value = value }
}

public struct TOMLError: Error, CustomStringConvertible, Equatable {
    public let line: Int
    public let column: Int
    public let message: String
    public var description: String { "line \(line), column \(column): \(message)" }
}

public enum TOML {
    /// Parses a whole document; the first syntax error is thrown with its line and column.
    public static func parse(_ text: String) throws -> TOMLTable {
        var parser = TOMLParser(Array(text.utf8))
        return try parser.document()
    }
}

/// A recursive-descent parser over UTF-8 bytes.
struct TOMLParser {
    private let bytes: [UInt8]
    private var position = 0
    private var line = 1
    private var lineStart = 0

    private var root = TOMLTable(line: 1)
    /// The key path of the current `[table]` (or `[[array]]` element); empty for the root.
    private var current: [String] = []
    /// Tables opened by a `[header]` or defined by dotted keys / inline tables: neither may be opened again.
    private var defined: Set<[String]> = []
    /// Inline tables and static arrays: closed to any later addition.
    private var sealed: Set<[String]> = []
    /// Arrays of tables (`[[x]]`), whose last element `[[x]]`-paths refer to.
    private var arraysOfTables: Set<[String]> = []

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    // MARK: Errors and characters

    /// An error maker for the current position that does not hold on to the parser (for closures run while the
    /// parser is being modified).
    private func failure() -> (String) -> TOMLError {
        let l = line, c = position - lineStart + 1
        return { TOMLError(line: l, column: c, message: $0) }
    }

    private func error(_ message: String) -> TOMLError {
        TOMLError(line: line, column: position - lineStart + 1, message: message)
    }

    private var atEnd: Bool { position >= bytes.count }
    private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }
    private func peek(_ offset: Int) -> UInt8? { position + offset < bytes.count ? bytes[position + offset] : nil }

    private mutating func advance() {
        if bytes[position] == UInt8(ascii: "\n") { line += 1; lineStart = position + 1 }
        position += 1
    }

    private func describe(_ byte: UInt8?) -> String {
        guard let byte else { return "the end of the file" }
        switch byte {
        case UInt8(ascii: "\n"): return "a line break"
        case 0x20...0x7e: return "'\(Character(UnicodeScalar(byte)))'"
        default: return String(printf: "byte 0x%02x", byte)
        }
    }

    private mutating func expect(_ c: Character, _ context: String) throws {
        guard peek == c.asciiValue else { throw error("expected '\(c)' \(context), found \(describe(peek))") }
        advance()
    }

    private mutating func skipWhitespace() {
        while let c = peek, c == 0x20 || c == 0x09 { advance() }
    }

    /// Whitespace, then an optional comment; control characters other than tab are not allowed in comments.
    private mutating func skipComment() throws {
        skipWhitespace()
        guard peek == UInt8(ascii: "#") else { return }
        while let c = peek, c != UInt8(ascii: "\n") {
            if c == 0x0d && peek(1) == UInt8(ascii: "\n") { break }
            if (c < 0x20 && c != 0x09) || c == 0x7f { throw error("control character \(describe(c)) in a comment") }
            advance()
        }
    }

    /// The end of a line: a comment, then LF or CRLF or the end of the file.
    private mutating func endOfLine(_ after: String) throws {
        try skipComment()
        if atEnd { return }
        if peek == 0x0d && peek(1) == UInt8(ascii: "\n") { advance(); advance(); return }
        guard peek == UInt8(ascii: "\n") else { throw error("expected the end of the line after \(after), found \(describe(peek))") }
        advance()
    }

    /// Blank lines, comments and whitespace, across lines (inside arrays).
    private mutating func skipBlankLines() throws {
        while true {
            try skipComment()
            if peek == UInt8(ascii: "\n") { advance(); continue }
            if peek == 0x0d && peek(1) == UInt8(ascii: "\n") { advance(); advance(); continue }
            return
        }
    }

    // MARK: Document

    mutating func document() throws -> TOMLTable {
        if bytes.starts(with: [0xef, 0xbb, 0xbf]) { position = 3; lineStart = 3 }
        if String(validating: bytes[position...], as: UTF8.self) == nil {
            // Name the first line that does not decode.
            var lineNumber = 1
            for lineBytes in bytes[position...].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                if String(validating: lineBytes, as: UTF8.self) == nil { break }
                lineNumber += 1
            }
            throw TOMLError(line: lineNumber, column: 1, message: "the file is not valid UTF-8")
        }
        while true {
            try skipBlankLines()
            guard let c = peek else { break }
            if c == UInt8(ascii: "[") {
                try header()
            } else {
                let keyLine = line
                let path = try key()
                skipWhitespace()
                try expect("=", "after the key '\(path.joined(separator: "."))'")
                skipWhitespace()
                let value = try self.value()
                try insert(value, at: current, path: path, line: keyLine)
                try endOfLine("the value of '\(path.joined(separator: "."))'")
            }
        }
        return root
    }

    private mutating func header() throws {
        let headerLine = line
        advance()
        let isArray = peek == UInt8(ascii: "[")
        if isArray { advance() }
        skipWhitespace()
        let path = try key()
        skipWhitespace()
        try expect("]", "to close the table header")
        if isArray { try expect("]", "to close the array-of-tables header") }
        // Before the line ends, so that an error points at the header's line.
        if isArray {
            try appendArrayElement(path, line: headerLine)
        } else {
            try openTable(path, line: headerLine)
        }
        try endOfLine("the table header")
        current = path
    }

    // MARK: Keys

    private mutating func key() throws -> [String] {
        var parts: [String] = []
        while true {
            skipWhitespace()
            parts.append(try simpleKey())
            skipWhitespace()
            guard peek == UInt8(ascii: ".") else { return parts }
            advance()
        }
    }

    private mutating func simpleKey() throws -> String {
        guard let c = peek else { throw error("expected a key, found the end of the file") }
        if c == UInt8(ascii: "\"") { advance(); return try basicString() }
        if c == UInt8(ascii: "'") { advance(); return try literalString() }
        let start = position
        while let c = peek, isBareKeyCharacter(c) { advance() }
        guard position > start else { throw error("expected a key, found \(describe(peek))") }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private func isBareKeyCharacter(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x5f || c == 0x2d
    }

    // MARK: Values

    private mutating func value() throws -> TOMLValue {
        guard let c = peek else { throw error("expected a value, found the end of the file") }
        switch c {
        case UInt8(ascii: "\""):
            if peek(1) == c && peek(2) == c { advance(); advance(); advance(); return .string(try multilineBasicString()) }
            advance()
            return .string(try basicString())
        case UInt8(ascii: "'"):
            if peek(1) == c && peek(2) == c { advance(); advance(); advance(); return .string(try multilineLiteralString()) }
            advance()
            return .string(try literalString())
        case UInt8(ascii: "["):
            return try array()
        case UInt8(ascii: "{"):
            return try inlineTable()
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            if bytes[position...].starts(with: Array("true".utf8)) { position += 4; return .bool(true) }
            if bytes[position...].starts(with: Array("false".utf8)) { position += 5; return .bool(false) }
            throw error("expected a value, found \(describe(c)) (strings need quotes)")
        default:
            return try numberOrDate()
        }
    }

    private mutating func basicString() throws -> String {
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        func flush() { if !run.isEmpty { scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars); run.removeAll() } }
        while true {
            guard let c = peek else { throw error("unterminated string") }
            if c == UInt8(ascii: "\"") { advance(); break }
            if c == UInt8(ascii: "\n") || c == 0x0d { throw error("unterminated string (a basic string ends on its line; use \"\"\" for several lines)") }
            if (c < 0x20 && c != 0x09) || c == 0x7f { throw error("control character \(describe(c)) in a string") }
            if c == UInt8(ascii: "\\") {
                flush()
                advance()
                scalars.append(try escape())
                continue
            }
            run.append(c)
            advance()
        }
        flush()
        return String(scalars)
    }

    private mutating func escape() throws -> UnicodeScalar {
        guard let c = peek else { throw error("unterminated escape") }
        advance()
        switch c {
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "f"): return "\u{0c}"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = c == UInt8(ascii: "u") ? 4 : 8
            guard position + count <= bytes.count,
                  let code = UInt32(String(decoding: bytes[position..<position + count], as: UTF8.self), radix: 16),
                  let scalar = UnicodeScalar(code) else {
                throw error("\\\(Character(UnicodeScalar(c))) needs \(count) hex digits of a Unicode scalar value")
            }
            position += count
            return scalar
        default:
            position -= 1
            throw error("unknown escape \\\(Character(UnicodeScalar(c)))")
        }
    }

    private mutating func literalString() throws -> String {
        let start = position
        while true {
            guard let c = peek else { throw error("unterminated string") }
            if c == UInt8(ascii: "'") { break }
            if c == UInt8(ascii: "\n") || c == 0x0d { throw error("unterminated string (a literal string ends on its line; use ''' for several lines)") }
            if (c < 0x20 && c != 0x09) || c == 0x7f { throw error("control character \(describe(c)) in a string") }
            advance()
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        advance()
        return text
    }

    /// Skips the newline right after the opening delimiter, as TOML says.
    private mutating func skipFirstNewline() {
        if peek == UInt8(ascii: "\n") { advance() } else if peek == 0x0d && peek(1) == UInt8(ascii: "\n") { advance(); advance() }
    }

    private mutating func multilineBasicString() throws -> String {
        skipFirstNewline()
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        func flush() { if !run.isEmpty { scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars); run.removeAll() } }
        let q = UInt8(ascii: "\"")
        while true {
            guard let c = peek else { throw error("unterminated multi-line string") }
            if c == q && peek(1) == q && peek(2) == q {
                // Up to two quotes may sit right before the closing delimiter.
                var extra = 0
                while peek(3 + extra) == q && extra < 2 { extra += 1 }
                run.append(contentsOf: repeatElement(q, count: extra))
                for _ in 0..<(3 + extra) { advance() }
                break
            }
            if c == UInt8(ascii: "\\") {
                // A line-ending backslash trims the line break and the whitespace after it.
                var p = position + 1
                while p < bytes.count, bytes[p] == 0x20 || bytes[p] == 0x09 { p += 1 }
                if p < bytes.count, bytes[p] == UInt8(ascii: "\n") || (bytes[p] == 0x0d && p + 1 < bytes.count && bytes[p + 1] == UInt8(ascii: "\n")) {
                    while let c = peek, c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d || c == UInt8(ascii: "\\") && position < p { advance() }
                    continue
                }
                flush()
                advance()
                scalars.append(try escape())
                continue
            }
            if (c < 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) || c == 0x7f { throw error("control character \(describe(c)) in a string") }
            if c == 0x0d && peek(1) != UInt8(ascii: "\n") { throw error("a bare carriage return in a string") }
            run.append(c)
            advance()
        }
        flush()
        return String(scalars)
    }

    private mutating func multilineLiteralString() throws -> String {
        skipFirstNewline()
        var run: [UInt8] = []
        let q = UInt8(ascii: "'")
        while true {
            guard let c = peek else { throw error("unterminated multi-line string") }
            if c == q && peek(1) == q && peek(2) == q {
                var extra = 0
                while peek(3 + extra) == q && extra < 2 { extra += 1 }
                run.append(contentsOf: repeatElement(q, count: extra))
                for _ in 0..<(3 + extra) { advance() }
                break
            }
            if (c < 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) || c == 0x7f { throw error("control character \(describe(c)) in a string") }
            run.append(c)
            advance()
        }
        return String(decoding: run, as: UTF8.self)
    }

    private mutating func array() throws -> TOMLValue {
        advance()
        var values: [TOMLValue] = []
        while true {
            try skipBlankLines()
            if peek == UInt8(ascii: "]") { advance(); return .array(values) }
            values.append(try value())
            try skipBlankLines()
            if peek == UInt8(ascii: ",") { advance(); continue }
            try skipBlankLines()
            try expect("]", "or ',' in the array")
            return .array(values)
        }
    }

    private mutating func inlineTable() throws -> TOMLValue {
        let startLine = line
        advance()
        // Parsed as its own small document so that dotted keys and duplicates follow the same rules.
        var table = TOMLParser(bytes)
        table.position = position
        table.line = line
        table.lineStart = lineStart
        table.root = TOMLTable(line: startLine)
        table.skipWhitespace()
        if table.peek == UInt8(ascii: "}") {
            table.advance()
            position = table.position
            return .table(table.root)
        }
        while true {
            table.skipWhitespace()
            let keyLine = table.line
            let path = try table.key()
            table.skipWhitespace()
            try table.expect("=", "after the key '\(path.joined(separator: "."))'")
            table.skipWhitespace()
            let value = try table.value()
            try table.insert(value, at: [], path: path, line: keyLine)
            table.skipWhitespace()
            if table.peek == UInt8(ascii: ",") { table.advance(); continue }
            if table.peek == UInt8(ascii: "}") { table.advance(); break }
            throw table.error("expected ',' or '}' in the inline table, found \(table.describe(table.peek)) (inline tables are one line)")
        }
        position = table.position
        line = table.line
        lineStart = table.lineStart
        return .table(table.root)
    }

    private mutating func numberOrDate() throws -> TOMLValue {
        let start = position
        // A date/time: digits then '-' at offset 4, or ':' at offset 2.
        if peek(4) == UInt8(ascii: "-") || peek(2) == UInt8(ascii: ":"), let c = peek, c >= 0x30 && c <= 0x39 {
            while let c = peek, (c >= 0x30 && c <= 0x39) || [UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "."), UInt8(ascii: "T"),
                                                              UInt8(ascii: "t"), UInt8(ascii: "Z"), UInt8(ascii: "z"), UInt8(ascii: "+")].contains(c)
                || (c == 0x20 && peek(1).map { $0 >= 0x30 && $0 <= 0x39 } == true && position - start == 10) {
                advance()
            }
            return .datetime(String(decoding: bytes[start..<position], as: UTF8.self))
        }
        while let c = peek, !(c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d || c == UInt8(ascii: ",") || c == UInt8(ascii: "]")
                              || c == UInt8(ascii: "}") || c == UInt8(ascii: "#")) {
            advance()
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        guard !text.isEmpty else { throw error("expected a value, found \(describe(peek))") }
        if let v = Self.integer(text) { return .integer(v) }
        if let v = Self.float(text) { return .float(v) }
        position = start
        throw error("'\(text)' is not a TOML value (strings need quotes)")
    }

    /// Underscores only between digits.
    private static func digitsWithUnderscores(_ s: Substring, _ isDigit: (Character) -> Bool) -> String? {
        guard let first = s.first, let last = s.last, isDigit(first), isDigit(last) else { return nil }
        var out = "", previousUnderscore = false
        for ch in s {
            if ch == "_" { if previousUnderscore { return nil }; previousUnderscore = true; continue }
            guard isDigit(ch) else { return nil }
            previousUnderscore = false
            out.append(ch)
        }
        return out
    }

    static func integer(_ text: String) -> Int64? {
        var s = Substring(text)
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where s.hasPrefix(prefix) {
            guard let digits = digitsWithUnderscores(s.dropFirst(2), { $0.isHexDigit && Int(String($0), radix: radix) != nil }) else { return nil }
            return Int64(digits, radix: radix)
        }
        var negative = false
        if s.first == "+" || s.first == "-" { negative = s.first == "-"; s = s.dropFirst() }
        guard let digits = digitsWithUnderscores(s, { $0.isASCII && $0.isNumber }) else { return nil }
        if digits.count > 1 && digits.first == "0" { return nil }
        return Int64((negative ? "-" : "") + digits)
    }

    static func float(_ text: String) -> Double? {
        var s = Substring(text)
        var sign = 1.0
        if s.first == "+" || s.first == "-" { sign = s.first == "-" ? -1 : 1; s = s.dropFirst() }
        if s == "inf" { return sign * .infinity }
        if s == "nan" { return .nan }
        // int part, optional .frac, optional e[+-]exp; each part digits with single underscores.
        let lower = s.lowercased()
        let mantissaEnd = lower.firstIndex(of: "e") ?? lower.endIndex
        let mantissa = lower[..<mantissaEnd]
        var exponent = mantissaEnd < lower.endIndex ? lower[lower.index(after: mantissaEnd)...] : nil
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, exponent != nil || parts.count == 2 else { return nil }
        let isDigit: (Character) -> Bool = { $0.isASCII && $0.isNumber }
        guard let intPart = digitsWithUnderscores(parts[0], isDigit), !(intPart.count > 1 && intPart.first == "0") else { return nil }
        var literal = intPart
        if parts.count == 2 {
            guard let frac = digitsWithUnderscores(parts[1], isDigit) else { return nil }
            literal += "." + frac
        }
        if var e = exponent {
            var expSign = ""
            if e.first == "+" || e.first == "-" { expSign = String(e.first!); e = e.dropFirst() }
            guard let digits = digitsWithUnderscores(e, isDigit) else { return nil }
            literal += "e" + expSign + digits
            exponent = nil
        }
        return Double(literal).map { sign * $0 }
    }

    // MARK: Building the tree

    /// The table at `path` below the root, created (implicitly) where missing; through arrays of tables, their last element.
    /// The table at `path` below the root, created (implicitly) where missing; through arrays of tables, their last
    /// element. The root is moved out while `body` runs, so that `body` may read the parser (for errors).
    private mutating func withTable<R>(_ path: [String], line: Int, _ body: (inout TOMLTable) throws -> R) throws -> R {
        var table = root
        root = TOMLTable()
        defer { root = table }
        let sealed = self.sealed, arrays = self.arraysOfTables, fail = failure()
        return try Self.walk(&table, path[...], [], line: line, sealed: sealed, arrays: arrays, fail: fail, body)
    }

    private static func walk<R>(_ table: inout TOMLTable, _ rest: ArraySlice<String>, _ prefix: [String], line: Int,
                                sealed: Set<[String]>, arrays: Set<[String]>, fail: (String) -> TOMLError,
                                _ body: (inout TOMLTable) throws -> R) throws -> R {
        guard let head = rest.first else { return try body(&table) }
        let here = prefix + [head]
        let next = rest.dropFirst()
        if let i = table.index(of: head) {
            switch table.entries[i].value {
            case .table(var inner):
                if sealed.contains(here) { throw fail("'\(here.joined(separator: "."))' is an inline table and cannot be extended") }
                table.set(at: i, .bool(false))   // release the copy while it is being modified
                defer { table.set(at: i, .table(inner)) }
                return try walk(&inner, next, here, line: line, sealed: sealed, arrays: arrays, fail: fail, body)
            case .array(var elements) where arrays.contains(here):
                guard case .table(var inner)? = elements.last else { throw fail("'\(here.joined(separator: "."))' is not a table") }
                table.set(at: i, .bool(false))
                defer { elements[elements.count - 1] = .table(inner); table.set(at: i, .array(elements)) }
                return try walk(&inner, next, here, line: line, sealed: sealed, arrays: arrays, fail: fail, body)
            default:
                throw fail("'\(here.joined(separator: "."))' is already a value (line \(table.entries[i].line)), not a table")
            }
        }
        var inner = TOMLTable(line: line)
        let result = try walk(&inner, next, here, line: line, sealed: sealed, arrays: arrays, fail: fail, body)
        table.append(head, .table(inner), line: line)
        return result
    }

    private mutating func openTable(_ path: [String], line: Int) throws {
        if defined.contains(path) { throw error("table [\(path.joined(separator: "."))] is defined twice") }
        if arraysOfTables.contains(path) { throw error("[\(path.joined(separator: "."))] is an array of tables") }
        defined.insert(path)
        let parent = Array(path.dropLast()), name = path.last!
        let error = failure()
        try withTable(parent, line: line) { table in
            if let i = table.index(of: name) {
                guard case .table(var existing) = table.entries[i].value else {
                    throw error("'\(path.joined(separator: "."))' is already a value (line \(table.entries[i].line)), not a table")
                }
                existing.line = line
                table.set(at: i, .table(existing))
            } else {
                table.append(name, .table(TOMLTable(line: line)), line: line)
            }
        }
    }

    private mutating func appendArrayElement(_ path: [String], line: Int) throws {
        let parent = Array(path.dropLast()), name = path.last!
        let isKnownArray = arraysOfTables.contains(path)
        let error = failure()
        try withTable(parent, line: line) { table in
            if let i = table.index(of: name) {
                guard isKnownArray, case .array(var elements) = table.entries[i].value else {
                    throw error("'\(path.joined(separator: "."))' is already defined (line \(table.entries[i].line)) and is not an array of tables")
                }
                elements.append(.table(TOMLTable(line: line)))
                table.set(at: i, .array(elements))
            } else {
                table.append(name, .array([.table(TOMLTable(line: line))]), line: line)
            }
        }
        arraysOfTables.insert(path)
        // Sub-tables of the previous element may be defined again in the new one.
        defined = defined.filter { !($0.count > path.count && Array($0.prefix(path.count)) == path) }
    }

    private mutating func insert(_ value: TOMLValue, at base: [String], path: [String], line: Int) throws {
        let parent = base + path.dropLast(), name = path.last!
        // Dotted keys define their intermediate tables; a later [header] for them is an error.
        for k in 1..<max(path.count, 1) { defined.insert(base + path.prefix(k)) }
        let full = parent + [name]
        if case .table = value { defined.insert(full); sealed.insert(full) }
        let error = failure()
        try withTable(parent, line: line) { table in
            if let existing = table.entry(name) {
                throw error("duplicate key '\(full.joined(separator: "."))' (first defined at line \(existing.line))")
            }
            table.append(name, value, line: line)
        }
    }
}
