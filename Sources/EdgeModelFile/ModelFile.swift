import EdgeGraph
import EdgeImaging
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// What a model file holds, as the writer takes it.
public struct ModelFileContents: Sendable {
    /// The graph. Nodes with `quantized` weights are INT8 nodes: each needs a blob in `packedWeights`, and
    /// their float `weights` are not stored (see `LoadedModelFile.graph`).
    public var graph: Graph
    public var metadata: ModelMetadata
    /// One blob per INT8 convolution / fully connected node, by node name.
    public var packedWeights: [PackedWeightsBlob]

    public init(graph: Graph, metadata: ModelMetadata, packedWeights: [PackedWeightsBlob] = []) {
        self.graph = graph
        self.metadata = metadata
        self.packedWeights = packedWeights
    }
}

/// A model file read and validated; keeps the mapping (or the in-memory copy) alive for the packed views.
public final class LoadedModelFile: @unchecked Sendable {
    /// The graph. For INT8 nodes (`quantized` set) the float `weights` array is EMPTY: the canonical
    /// `QuantizedWeights` (int8 values in the IR's element order, per-channel scales, int32 bias) are recovered
    /// from the packed blob, and a consumer that runs such a node in FP32 dequantizes them on demand
    /// (`QuantizedWeights.dequantized()`). The float `bias` is kept.
    public let graph: Graph
    public let metadata: ModelMetadata
    /// The packed weights of every INT8 node, by node name, in place in the file.
    public let packed: [String: PackedWeightsView]
    public let formatVersion: (major: Int, minor: Int)
    public let sections: [ModelFileSection]
    public let fileSize: Int
    /// What keeps `packed`'s bytes alive (a `MappedModelFile` or an aligned copy).
    public let storage: AnyObject

    init(graph: Graph, metadata: ModelMetadata, packed: [String: PackedWeightsView], formatVersion: (Int, Int),
         sections: [ModelFileSection], fileSize: Int, storage: AnyObject) {
        self.graph = graph
        self.metadata = metadata
        self.packed = packed
        self.formatVersion = formatVersion
        self.sections = sections
        self.fileSize = fileSize
        self.storage = storage
    }
}

/// The deployable model file (`.rem`, "resnet-edge model"): one compact, versioned, checksummed, mmap-able
/// file with the graph, the metadata a deployment needs, and pre-packed INT8 weights. See `Format` for the
/// container and `GraphCoding.swift` for the graph section.
public enum ModelFile {
    public static let fileExtension = "rem"
    /// The format versions this code writes and reads: it reads every 1.x.
    public static var formatVersion: (major: Int, minor: Int) { (Int(Format.majorVersion), Int(Format.minorVersion)) }

    // MARK: Writing

    /// Validates `contents`, lays out the file, reads it back through the same validation as `read`, checks
    /// that every packed blob unpacks to its node's quantized weights, and writes it atomically (a temporary
    /// file renamed over `url`).
    public static func write(_ contents: ModelFileContents, to url: URL) throws {
        let bytes = try serialize(contents)
        do {
            try Data(bytes).write(to: url, options: .atomic)
        } catch {
            throw ModelFileError("cannot write \(url.path): \(errorReason(error))")
        }
    }

