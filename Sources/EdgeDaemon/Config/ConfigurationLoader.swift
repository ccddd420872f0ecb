#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// One problem in a configuration file: where it is and what is wrong, naming the key.
public struct ConfigIssue: Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    /// "section.key", "[section]", or nil for the whole file.
    public var key: String?
    public var message: String

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(message)"
    }
}

/// Every problem found in a configuration file (all of them, so one edit fixes them all).
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public var issues: [ConfigIssue]
    public init(_ issues: [ConfigIssue]) { self.issues = issues }
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Reads a TOML configuration into `DaemonConfiguration`: unknown sections and keys (with a "did you mean"),
/// wrong types and out-of-range values are errors that name the key, the file and the line. Relative paths are
/// taken relative to the file's directory.
public enum ConfigurationLoader {
    /// The keys each section takes, in documentation order. The default file (systemd/resnet-edge.toml) documents
    /// every one of them; a test keeps the two in step.
    public static let schema: [(section: String, keys: [String])] = [
        ("model", ["path", "labels", "preprocess", "board", "threads", "kernels", "precision"]),
        ("source", ["kind", "device", "width", "height", "fps", "pixel_format", "buffers", "path", "reopen_backoff"]),
        ("results", ["socket", "socket_mode", "http_listen", "top_k", "logits", "publish_hz", "client_queue", "max_clients"]),
        ("health", ["stale_after", "status_interval", "reload_timeout", "ready_timeout"]),
        ("log", ["level", "summary_interval"]),
    ]

    public static let pixelFormats = ["auto", "rgb24", "yuyv", "nv12", "mjpeg", "gray"]
    public static let kernelVariants = ["auto", "scalar", "neon", "neondot", "avx2", "avx512vnni"]
    public static let precisions = ["auto", "fp32"]
    public static let logLevels = ["error", "warning", "info", "debug"]

