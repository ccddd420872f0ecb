#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Any JSON value: the free-form parts of the metadata (the calibration report), and the tree the reader
/// walks to decode the `meta` and `graph` sections strictly (every key known, every number in range,
/// every error naming its path).
public enum JSONValue: Sendable, Codable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Numbers compare by value (3 == 3.0), as JSON does not tell them apart.
    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)): return x == y
        default: return false
        }
    }

    /// The one-line JSON text (sorted keys).
    public var description: String {
        (try? JSONValue.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "<not encodable>"
    }

    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// A float32 as JSON: the number of its exact double value (so it parses back to the same bits), or
    /// "inf"/"-inf" (JSON has no infinities).
    static func float(_ f: Float) -> JSONValue {
        if f == .infinity { return .string("inf") }
        if f == -.infinity { return .string("-inf") }
        return .double(Double(f))
    }

    static func encode(_ value: JSONValue) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// Nesting deeper than this is rejected before decoding (the decoder recurses).
    static let maxDepth = 64

    /// Parses JSON text (strictly: `JSONParser`); errors name `section` and the position.
    static func parse(_ bytes: UnsafeRawBufferPointer, section: String) throws -> JSONValue {
        guard std.isValidUTF8(bytes) else {
            throw ModelFileError("malformed JSON in section '\(section)': not valid UTF-8")
        }
        do {
            return try JSONParser.parse(bytes, maxDepth: maxDepth)
        } catch let f as JSONParser.Failure {
            throw ModelFileError("malformed JSON in section '\(section)': \(f.why) at \(JSONParser.position(bytes, f.offset))")
        }
    }
}

enum std {
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var it = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}

func oneLine(_ s: String) -> String {
    let flat = s.split(whereSeparator: \.isNewline).joined(separator: " ")
    return flat.count > 300 ? String(flat.prefix(300)) + "..." : flat
}

/// A JSON object being decoded: typed accessors that name the section and path in their errors, and
/// `finish()`, which rejects keys nobody asked for (an unknown attribute must not be silently dropped).
final class JSONObject {
    let section: String
    let path: String
    let fields: [String: JSONValue]
    private var used = Set<String>()

    init(_ value: JSONValue, section: String, path: String) throws {
        self.section = section
        self.path = path
        guard case .object(let fields) = value else {
            throw JSONObject.error(section, path, "expected an object, found \(value.kindName)")
        }
        self.fields = fields
    }

    static func error(_ section: String, _ path: String, _ why: String) -> ModelFileError {
        ModelFileError("malformed section '\(section)': \(path.isEmpty ? "top level" : path): \(why)")
    }

    func child(_ key: String) -> String { path.isEmpty ? key : path + "." + key }
    func error(_ key: String, _ why: String) -> ModelFileError { JSONObject.error(section, child(key), why) }

    func has(_ key: String) -> Bool {
        if let v = fields[key], v != .null { return true }
        return false
    }

    func value(_ key: String) throws -> JSONValue {
        used.insert(key)
        guard let v = fields[key], v != .null else { throw error(key, "missing") }
        return v
    }

    func optionalValue(_ key: String) -> JSONValue? {
        used.insert(key)
        guard let v = fields[key], v != .null else { return nil }
        return v
    }

    func object(_ key: String) throws -> JSONObject { try JSONObject(try value(key), section: section, path: child(key)) }

    func optionalObject(_ key: String) throws -> JSONObject? {
        guard let v = optionalValue(key) else { return nil }
        return try JSONObject(v, section: section, path: child(key))
    }

    func string(_ key: String) throws -> String {
        let v = try value(key)
        guard case .string(let s) = v else { throw error(key, "expected a string, found \(v.kindName)") }
        return s
    }

    func bool(_ key: String) throws -> Bool {
        let v = try value(key)
        guard case .bool(let b) = v else { throw error(key, "expected true or false, found \(v.kindName)") }
        return b
    }

    func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int {
        try JSONObject.int(try value(key), range) { self.error(key, $0) }
    }

    func float(_ key: String, finite: Bool = true) throws -> Float {
        try JSONObject.float(try value(key), finite: finite) { self.error(key, $0) }
    }

    func array(_ key: String) throws -> [JSONValue] {
        let v = try value(key)
        guard case .array(let a) = v else { throw error(key, "expected an array, found \(v.kindName)") }
        return a
    }

    func ints(_ key: String, count: Int? = nil, _ range: ClosedRange<Int>) throws -> [Int] {
        let a = try array(key)
        if let count, a.count != count { throw error(key, "expected \(count) integers, found \(a.count)") }
        return try a.enumerated().map { i, v in try JSONObject.int(v, range) { self.error("\(key)[\(i)]", $0) } }
    }

    func strings(_ key: String) throws -> [String] {
        try array(key).enumerated().map { i, v in
            guard case .string(let s) = v else { throw error("\(key)[\(i)]", "expected a string, found \(v.kindName)") }
            return s
        }
    }

    func finish() throws {
        if let unknown = fields.keys.filter({ !used.contains($0) }).sorted().first {
            throw error(unknown, "unknown key (this reader reads format \(Format.majorVersion).\(Format.minorVersion))")
        }
    }

    static func int(_ v: JSONValue, _ range: ClosedRange<Int>, _ fail: (String) -> ModelFileError) throws -> Int {
        let n: Int
        switch v {
        case .int(let i): n = i
        case .double(let d) where d.rounded() == d && abs(d) < 9e15: n = Int(d)
        default: throw fail("expected an integer, found \(v.kindName == "a number" ? v.description : v.kindName)")
        }
        guard range.contains(n) else { throw fail("\(n) is outside [\(range.lowerBound), \(range.upperBound)]") }
        return n
    }

    static func float(_ v: JSONValue, finite: Bool, _ fail: (String) -> ModelFileError) throws -> Float {
        let f: Float
        switch v {
        case .int(let i): f = Float(i)
        case .double(let d): f = Float(d)
        case .string("inf") where !finite: f = .infinity
        case .string("-inf") where !finite: f = -.infinity
        default: throw fail("expected a\(finite ? " finite" : "") number, found \(v.kindName == "a string" ? v.description : v.kindName)")
        }
        if finite && !f.isFinite { throw fail("\(f) is not a finite float32") }
        return f
    }
}