    /// The file's bytes (what `write` writes).
    public static func serialize(_ contents: ModelFileContents) throws -> [UInt8] {
        try contents.metadata.validate()
        var blobs = [String: PackedWeightsBlob]()
        for blob in contents.packedWeights {
            guard blobs.updateValue(blob, forKey: blob.node) == nil else {
                throw ModelFileError("two packed blobs were given for node '\(blob.node)'")
            }
        }
        var names = Set<String>()
        for node in contents.graph.nodes where node.op.quantizedWeights != nil {
            guard names.insert(node.name).inserted else {
                throw ModelFileError("two INT8 nodes are named '\(node.name)'; packed weights are found by node name, so INT8 node names must be unique")
            }
        }
        let (graphJSON, weights) = try encodeGraph(contents.graph, packed: blobs)
        let sections: [(String, [UInt8])] = [
            (Format.metaKind, Array(try JSONValue.encode(try contents.metadata.json()))),
            (Format.graphKind, Array(try JSONValue.encode(graphJSON))),
            (Format.weightsKind, weights),
        ]
        let bytes = assemble(sections)
        // Read back: whatever is written must read, and the blobs must hold the node's weights.
        let loaded: LoadedModelFile
        do {
            loaded = try bytes.withUnsafeBytes { try parse($0, storage: nil) }
        } catch let e as ModelFileError {
            throw ModelFileError("the model file would not read back: \(e.description)")
        }
        for (node, read) in zip(contents.graph.nodes, loaded.graph.nodes) {
            guard let original = node.op.quantizedWeights, let unpacked = read.op.quantizedWeights else { continue }
            if original.values != unpacked.values {
                let i = zip(original.values, unpacked.values).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? 0
                throw ModelFileError("node '\(node.name)': the packed blob does not hold the node's int8 weights (first difference at element \(i) in OIHW order); pack the node's own weights")
            }
            if original.bias != unpacked.bias {
                throw ModelFileError("node '\(node.name)': the packed blob's bias (with the input zero point unfolded) differs from the node's int32 bias; pack with the input's zero point")
            }
            if original.scales.map(\.bitPattern) != unpacked.scales.map(\.bitPattern) {
                throw ModelFileError("node '\(node.name)': the per-channel scales did not survive the round trip")
            }
        }
        return bytes
    }

    static func assemble(_ sections: [(kind: String, bytes: [UInt8])]) -> [UInt8] {
        let tableOffset = Format.headerSize
        var offset = Format.alignUp(tableOffset + sections.count * Format.entrySize)
        var placed = [(kind: String, offset: Int, bytes: [UInt8])]()
        for s in sections {
            placed.append((s.kind, offset, s.bytes))
            offset = Format.alignUp(offset + s.bytes.count)
        }
        let fileSize = placed.last.map { $0.offset + $0.bytes.count } ?? offset
        var file = [UInt8](repeating: 0, count: fileSize)
        file.replaceSubrange(0..<8, with: Format.magic)
        file.put16(Format.majorVersion, at: Format.HeaderField.major)
        file.put16(Format.minorVersion, at: Format.HeaderField.minor)
        file.put32(UInt32(Format.headerSize), at: Format.HeaderField.headerSize)
        file.put32(UInt32(sections.count), at: Format.HeaderField.sectionCount)
        file.put64(UInt64(tableOffset), at: Format.HeaderField.tableOffset)
        file.put64(UInt64(fileSize), at: Format.HeaderField.fileSize)
        file.put32(UInt32(Format.entrySize), at: Format.HeaderField.entrySize)
        for (i, s) in placed.enumerated() {
            let e = tableOffset + i * Format.entrySize
            file.replaceSubrange(e..<(e + s.kind.utf8.count), with: Array(s.kind.utf8))
            file.put64(UInt64(s.offset), at: e + 16)
            file.put64(UInt64(s.bytes.count), at: e + 24)
            file.put32(s.bytes.withUnsafeBytes { crc32($0) }, at: e + 32)
            file.put32(0, at: e + 36)
            file.replaceSubrange(s.offset..<(s.offset + s.bytes.count), with: s.bytes)
        }
        writeChecksums(&file, sectionCRCs: false)
        return file
    }

