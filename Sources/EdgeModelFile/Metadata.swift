import EdgeImaging
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// Where a model file came from: enough to tell which source model and calibration data made it.
public struct ModelProvenance: Sendable, Equatable {
    /// The calibration images an INT8 file was calibrated on.
    public struct CalibrationSet: Sendable, Equatable {
        /// `ModelProvenance.calibrationSetSHA256(files:relativeTo:)`, lowercase hex.
        public var sha256: String
        public var count: Int
        public init(sha256: String, count: Int) {
            self.sha256 = sha256
            self.count = count
        }
    }

    /// SHA-256 of the source model file (the ONNX the file was made from), lowercase hex.
    public var sourceModelSHA256: String
    /// The source model's file name, for people (not checked).
    public var sourceModelName: String
    /// Nil for a file that was not calibrated (FP32, or a QDQ model that carries its own parameters).
    public var calibration: CalibrationSet?
    /// The settings the file was made with (precision, kernel variant, calibration method, ...).
    public var settings: [String: String]

    public init(sourceModelSHA256: String, sourceModelName: String = "", calibration: CalibrationSet? = nil,
                settings: [String: String] = [:]) {
        self.sourceModelSHA256 = sourceModelSHA256
        self.sourceModelName = sourceModelName
        self.calibration = calibration
        self.settings = settings
    }

    /// Lowercase hex SHA-256 of bytes.
    public static func sha256<D: DataProtocol>(_ data: D) -> String {
        SHA256.hash(data: data).map { hex2($0) }.joined()
    }