    public static func load(file path: String) throws -> DaemonConfiguration {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            text = String(decoding: data, as: UTF8.self)
            if String(validating: data, as: UTF8.self) == nil {
                throw ConfigError([ConfigIssue(file: path, line: nil, key: nil, message: "not valid UTF-8")])
            }
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError([ConfigIssue(file: path, line: nil, key: nil, message: "cannot read the configuration: \(Self.reason(error))")])
        }
        return try parse(text, file: path)
    }

    /// Parses and validates `text`; `file` names it in messages and anchors relative paths.
    public static func parse(_ text: String, file: String) throws -> DaemonConfiguration {
        let root: TOMLTable
        do {
            root = try TOML.parse(text)
        } catch let error as TOMLError {
            throw ConfigError([ConfigIssue(file: file, line: error.line, key: nil, message: "TOML syntax: \(error.message) (column \(error.column))")])
        }
        var reader = Reader(file: file, root: root)
        var config = DaemonConfiguration.defaults(modelPath: "")
        reader.read(into: &config, requireModel: true)
        if !reader.issues.isEmpty { throw ConfigError(reader.issues) }
        config.file = file
        return config
    }

    /// Applies the keys of `table` over `config` (command-line overrides), with the same checks as a file.
    public static func apply(_ table: TOMLTable, to config: inout DaemonConfiguration, source: String) throws {
        var reader = Reader(file: source, root: table)
        var updated = config
        reader.read(into: &updated, requireModel: false)
        // Lines of the synthesized table mean nothing to the user.
        if !reader.issues.isEmpty { throw ConfigError(reader.issues.map { var i = $0; i.line = nil; return i }) }
        updated.file = config.file
        config = updated
    }

    /// The C library's text for the POSIX error behind a failed read ("No such file or directory").
    static func reason(_ error: Error) -> String { errorReason(error) }

    // MARK: - Did you mean

    /// The known name closest to `name` (optimal string alignment distance, so a swap of two letters is one edit),
    /// if close enough to be a typo; also a known name that `name` starts or ends.
    public static func suggestion(for name: String, among candidates: [String]) -> String? {
        let lower = name.lowercased()
        var best: (String, Int)? = nil
        for candidate in candidates {
            let d = editDistance(lower, candidate.lowercased())
            if best == nil || d < best!.1 { best = (candidate, d) }
        }
        if let (candidate, d) = best, d <= (lower.count <= 4 ? 1 : 2), d < lower.count { return candidate }
        if lower.count >= 3, let c = candidates.first(where: { $0.hasPrefix(lower) || lower.hasPrefix($0) && $0.count >= 4 }) { return c }
        return nil
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }

    // MARK: - Reading

    struct Reader {
        let file: String
        let root: TOMLTable
        var issues: [ConfigIssue] = []

        init(file: String, root: TOMLTable) {
            self.file = file
            self.root = root
        }

        mutating func issue(_ line: Int?, _ key: String?, _ message: String) {
            issues.append(ConfigIssue(file: file, line: line, key: key, message: message))
        }

        /// The directory relative paths are taken from.
        var baseDirectory: URL { URL(fileURLWithPath: file).deletingLastPathComponent() }

        func resolve(_ path: String) -> String {
            guard !path.isEmpty, !path.hasPrefix("/") else { return path }
            return baseDirectory.appendingPathComponent(path).standardizedFileURL.path
        }

        mutating func checkStructure() -> [String: TOMLTable] {
            let sections = ConfigurationLoader.schema.map(\.section)
            var tables: [String: TOMLTable] = [:]
            for entry in root.entries {
                guard case .table(let table) = entry.value else {
                    let owner = ConfigurationLoader.schema.first { $0.keys.contains(entry.key) }?.section
                    issue(entry.line, entry.key, "'\(entry.key)' is outside any section" + (owner.map { "; it belongs under [\($0)]" } ?? "; sections: \(sections.map { "[\($0)]" }.joined(separator: ", "))"))
                    continue
                }
                guard let keys = ConfigurationLoader.schema.first(where: { $0.section == entry.key })?.keys else {
                    var message = "unknown section [\(entry.key)]"
                    if entry.key == "camera" {
                        message += "; camera settings are in [source] (kind = \"camera\")"
                    } else if let s = ConfigurationLoader.suggestion(for: entry.key, among: sections) {
                        message += "; did you mean [\(s)]?"
                    } else {
                        message += "; sections: \(sections.map { "[\($0)]" }.joined(separator: ", "))"
                    }
                    issue(table.line, "[\(entry.key)]", message)
                    continue
                }
                tables[entry.key] = table
                for key in table.entries where !keys.contains(key.key) {
                    var message = "unknown key '\(key.key)' in [\(entry.key)]"
                    if let s = ConfigurationLoader.suggestion(for: key.key, among: keys) {
                        message += "; did you mean '\(s)'?"
                    } else if let other = ConfigurationLoader.schema.first(where: { $0.section != entry.key && $0.keys.contains(key.key) }) {
                        message += "; '\(key.key)' belongs under [\(other.section)]"
                    } else {
                        message += "; keys of [\(entry.key)]: \(keys.joined(separator: ", "))"
                    }
                    issue(key.line, "\(entry.key).\(key.key)", message)
                }
            }
            return tables
        }

        // Typed accessors: nil when absent (default applies) or wrong (an issue is recorded).

        mutating func string(_ tables: [String: TOMLTable], _ section: String, _ key: String) -> (String, Int)? {
            guard let entry = tables[section]?.entry(key) else { return nil }
            guard case .string(let s) = entry.value else {
                issue(entry.line, "\(section).\(key)", "\(section).\(key) must be a string (in quotes), not \(entry.value.typeDescription)")
                return nil
            }
            if s.contains("\0") { issue(entry.line, "\(section).\(key)", "\(section).\(key) contains a NUL character"); return nil }
            return (s, entry.line)
        }

        mutating func boolean(_ tables: [String: TOMLTable], _ section: String, _ key: String) -> Bool? {
            guard let entry = tables[section]?.entry(key) else { return nil }
            guard case .bool(let b) = entry.value else {
                var message = "\(section).\(key) must be true or false, not \(entry.value.typeDescription)"
                if case .string(let s) = entry.value, ["true", "false"].contains(s) { message += " (remove the quotes)" }
                issue(entry.line, "\(section).\(key)", message)
                return nil
            }
            return b
        }

        mutating func choice(_ tables: [String: TOMLTable], _ section: String, _ key: String, _ allowed: [String]) -> String? {
            guard let (s, line) = string(tables, section, key) else { return nil }
            guard allowed.contains(s) else {
                let hint = ConfigurationLoader.suggestion(for: s, among: allowed).map { "; did you mean \"\($0)\"?" } ?? ""
                issue(line, "\(section).\(key)", "\(section).\(key) must be one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", ")), not \"\(s)\"\(hint)")
                return nil
            }
            return s
        }

        mutating func integer(_ tables: [String: TOMLTable], _ section: String, _ key: String, _ range: ClosedRange<Int>,
                              unit: String = "") -> Int? {
            guard let entry = tables[section]?.entry(key) else { return nil }
            let k = "\(section).\(key)"
            guard case .integer(let v) = entry.value else {
                var message = "\(k) must be an integer, not \(entry.value.typeDescription)"
                if case .string(let s) = entry.value, Int(s) != nil { message += " (remove the quotes)" }
                if case .float(let f) = entry.value, f == f.rounded() { message += " (write \(Int(f)))" }
                issue(entry.line, k, message)
                return nil
            }
            guard let i = Int(exactly: v), range.contains(i) else {
                issue(entry.line, k, "\(k) must be between \(range.lowerBound) and \(range.upperBound)\(unit), not \(v)")
                return nil
            }
            return i
        }

        mutating func number(_ tables: [String: TOMLTable], _ section: String, _ key: String, _ range: ClosedRange<Double>,
                             unit: String = "") -> Double? {
            guard let entry = tables[section]?.entry(key) else { return nil }
            let k = "\(section).\(key)"
            let v: Double
            switch entry.value {
            case .integer(let i): v = Double(i)
            case .float(let f): v = f
            default:
                var message = "\(k) must be a number, not \(entry.value.typeDescription)"
                if case .string(let s) = entry.value, Double(s) != nil { message += " (remove the quotes)" }
                issue(entry.line, k, message)
                return nil
            }
            guard v.isFinite, range.contains(v) else {
                issue(entry.line, k, "\(k) must be between \(Self.format(range.lowerBound)) and \(Self.format(range.upperBound))\(unit), not \(Self.format(v))")
                return nil
            }
            return v
        }

        static func format(_ v: Double) -> String {
            v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
        }

        /// Reads every section over `c`; problems go to `issues`.
        mutating func read(into c: inout DaemonConfiguration, requireModel: Bool) {
            let t = checkStructure()

            // [model]
            if requireModel && t["model"] == nil {
                issue(nil, "[model]", "missing section [model] (it needs at least path = \"MODEL.onnx\")")
            }
            if let (p, line) = string(t, "model", "path") {
                if p.isEmpty { issue(line, "model.path", "model.path is empty") } else { c.model.path = resolve(p) }
            } else if requireModel, let model = t["model"], model.entry("path") == nil {
                issue(model.line, "model.path", "[model] needs path = \"MODEL.onnx\" (an ONNX file or a .rem model file)")
            }
            if let (s, _) = string(t, "model", "labels") { c.model.labels = s.isEmpty ? nil : resolve(s) }
            if let (s, _) = string(t, "model", "preprocess") {
                c.model.preprocess = s.isEmpty ? nil : (["imagenet", "fashion-mnist"].contains(s) ? s : resolve(s))
            }
            if let (s, line) = string(t, "model", "board") {
                if s.isEmpty { issue(line, "model.board", "model.board is empty; use \"auto\" or a profile name (`resnet-edge boards`)") }
                else { c.model.board = s }
            }
            if let v = integer(t, "model", "threads", 0...256) { c.model.threads = v }
            if let v = choice(t, "model", "kernels", ConfigurationLoader.kernelVariants) { c.model.kernels = v }
            if let v = choice(t, "model", "precision", ConfigurationLoader.precisions) { c.model.precision = v }

            // [source]
            if let v = choice(t, "source", "kind", DaemonConfiguration.SourceKind.allCases.map(\.rawValue)) {
                c.source.kind = DaemonConfiguration.SourceKind(rawValue: v)!
            }
            if let (s, line) = string(t, "source", "device") {
                if !s.hasPrefix("/dev/") { issue(line, "source.device", "source.device must be a device path such as /dev/video0, not \"\(s)\"") }
                else { c.source.device = s }
            }
            if let v = integer(t, "source", "width", 16...8192, unit: " pixels") { c.source.width = v }
            if let v = integer(t, "source", "height", 16...8192, unit: " pixels") { c.source.height = v }
            if let v = number(t, "source", "fps", 0.1...1000, unit: " frames per second") { c.source.fps = v }
            if let v = choice(t, "source", "pixel_format", ConfigurationLoader.pixelFormats) { c.source.pixelFormat = v }
            if let v = integer(t, "source", "buffers", 2...32) { c.source.buffers = v }
            if let (s, _) = string(t, "source", "path") { c.source.path = resolve(s) }
            if let v = number(t, "source", "reopen_backoff", 0.05...300, unit: " seconds") { c.source.reopenBackoff = v }
            let sourceLine = t["source"]?.line
            switch c.source.kind {
            case .images where c.source.path.isEmpty:
                issue(sourceLine, "source.path", "source kind \"images\" needs path = an image file or a folder of JPEG/PNG files")
            case .raw where c.source.path.isEmpty:
                issue(sourceLine, "source.path", "source kind \"raw\" needs path = a file of raw frames")
            case .raw where c.source.pixelFormat == "auto" || c.source.pixelFormat == "mjpeg":
                issue(t["source"]?.entry("pixel_format")?.line ?? sourceLine, "source.pixel_format",
                      "source kind \"raw\" needs pixel_format = one of rgb24, yuyv, nv12, gray (the frames' layout)")
            case .pattern where c.source.pixelFormat == "mjpeg":
                issue(t["source"]?.entry("pixel_format")?.line, "source.pixel_format", "the test pattern cannot be mjpeg; use rgb24, yuyv, nv12 or gray")
            default: break
            }

            // [results]
            if let (s, line) = string(t, "results", "socket") {
                if !s.isEmpty && !s.hasPrefix("/") {
                    issue(line, "results.socket", "results.socket must be an absolute path (or \"\" for none), not \"\(s)\"")
                } else if s.utf8.count > 107 {
                    issue(line, "results.socket", "results.socket is \(s.utf8.count) bytes long; a Unix socket path has at most 107")
                } else {
                    c.results.socket = s
                }
            }
            if let v = integer(t, "results", "socket_mode", 0...0o777) { c.results.socketMode = v }
            if let (s, line) = string(t, "results", "http_listen") {
                if s.isEmpty || ListenAddress.parse(s) != nil { c.results.httpListen = s }
                else { issue(line, "results.http_listen", "results.http_listen must be \"host:port\" (e.g. \"127.0.0.1:8089\", \"[::1]:8089\") or \"\" for none, not \"\(s)\"") }
            }
            if let v = integer(t, "results", "top_k", 1...1000) { c.results.topK = v }
            if let v = boolean(t, "results", "logits") { c.results.logits = v }
            if let v = number(t, "results", "publish_hz", 0...1000, unit: " results per second") { c.results.publishHz = v }
            if let v = integer(t, "results", "client_queue", 1...100_000, unit: " results") { c.results.clientQueue = v }
            if let v = integer(t, "results", "max_clients", 1...10_000) { c.results.maxClients = v }

            // [health]
            if let v = number(t, "health", "stale_after", 0.1...3600, unit: " seconds") { c.health.staleAfter = v }
            if let v = number(t, "health", "status_interval", 0.1...3600, unit: " seconds") { c.health.statusInterval = v }
            if let v = number(t, "health", "reload_timeout", 0.1...3600, unit: " seconds") { c.health.reloadTimeout = v }
            if let v = number(t, "health", "ready_timeout", 0...3600, unit: " seconds") { c.health.readyTimeout = v }

            // [log]
            if let v = choice(t, "log", "level", ConfigurationLoader.logLevels) { c.log.level = v }
            if let v = number(t, "log", "summary_interval", 0...86_400, unit: " seconds") { c.log.summaryInterval = v }

        }
    }
}