    /// Recomputes the table and header CRCs (and, with `sectionCRCs`, every section CRC whose entry is in
    /// bounds) in place. For the writer and for fuzzing; never traps on garbage.
    static func writeChecksums(_ file: inout [UInt8], sectionCRCs: Bool) {
        guard file.count >= Format.headerSize else { return }
        let (headerSize, count, tableOffset, entrySize) = file.withUnsafeBytes { b in
            (Int(b.u32(Format.HeaderField.headerSize)), Int(b.u32(Format.HeaderField.sectionCount)),
             b.u64(Format.HeaderField.tableOffset), Int(b.u32(Format.HeaderField.entrySize)))
        }
        if tableOffset <= UInt64(file.count), count <= Format.maxSections, entrySize >= 40, entrySize <= 4096,
           count * entrySize <= file.count - Int(tableOffset) {
            let table = Int(tableOffset)
            if sectionCRCs {
                for i in 0..<count {
                    let e = table + i * entrySize
                    let (o, l) = file.withUnsafeBytes { ($0.u64(e + 16), $0.u64(e + 24)) }
                    guard o <= UInt64(file.count), l <= UInt64(file.count) - o else { continue }
                    let crc = file.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[Int(o)..<Int(o + l)])) }
                    file.put32(crc, at: e + 32)
                }
            }
            let tableCRC = file.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[table..<(table + count * entrySize)])) }
            file.put32(tableCRC, at: Format.HeaderField.tableCRC)
        }
        if headerSize >= Format.headerSize, headerSize <= file.count {
            file.put32(0, at: Format.HeaderField.headerCRC)
            let crc = file.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[0..<headerSize])) }
            file.put32(crc, at: Format.HeaderField.headerCRC)
        }
    }

    /// For fuzzing and tests: recomputes every CRC of a (possibly damaged) file in place, so that reading it
    /// gets past the checksums to the structure and JSON checks. Never traps.
    public static func recomputeChecksums(_ file: inout [UInt8]) {
        writeChecksums(&file, sectionCRCs: true)
    }

    // MARK: Reading

    /// Maps the file and validates all of it before returning anything. Errors are one line starting with the path.
    public static func read(contentsOf url: URL) throws -> LoadedModelFile {
        let mapped = try MappedModelFile(path: url.path)
        do {
            return try parse(mapped.bytes, storage: mapped)
        } catch let e as ModelFileError {
            throw ModelFileError("\(url.path): \(e.description)")
        }
    }

    /// Validates a model file held in memory: the same code path as `read(contentsOf:)`, on an aligned copy.
    public static func read(bytes: UnsafeRawBufferPointer) throws -> LoadedModelFile {
        let copy = AlignedCopy(bytes)
        return try parse(copy.bytes, storage: copy)
    }

    public static func read(bytes: [UInt8]) throws -> LoadedModelFile {
        try bytes.withUnsafeBytes { try read(bytes: $0) }
    }

    /// True when the file starts with the model file magic (for choosing between the ONNX and .rem loaders).
    public static func looksLikeModelFile(_ url: URL) -> Bool {
        guard let file = ReadableFile(path: url.path), let head = try? file.read(upToCount: Format.magic.count) else { return false }
        return head == Format.magic
    }

    /// A report for `inspect`: format, sections with sizes and checksums, board, layout, provenance, graph summary.
    /// Throws (with the reason) if the file does not validate.
    public static func describe(_ url: URL) throws -> String {
        let f = try read(contentsOf: url)
        let m = f.metadata
        var lines = ["\(url.lastPathComponent): resnet-edge model file, format \(f.formatVersion.major).\(f.formatVersion.minor), \(f.fileSize) bytes, all checksums OK"]
        for s in f.sections {
            func pad(_ x: String, _ n: Int, left: Bool = false) -> String {
                let fill = String(repeating: " ", count: max(0, n - x.count))
                return left ? fill + x : x + fill
            }
            lines.append("  section \(pad(s.kind, 8)) offset \(pad(String(s.offset), 10, left: true))  \(pad(String(s.length), 10, left: true)) bytes  crc32 \(hex8(s.crc32))\(s.isOptional ? "  (optional)" : "")")
        }
        lines.append("  board \(m.board), kernels \(m.kernelLayout.isEmpty ? "(none: FP32)" : m.kernelLayout), written by resnet-edge \(m.toolVersion)")
        let int8 = f.graph.nodes.filter { $0.op.quantizedWeights != nil }.count
        lines.append("  graph: \(f.graph.nodes.count) nodes, \(f.graph.values.count) values, \(int8) INT8 nodes with packed weights")
        let layouts = Set(f.packed.values.map { v -> String in
            switch v.kind {
            case let .gemm(nr, kr, off, _, _, _, _, _): return "gemm nr\(nr) kr\(kr)\(off != 0 ? " offset \(off)" : "")"
            case let .depthwise(cr, _, _, _): return "dwconv cr\(cr)"
            }
        }).sorted()
        if !layouts.isEmpty { lines.append("  packed layouts: \(layouts.joined(separator: ", "))") }
        let p = m.preprocessing
        lines.append("  preprocessing: resize \(p.resize), crop \(p.cropHeight)x\(p.cropWidth), \(p.channels) channel(s)\(p.grayscale ? " gray" : ""), pad \(p.pad), mean \(p.mean), std \(p.std)")
        lines.append("  labels: \(m.labels.isEmpty ? "none" : "\(m.labels.count) (\(m.labels.prefix(3).joined(separator: ", "))\(m.labels.count > 3 ? ", ..." : ""))")")
        let prov = m.provenance
        lines.append("  source model: \(prov.sourceModelName.isEmpty ? "" : prov.sourceModelName + " ")sha256 \(prov.sourceModelSHA256)")
        if let c = prov.calibration { lines.append("  calibration: \(c.count) images, sha256 \(c.sha256)") }
        if !prov.settings.isEmpty {
            lines.append("  settings: " + prov.settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
        }
        if m.calibrationReport != nil { lines.append("  calibration report: present") }
        return lines.joined(separator: "\n")
    }

    // MARK: Validation

    /// What the first bytes of a non-model file look like.
    static func notAModelFile(_ file: UnsafeRawBufferPointer) -> ModelFileError {
        let head = Array(file.prefix(16))
        func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && Array(head[..<magic.count]) == magic }
        let what: String
        if starts([0x50, 0x4B, 0x03, 0x04]) { what = "a zip archive (a PyTorch .pt/.pth checkpoint?); export it to ONNX and package that" }
        else if starts([0xFF, 0xD8, 0xFF]) { what = "a JPEG image" }
        else if starts([0x89, 0x50, 0x4E, 0x47]) { what = "a PNG image" }
        else if starts([0x7F, 0x45, 0x4C, 0x46]) { what = "an ELF executable" }
        else if looksLikeONNX(head) { what = "an ONNX model; pass it as --model model.onnx (it is read as ONNX), or package it into a .rem file first" }
        else if head.first == UInt8(ascii: "{") { what = "a JSON document" }
        else { what = "unknown data (first bytes \(head.prefix(8).map { String(hex8(UInt32($0)).suffix(2)) }.joined(separator: " ")))" }
        return ModelFileError("not a resnet-edge model file (no RNEDGEM magic): this is \(what)")
    }

    /// An ONNX ModelProto starts with ir_version (field 1, varint: 0x08 n), then another known field.
    static func looksLikeONNX(_ head: [UInt8]) -> Bool {
        guard head.count >= 3, head[0] == 0x08, (1...20).contains(head[1]) else { return false }
        return [0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72].contains(head[2])
    }

    static func parse(_ file: UnsafeRawBufferPointer, storage: AnyObject?) throws -> LoadedModelFile {
        let size = file.count
        guard size > 0 else { throw ModelFileError("not a resnet-edge model file: the file is empty") }
        let magicPrefix = min(size, Format.magic.count)
        guard Array(file.prefix(magicPrefix)) == Array(Format.magic.prefix(magicPrefix)) else { throw notAModelFile(file) }
        guard size >= Format.headerSize else {
            throw ModelFileError("truncated: \(size) bytes, shorter than the \(Format.headerSize)-byte header")
        }
        let major = file.u16(Format.HeaderField.major), minor = file.u16(Format.HeaderField.minor)
        guard major == Format.majorVersion else {
            throw ModelFileError("format version \(major).\(minor) is not supported: this reader reads format \(Format.majorVersion).x (files from resnet-edge with format \(Format.majorVersion).0 to \(Format.majorVersion).\(Format.minorVersion) and newer minor versions); package the model again with this resnet-edge")
        }
        let headerSize = Int(file.u32(Format.HeaderField.headerSize))
        guard headerSize >= Format.headerSize, headerSize <= 4096, headerSize % 8 == 0 else {
            throw ModelFileError("header: header size \(headerSize) is not a multiple of 8 in [\(Format.headerSize), 4096]")
        }
        guard headerSize <= size else { throw ModelFileError("truncated: \(size) bytes, shorter than the \(headerSize)-byte header") }
        var header = [UInt8](UnsafeRawBufferPointer(rebasing: file[0..<headerSize]))
        header.put32(0, at: Format.HeaderField.headerCRC)
        let headerCRC = header.withUnsafeBytes { crc32($0) }
        guard headerCRC == file.u32(Format.HeaderField.headerCRC) else {
            throw ModelFileError("header: CRC32 mismatch (recorded \(hex8(file.u32(Format.HeaderField.headerCRC))), computed \(hex8(headerCRC))): the header is corrupt")
        }
        let recorded = file.u64(Format.HeaderField.fileSize)
        guard recorded <= UInt64(size) else {
            throw ModelFileError("truncated: the file is \(size) bytes, its header records \(recorded) (an interrupted copy or download?)")
        }
        guard recorded == UInt64(size) else {
            throw ModelFileError("trailing garbage: \(UInt64(size) - recorded) bytes after the recorded end of the file at \(recorded)")
        }
        if minor == 0 {
            guard file.allZero(Format.HeaderField.reserved..<Format.headerSize) else { throw ModelFileError("header: reserved bytes are not zero") }
        }
        let count = Int(file.u32(Format.HeaderField.sectionCount))
        let entrySize = Int(file.u32(Format.HeaderField.entrySize))
        let tableOffset64 = file.u64(Format.HeaderField.tableOffset)
        guard (1...Format.maxSections).contains(count) else {
            throw ModelFileError("header: section count \(count) is outside [1, \(Format.maxSections)]")
        }
        guard minor == 0 ? entrySize == Format.entrySize : (entrySize >= Format.entrySize && entrySize <= 4096 && entrySize % 8 == 0) else {
            throw ModelFileError("header: section table entry size \(entrySize), expected \(Format.entrySize)")
        }
        guard tableOffset64 >= UInt64(headerSize), tableOffset64 % 8 == 0, tableOffset64 <= UInt64(size),
              UInt64(count * entrySize) <= UInt64(size) - tableOffset64 else {
            throw ModelFileError("header: the section table (offset \(tableOffset64), \(count) entries of \(entrySize) bytes) lies outside the file (\(size) bytes) or overlaps the header")
        }
        let tableOffset = Int(tableOffset64)
        let tableEnd = tableOffset + count * entrySize
        let tableCRC = crc32(UnsafeRawBufferPointer(rebasing: file[tableOffset..<tableEnd]))
        guard tableCRC == file.u32(Format.HeaderField.tableCRC) else {
            throw ModelFileError("section table: CRC32 mismatch (recorded \(hex8(file.u32(Format.HeaderField.tableCRC))), computed \(hex8(tableCRC))): the table is corrupt")
        }

        var sections = [ModelFileSection]()
        for i in 0..<count {
            let e = tableOffset + i * entrySize
            let kindBytes = Array(UnsafeRawBufferPointer(rebasing: file[e..<(e + Format.kindLength)]))
            let nameBytes = kindBytes.prefix { $0 != 0 }
            guard !nameBytes.isEmpty, nameBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
                  kindBytes[nameBytes.count...].allSatisfy({ $0 == 0 }) else {
                throw ModelFileError("section table entry \(i): the kind is not NUL-padded printable ASCII")
            }
            let kind = String(decoding: nameBytes, as: UTF8.self)
            let offset = file.u64(e + 16), length = file.u64(e + 24)
            let flags = file.u32(e + 36)
            guard flags & ~Format.knownFlags == 0 else {
                throw ModelFileError("section '\(kind)': unknown flags \(hex8(flags))")
            }
            if minor == 0 { guard file.allZero((e + 40)..<(e + entrySize)) else { throw ModelFileError("section '\(kind)': reserved bytes of its table entry are not zero") } }
            guard offset <= UInt64(size), length <= UInt64(size) - offset else {
                throw ModelFileError("section '\(kind)': offset \(offset) + length \(length) is out of bounds (the file is \(size) bytes)")
            }
            guard offset % UInt64(Format.alignment) == 0 else {
                throw ModelFileError("section '\(kind)': offset \(offset) is misaligned (not a multiple of \(Format.alignment))")
            }
            guard !sections.contains(where: { $0.kind == kind }) else { throw ModelFileError("section '\(kind)' appears twice") }
            sections.append(ModelFileSection(kind: kind, offset: Int(offset), length: Int(length), crc32: file.u32(e + 32), flags: flags))
        }
        // Header, table and sections must not overlap; whatever lies between them is zero padding.
        var extents = [(name: String, start: Int, end: Int)]([("header", 0, headerSize), ("section table", tableOffset, tableEnd)])
        extents += sections.map { ("section '\($0.kind)'", $0.offset, $0.offset + $0.length) }
        extents.sort { ($0.start, $0.end) < ($1.start, $1.end) }
        var end = 0
        var last = "header"
        for x in extents {
            guard x.start >= end else { throw ModelFileError("\(x.name) overlaps \(last)") }
            guard file.allZero(end..<x.start) else { throw ModelFileError("the padding before \(x.name) (bytes \(end)..<\(x.start)) is not zero") }
            end = x.end
            last = x.name
        }
        guard end == size else {
            throw ModelFileError("the file ends at \(size), not where its last part (\(last)) ends at \(end): \(size - end) stray bytes")
        }
        for s in sections {
            let crc = crc32(UnsafeRawBufferPointer(rebasing: file[s.offset..<(s.offset + s.length)]))
            guard crc == s.crc32 else {
                throw ModelFileError("section '\(s.kind)': CRC32 mismatch (recorded \(hex8(s.crc32)), computed \(hex8(crc))): the section is corrupt")
            }
        }
        for kind in Format.requiredKinds where !sections.contains(where: { $0.kind == kind }) {
            throw ModelFileError("section '\(kind)' is missing")
        }
        if let unknown = sections.first(where: { !Format.requiredKinds.contains($0.kind) && !$0.isOptional }) {
            throw ModelFileError("unknown section '\(unknown.kind)' that is not marked optional: this reader reads format \(Format.majorVersion).\(Format.minorVersion); the file (\(major).\(minor)) needs a newer resnet-edge")
        }
        func bytes(_ kind: String) -> UnsafeRawBufferPointer {
            let s = sections.first { $0.kind == kind }!
            return UnsafeRawBufferPointer(rebasing: file[s.offset..<(s.offset + s.length)])
        }

        let metadata = try ModelMetadata.decode(try JSONValue.parse(bytes(Format.metaKind), section: Format.metaKind))
        var decoder = GraphDecoder(weights: bytes(Format.weightsKind))
        try decoder.decode(try JSONValue.parse(bytes(Format.graphKind), section: Format.graphKind))
        let graph = decoder.graph
        try checkModel(graph, metadata)
        var packed = [String: PackedWeightsView]()
        for view in decoder.packed.values { packed[view.node] = view }
        return LoadedModelFile(graph: graph, metadata: metadata, packed: packed, formatVersion: (Int(major), Int(minor)),
                               sections: sections, fileSize: size, storage: storage ?? AlignedCopy(UnsafeRawBufferPointer(start: nil, count: 0)))
    }

    /// Cross-checks the graph against the metadata: one image input whose declared shape the preprocessing
    /// produces, every node's shape inferable for one preprocessed image, and one label per class.
    static func checkModel(_ graph: Graph, _ metadata: ModelMetadata) throws {
        guard graph.inputs.count == 1, graph.outputs.count == 1 else {
            throw ModelFileError("section 'graph': a classifier has one input and one output; this graph has \(graph.inputs.count) and \(graph.outputs.count)")
        }
        let input = graph.values[graph.inputs[0]]
        let spec = metadata.preprocessing
        let expected = [1, spec.channels, spec.inputHeight, spec.inputWidth]
        guard let declared = input.declaredShape, declared.count == 4 else {
            throw ModelFileError("section 'graph': input '\(input.name)' must declare an image batch shape [N, C, H, W]")
        }
        for (axis, d) in declared.enumerated().dropFirst() {
            if case .fixed(let n) = d, n != expected[axis] {
                throw ModelFileError("the preprocessing makes \(spec.channels)x\(spec.inputHeight)x\(spec.inputWidth) images, the graph input '\(input.name)' is declared [\(declared.map(\.description).joined(separator: ", "))]")
            }
        }
        // Node by node, so that no shape grows past what a size computation can hold.
        var shapes = [Shape?](repeating: nil, count: graph.values.count)
        shapes[graph.inputs[0]] = Shape(expected)
        for node in graph.nodes {
            var distinct = [ValueID]()
            for id in node.inputs where !distinct.contains(id) { distinct.append(id) }
            var mini = Graph()
            for id in distinct {
                mini.values.append(Value(name: graph.values[id].name, declaredShape: shapes[id]!.dims.map { .fixed($0) }))
                mini.inputs.append(mini.values.count - 1)
            }
            mini.values.append(Value(name: graph.values[node.output].name))
            mini.nodes = [Node(name: node.name, op: node.op, inputs: node.inputs.map { distinct.firstIndex(of: $0)! }, output: distinct.count)]
            mini.outputs = [distinct.count]
            let shape: Shape
            do {
                shape = try mini.inferShapes(inputShapes: distinct.map { shapes[$0]! })[distinct.count]
            } catch let e as GraphError {
                throw ModelFileError("section 'graph': for a \(spec.channels)x\(spec.inputHeight)x\(spec.inputWidth) input: \(e.description)")
            }
            guard GraphDecoder.product(shape.dims) != nil else {
                throw ModelFileError("section 'graph': node '\(node.name)' (\(node.op.name)): output shape \(shape) is too large")
            }
            shapes[node.output] = shape
        }
        let out = shapes[graph.outputs[0]]!
        if !metadata.labels.isEmpty {
            guard out.rank == 2, out[0] == 1 else {
                throw ModelFileError("the metadata has \(metadata.labels.count) labels, but the output '\(graph.values[graph.outputs[0]].name)' is \(out), not [1, classes]")
            }
            guard out[1] == metadata.labels.count else {
                throw ModelFileError("the metadata has \(metadata.labels.count) labels for \(out[1]) classes (output '\(graph.values[graph.outputs[0]].name)' is \(out))")
            }
        }
    }
}

extension Operator {
    /// The INT8 weights of a convolution or fully connected node, if it has them.
    var quantizedWeights: QuantizedWeights? {
        switch self {
        case .convolution(let c): return c.quantized
        case .fullyConnected(let f): return f.quantized
        default: return nil
        }
    }
}

func hex8(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 8 - s.count)) + s
}