    /// Lowercase hex SHA-256 of a file, read in 1 MiB pieces.
    public static func sha256(contentsOf url: URL) throws -> String {
        guard let file = ReadableFile(path: url.path) else {
            throw ModelFileError("cannot read \(url.path) to hash it: \(FileManager.default.fileExists(atPath: url.path) ? "permission denied or not a regular file" : "no such file")")
        }
        var hasher = SHA256()
        while true {
            let chunk = try file.read(upToCount: 1 << 20)
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { hex2($0) }.joined()
    }

    /// The SHA-256 of a calibration set: of the text `sha256sum` prints for its files, one line
    /// "<hex sha256>  <path relative to root>\n" per file, sorted by path (byte order). So
    /// `cd root && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum` gives the same.
    public static func calibrationSetSHA256(files: [URL], relativeTo root: URL) throws -> String {
        let rootPath = root.standardizedFileURL.path.hasSuffix("/") ? root.standardizedFileURL.path : root.standardizedFileURL.path + "/"
        let entries = try files.map { url -> (String, String) in
            let path = url.standardizedFileURL.path
            let relative = path.hasPrefix(rootPath) ? String(path.dropFirst(rootPath.count)) : url.lastPathComponent
            return (relative, try sha256(contentsOf: url))
        }.sorted { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
        let text = entries.map { "\($0.1)  \($0.0)\n" }.joined()
        return sha256(Data(text.utf8))
    }

    static func isSHA256(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

private func hex2(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}

/// What a deployable model file says about itself besides the graph (the `meta` section).
public struct ModelMetadata: Sendable, Equatable {
    /// The resnet-edge version that wrote the file.
    public var toolVersion: String
    /// The board profile id the weights were packed for (boards/*.json, e.g. "rpi4"), or "generic".
    public var board: String
    /// The INT8 kernel variant (or layout) the packed weights were made for, e.g. "neondot"; "" for FP32 files.
    /// Each packed blob also records its own geometry; this is for people and for the board check.
    public var kernelLayout: String
    /// How an image becomes the model's input.
    public var preprocessing: PreprocessSpec
    /// Class names, one per model output (empty: none known).
    public var labels: [String]
    public var provenance: ModelProvenance
    /// Free-form JSON from the calibration (per-layer ranges, accuracy, ...); nil if none.
    public var calibrationReport: JSONValue?

    public init(toolVersion: String, board: String, kernelLayout: String, preprocessing: PreprocessSpec, labels: [String],
                provenance: ModelProvenance, calibrationReport: JSONValue? = nil) {
        self.toolVersion = toolVersion
        self.board = board
        self.kernelLayout = kernelLayout
        self.preprocessing = preprocessing
        self.labels = labels
        self.provenance = provenance
        self.calibrationReport = calibrationReport
    }
}

// MARK: - JSON form

extension ModelMetadata {
    func json() throws -> JSONValue {
        let spec = try preprocessing.jsonData().withUnsafeBytes { try JSONValue.parse($0, section: Format.metaKind) }
        var provenanceJSON: [String: JSONValue] = [
            "sourceModelSHA256": .string(provenance.sourceModelSHA256),
            "sourceModelName": .string(provenance.sourceModelName),
            "settings": .object(provenance.settings.mapValues { .string($0) }),
        ]
        if let c = provenance.calibration {
            provenanceJSON["calibration"] = .object(["sha256": .string(c.sha256), "count": .int(c.count)])
        }
        var object: [String: JSONValue] = [
            "toolVersion": .string(toolVersion),
            "board": .string(board),
            "kernelLayout": .string(kernelLayout),
            "preprocessing": spec,
            "labels": .array(labels.map { .string($0) }),
            "provenance": .object(provenanceJSON),
        ]
        if let calibrationReport { object["calibrationReport"] = calibrationReport }
        return .object(object)
    }

    /// Checks what the writer and the reader both require.
    func validate() throws {
        func bad(_ why: String) -> ModelFileError { ModelFileError("invalid metadata: \(why)") }
        if !ModelProvenance.isSHA256(provenance.sourceModelSHA256) {
            throw bad("provenance.sourceModelSHA256 '\(provenance.sourceModelSHA256.prefix(80))' is not 64 lowercase hex digits")
        }
        if let c = provenance.calibration {
            if !ModelProvenance.isSHA256(c.sha256) { throw bad("provenance.calibration.sha256 '\(c.sha256.prefix(80))' is not 64 lowercase hex digits") }
            if c.count < 1 { throw bad("provenance.calibration.count \(c.count) must be at least 1") }
        }
        if board.isEmpty || board.utf8.count > 64 || !board.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) {
            throw bad("board id '\(board.prefix(80))' must be 1 to 64 printable ASCII characters without spaces")
        }
        do { try preprocessing.validate(source: "preprocessing") } catch { throw bad("\(error)") }
    }

    static func decode(_ json: JSONValue) throws -> ModelMetadata {
        let s = Format.metaKind
        let o = try JSONObject(json, section: s, path: "")
        let specJSON = try o.value("preprocessing")
        let spec: PreprocessSpec
        do {
            spec = try PreprocessSpec.decode(json: try JSONValue.encode(specJSON), source: "preprocessing")
        } catch {
            throw JSONObject.error(s, "preprocessing", "\(error)")
        }
        let p = try o.object("provenance")
        var calibration: ModelProvenance.CalibrationSet? = nil
        if let c = try p.optionalObject("calibration") {
            calibration = .init(sha256: try c.string("sha256"), count: try c.int("count", 1...Int(Int32.max)))
            try c.finish()
        }
        var settings = [String: String]()
        if let so = try p.optionalObject("settings") {
            for (key, value) in so.fields {
                guard case .string(let v) = value else { throw so.error(key, "expected a string, found \(value.kindName)") }
                settings[key] = v
            }
        }
        let provenance = ModelProvenance(sourceModelSHA256: try p.string("sourceModelSHA256"),
                                         sourceModelName: p.has("sourceModelName") ? try p.string("sourceModelName") : "",
                                         calibration: calibration, settings: settings)
        try p.finish()
        let metadata = ModelMetadata(toolVersion: try o.string("toolVersion"), board: try o.string("board"),
                                     kernelLayout: try o.string("kernelLayout"), preprocessing: spec,
                                     labels: try o.strings("labels"), provenance: provenance,
                                     calibrationReport: o.optionalValue("calibrationReport"))
        try o.finish()
        do { try metadata.validate() } catch let e as ModelFileError {
            throw ModelFileError("section 'meta': \(e.description)")
        }
        return metadata
    }
}
