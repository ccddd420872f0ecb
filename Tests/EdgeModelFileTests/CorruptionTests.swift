import EdgeGraph
import Foundation
import TestSupport
import Testing
@testable import EdgeModelFile

/// The reader's verdict on some bytes: nil if they read, else the error message.
func readError(_ bytes: [UInt8]) -> String? {
    do {
        _ = try ModelFile.read(bytes: bytes)
        return nil
    } catch let e as ModelFileError {
        return e.description
    } catch {
        return "NOT A ModelFileError: \(error)"
    }
}

/// A path step into JSON: an object key or an array index.
enum Step: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case key(String), index(Int)
    init(stringLiteral s: String) { self = .key(s) }
    init(integerLiteral i: Int) { self = .index(i) }
}

func edit(_ v: inout JSONValue, _ path: [Step], _ f: (inout JSONValue) -> Void) {
    guard let first = path.first else { f(&v); return }
    switch (first, v) {
    case (.key(let k), .object(var o)):
        var child = o[k] ?? .null
        edit(&child, Array(path.dropFirst()), f)
        o[k] = child
        v = .object(o)
    case (.index(let i), .array(var a)):
        edit(&a[i], Array(path.dropFirst()), f)
        v = .array(a)
    default: fatalError("bad path")
    }
}

func set(_ v: inout JSONValue, _ path: [Step], _ value: JSONValue?) {
    let parent = Array(path.dropLast())
    guard case .key(let k)? = path.last else {
        edit(&v, path) { $0 = value ?? .null }
        return
    }
    edit(&v, parent) { p in
        guard case .object(var o) = p else { fatalError("not an object") }
        o[k] = value
        p = .object(o)
    }
}

func lookup(_ v: JSONValue, _ path: [Step]) -> JSONValue {
    var cur = v
    for s in path {
        switch (s, cur) {
        case (.key(let k), .object(let o)): cur = o[k] ?? .null
        case (.index(let i), .array(let a)): cur = a[i]
        default: return .null
        }
    }
    return cur
}

/// A valid file taken apart into its sections, to be edited and put together again (with valid checksums).
struct FileParts {
    var sections: [(kind: String, bytes: [UInt8])]

    init(_ file: [UInt8]) throws {
        let loaded = try ModelFile.read(bytes: file)
        sections = loaded.sections.map { s in (s.kind, Array(file[s.offset..<(s.offset + s.length)])) }
    }

    func json(_ kind: String) throws -> JSONValue {
        try sections.first { $0.kind == kind }!.bytes.withUnsafeBytes { try JSONValue.parse($0, section: kind) }
    }

    mutating func setJSON(_ kind: String, _ value: JSONValue) throws {
        let i = sections.firstIndex { $0.kind == kind }!
        sections[i].bytes = Array(try JSONValue.encode(value))
    }

    mutating func editJSON(_ kind: String, _ f: (inout JSONValue) -> Void) throws {
        var v = try json(kind)
        f(&v)
        try setJSON(kind, v)
    }

    var file: [UInt8] { ModelFile.assemble(sections) }
}

@Suite("ModelFile corruption")
struct ModelFileCorruptionTests {
    static let valid: [UInt8] = try! smallINT8File()

    @Test("the small file is valid")
    func valid() throws {
        #expect(readError(Self.valid) == nil)
        #expect(Self.valid.count < 64 * 1024)
    }

    @Test("truncation at every length is reported as truncated")
    func truncation() {
        let file = Self.valid
        for length in 0..<file.count {
            let message = readError(Array(file[0..<length])) ?? "read"
            let ok = length == 0 ? message.contains("empty") : message.contains("truncated")
            if !ok { Issue.record("length \(length): \(message)"); return }
        }
    }

    @Test("trailing garbage")
    func trailing() {
        #expect(readError(Self.valid + [0]).map { $0.contains("trailing garbage: 1 bytes after the recorded end") } == true)
        #expect(readError(Self.valid + Array(repeating: 0xFF, count: 4096))?.contains("trailing garbage") == true)
    }

    @Test("a changed byte anywhere is found: header, table, padding or the section that holds it")
    func everyByte() throws {
        let file = Self.valid
        let loaded = try ModelFile.read(bytes: file)
        let tableEnd = 64 + loaded.sections.count * 48
        for offset in 0..<file.count {
            var damaged = file
            damaged[offset] ^= 0x10
            guard let message = readError(damaged) else { Issue.record("byte \(offset) changed and the file still reads"); return }
            let expected: [String]
            if offset < 64 {
                expected = ["header", "not a resnet-edge model file", "format version"]
            } else if offset < tableEnd {
                expected = ["section table: CRC32 mismatch"]
            } else if let s = loaded.sections.first(where: { $0.offset <= offset && offset < $0.offset + $0.length }) {
                expected = ["section '\(s.kind)': CRC32 mismatch"]
            } else {
                expected = ["padding", "is not zero"]
            }
            if !expected.contains(where: { message.contains($0) }) { Issue.record("byte \(offset): \(message)"); return }
        }
    }

    @Test("changed bytes with the checksums made valid again: an error or a model, never a crash")
    func deepDamage() throws {
        let file = Self.valid
        var reads = 0, errors = 0
        var rng = TestRNG(5)
        // Under emulation (RESNET_EDGE_TEST_SUBSET) every 61st byte: the same checks on fewer inputs.
        for offset in stride(from: 64, to: file.count, by: TestSubset.isActive ? 61 : 7) {
            var damaged = file
            damaged[offset] = UInt8(truncatingIfNeeded: rng.next())
            ModelFile.recomputeChecksums(&damaged)
            if let message = readError(damaged) {
                errors += 1
                #expect(!message.contains("NOT A ModelFileError") && !message.contains("\n"), "\(message)")
            } else {
                reads += 1
            }
        }
        #expect(errors > 0)
    }

    @Test("a file that is not a model file says what it is")
    func notAModelFile() throws {
        let onnx = TestPaths.fixtures.appendingPathComponent("models/reference.onnx")
        do {
            _ = try ModelFile.read(contentsOf: onnx)
            Issue.record("read an ONNX file")
        } catch let e as ModelFileError {
            #expect(e.description.contains("this is an ONNX model; pass it as --model"), "\(e)")
            #expect(e.description.hasPrefix(onnx.path))
        }
        #expect(!ModelFile.looksLikeModelFile(onnx))
        #expect(readError(Array("{\"a\": 1}".utf8))?.contains("a JSON document") == true)
        #expect(readError([0xFF, 0xD8, 0xFF, 0xE0])?.contains("a JPEG image") == true)
        #expect(readError([1, 2, 3])?.contains("not a resnet-edge model file") == true)
        #expect(readError([])?.contains("empty") == true)
        do {
            _ = try ModelFile.read(contentsOf: URL(fileURLWithPath: "/nonexistent/model.rem"))
        } catch {
            #expect("\(error)".contains("cannot open /nonexistent/model.rem: No such file or directory"))
        }
    }

    /// The file with header fields changed and the header CRC made valid again.
    func withHeader(_ f: (inout [UInt8]) -> Void) -> [UInt8] {
        var file = Self.valid
        f(&file)
        ModelFile.writeChecksums(&file, sectionCRCs: false)
        return file
    }

    /// The file with section table entry `i` changed (table and header CRCs made valid again).
    func withEntry(_ i: Int, _ f: (inout [UInt8], Int) -> Void) -> [UInt8] {
        withHeader { f(&$0, 64 + i * 48) }
    }

    @Test("header and section table damage")
    func structure() throws {
        func expect(_ file: [UInt8], _ words: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let message = readError(file) ?? "read"
            #expect(message.contains(words), "\(message)", sourceLocation: sourceLocation)
        }
        expect(withHeader { $0.put16(2, at: 8) }, "format version 2.0 is not supported: this reader reads format 1.x")
        expect(withHeader { $0.put16(0, at: 8) }, "format version 0.0 is not supported")
        var crc = Self.valid
        crc[50] = 1
        expect(crc, "header: CRC32 mismatch")
        expect(withHeader { $0[50] = 1 }, "header: reserved bytes are not zero")
        expect(withHeader { $0.put64(UInt64(Self.valid.count + 64), at: 32) }, "truncated: the file is \(Self.valid.count) bytes, its header records")
        expect(withHeader { $0.put64(UInt64(Self.valid.count - 64), at: 32) }, "trailing garbage")
        expect(withHeader { $0.put32(0, at: 20) }, "section count 0")
        expect(withHeader { $0.put32(2, at: 20) }, "the padding before section 'meta' (bytes 160..<256) is not zero")
        var parts = try FileParts(Self.valid)
        parts.sections.removeLast()
        expect(parts.file, "section 'weights' is missing")
        expect(withHeader { $0.put64(1 << 40, at: 24) }, "the section table (offset 1099511627776")
        expect(withHeader { $0.put32(40, at: 40) }, "entry size 40")
        // Sections: bounds, alignment, overlap, duplicates, missing, unknown, flags.
        expect(withEntry(2) { $0.put64(1 << 62, at: $1 + 24) }, "section 'weights': offset")
        expect(withEntry(2) { $0.put64(1 << 62, at: $1 + 24) }, "out of bounds")
        expect(withEntry(2) { f, e in f.put64(UInt64(Self.valid.count + 64), at: e + 16) }, "out of bounds")
        expect(withEntry(1) { f, e in f.put64(f.withUnsafeBytes { $0.u64(e + 16) } + 8, at: e + 16) }, "section 'graph': offset")
        expect(withEntry(1) { f, e in f.put64(f.withUnsafeBytes { $0.u64(e + 16) } + 8, at: e + 16) }, "misaligned")
        expect(withEntry(1) { f, e in f.put64(256, at: e + 16) }, "overlaps section 'meta'")
        expect(withEntry(1) { f, e in f.replaceSubrange(e..<(e + 16), with: Array("meta".utf8) + [UInt8](repeating: 0, count: 12)) }, "section 'meta' appears twice")
        expect(withEntry(1) { f, e in f.replaceSubrange(e..<(e + 16), with: Array("graph2".utf8) + [UInt8](repeating: 0, count: 10)) }, "section 'graph' is missing")
        expect(withEntry(1) { f, e in f[e] = 0x07 }, "entry 1: the kind is not NUL-padded printable ASCII")
        expect(withEntry(0) { f, e in f.put32(2, at: e + 36) }, "section 'meta': unknown flags 00000002")
        expect(withEntry(0) { f, e in f.put32(0, at: e + 32) }, "section 'meta': CRC32 mismatch")
        expect(withEntry(2) { f, e in f.put64(f.withUnsafeBytes { $0.u64(e + 24) } - 64, at: e + 24) }, "stray bytes")
    }

    @Test("unknown sections: optional ones are skipped, others refused")
    func unknownSections() throws {
        var parts = try FileParts(Self.valid)
        parts.sections.append(("extra", Array("hello".utf8)))
        #expect(readError(parts.file)?.contains("unknown section 'extra' that is not marked optional") == true)
        var file = parts.file
        file.put32(1, at: 64 + 3 * 48 + 36)
        ModelFile.writeChecksums(&file, sectionCRCs: false)
        let loaded = try ModelFile.read(bytes: file)
        #expect(loaded.sections.count == 4 && loaded.sections[3].isOptional)
    }

    @Test("malformed JSON names the section and the path")
    func malformedJSON() throws {
        func expect(_ kind: String, _ words: [String], sourceLocation: SourceLocation = #_sourceLocation, _ f: (inout JSONValue) -> Void) throws {
            var parts = try FileParts(Self.valid)
            try parts.editJSON(kind, f)
            let message = readError(parts.file) ?? "read"
            #expect(words.allSatisfy { message.contains($0) }, "\(message)", sourceLocation: sourceLocation)
        }
        var parts = try FileParts(Self.valid)
        parts.sections[1].bytes = Array("{\"values\": [".utf8)
        #expect(readError(parts.file)?.contains("malformed JSON in section 'graph'") == true)
        parts.sections[1].bytes = Array(String(repeating: "[", count: 100_000).utf8)
        #expect(readError(parts.file)?.contains("nested deeper than 64 levels") == true)
        parts.sections[1].bytes = [0x7B, 0xFF, 0x7D]
        #expect(readError(parts.file)?.contains("not valid UTF-8") == true)
        parts.sections[1].bytes = Array("[1, 2]".utf8)
        #expect(readError(parts.file)?.contains("malformed section 'graph': top level: expected an object, found an array") == true)

        try expect("graph", ["section 'graph'", "nodes[1].window.stride: expected 2 integers, found 3"]) { set(&$0, ["nodes", 1, "window", "stride"], .array([.int(1), .int(1), .int(1)])) }
        try expect("graph", ["nodes[0].groups: expected an integer, found a string"]) { set(&$0, ["nodes", 0, "groups"], .string("one")) }
        try expect("graph", ["nodes[0].window.kernel[0]: 0 is outside [1, 4096]"]) { set(&$0, ["nodes", 0, "window", "kernel", 0], .int(0)) }
        try expect("graph", ["nodes[0].activation.kind: unknown activation 'gelu'"]) { set(&$0, ["nodes", 0, "activation", "kind"], .string("gelu")) }
        try expect("graph", ["nodes[0].window.padding: unknown padding 'valid'"]) { set(&$0, ["nodes", 0, "window", "padding"], .string("valid")) }
        try expect("graph", ["nodes[0].dilation: unknown key"]) { set(&$0, ["nodes", 0, "dilation"], .int(2)) }
        try expect("graph", ["nodes[0].name: missing"]) { set(&$0, ["nodes", 0, "name"], nil) }
        try expect("meta", ["section 'meta'", "labels[3]: expected a string, found a number"]) { set(&$0, ["labels", 3], .int(3)) }
        try expect("meta", ["section 'meta'", "preprocessing", "std"]) { set(&$0, ["preprocessing", "std"], .array([.int(0)])) }
        try expect("meta", ["section 'meta'", "toolVersion: missing"]) { set(&$0, ["toolVersion"], nil) }
        try expect("meta", ["sourceModelSHA256 'abc' is not 64 lowercase hex digits"]) { set(&$0, ["provenance", "sourceModelSHA256"], .string("abc")) }
        try expect("meta", ["board id"]) { set(&$0, ["board"], .string("rpi 4")) }
    }

    @Test("graph contents: references, byte counts, quantization, packed geometry, labels, op types")
    func graphContents() throws {
        func expect(_ words: [String], sourceLocation: SourceLocation = #_sourceLocation, _ f: (inout JSONValue) -> Void) throws {
            var parts = try FileParts(Self.valid)
            try parts.editJSON("graph", f)
            let message = readError(parts.file) ?? "read"
            #expect(words.allSatisfy { message.contains($0) }, "\(message)", sourceLocation: sourceLocation)
        }
        let graph = try FileParts(Self.valid).json("graph")
        // nodes: 0 stem, 1 pool, 2 conv3x3, 3 pointwise, 4 depthwise, 5 grouped, 6 gap, 7 flatten, 8 fc
        try expect(["nodes[1].inputs[0]: 999 is outside"]) { set(&$0, ["nodes", 1, "inputs", 0], .int(999)) }
        try expect(["nodes[1].output: -1 is outside"]) { set(&$0, ["nodes", 1, "output"], .int(-1)) }
        try expect(["outputs[0]", "outside"]) { set(&$0, ["outputs", 0], .int(12345)) }
        try expect(["node 'conv3x3' (Conv) reads 'grouped.out' before anything produces it"]) { set(&$0, ["nodes", 2, "inputs", 0], lookup(graph, ["nodes", 5, "output"])) }
        try expect(["unknown op type 'Softmax' in node 'pool'"]) { set(&$0, ["nodes", 1, "op"], .string("Softmax")) }
        try expect(["Add node 'pool' takes 2 input(s), not 1"]) { set(&$0, ["nodes", 1, "op"], .string("Add")); set(&$0, ["nodes", 1, "activation"], .object(["kind": .string("none")])) }
        // Weight references.
        let biasOffset = lookup(graph, ["nodes", 2, "bias", "offset"])
        guard case .int(let offset) = biasOffset else { Issue.record("no bias offset"); return }
        try expect(["node 'conv3x3' (Conv): 'bias' starts at offset \(offset + 4) of the weights section, not a multiple of 64"]) { set(&$0, ["nodes", 2, "bias", "offset"], .int(offset + 4)) }
        try expect(["node 'conv3x3' (Conv): 'bias'", "lies outside the weights section"]) { set(&$0, ["nodes", 2, "bias", "offset"], .int(1 << 30)) }
        try expect(["node 'conv3x3' (Conv): 'bias' holds 88 bytes; 23 output channels (23 float32) needs 92"]) { set(&$0, ["nodes", 2, "bias", "length"], .int(88)) }
        try expect(["nodes[2].bias.dtype: 'int8' where float32 is expected"]) { set(&$0, ["nodes", 2, "bias", "dtype"], .string("int8")) }
        try expect(["node 'conv3x3' (Conv): 'bias' holds 92 bytes; 24 output channels"]) {
            set(&$0, ["nodes", 2, "outputChannels"], .int(24)); set(&$0, ["nodes", 2, "bias", "length"], .int(92))
        }
        // Packed blob geometry.
        try expect(["node 'conv3x3' (Conv): the packed blob's geometry (gemm nr16 kr4 groups 1 nc 22 ks 9 kc 20", "does not fit the node"]) { set(&$0, ["nodes", 2, "quantized", "packed", "layout", "nc"], .int(22)) }
        try expect(["node 'conv3x3' (Conv): 'packed' holds", "the packed geometry (gemm nr8 kr4"]) { set(&$0, ["nodes", 2, "quantized", "packed", "layout", "nr"], .int(8)) }
        try expect(["node 'conv3x3' (Conv): the packed blob folds input zero point 3, the input 'pool.out' has -128"]) { set(&$0, ["nodes", 2, "quantized", "packed", "layout", "inputZeroPoint"], .int(3)) }
        try expect(["node 'fc' (FullyConnected): has both float weights and INT8 weights"]) { set(&$0, ["nodes", 8, "weights"], lookup(graph, ["nodes", 8, "bias"])) }
        try expect(["node 'fc' (FullyConnected): output channel 0: the packed requantization"]) { set(&$0, ["values", 9, "quantization", "scale"], .double(0.2)) }
        try expect(["node 'depthwise' (Conv): the packed blob's geometry (depthwise cr16 channels 20 ks 9", "does not fit"]) { set(&$0, ["nodes", 4, "groups"], .int(1)); set(&$0, ["nodes", 4, "inputChannelsPerGroup"], .int(20)) }
        // Quantization parameters.
        try expect(["values[1].quantization.scale: quantization scale -0.5 of value 'stem.out' must be positive"]) { set(&$0, ["values", 1, "quantization", "scale"], .double(-0.5)) }
        try expect(["values[1].quantization.scale: expected a finite number, found \"inf\""]) { set(&$0, ["values", 1, "quantization", "scale"], .string("inf")) }
        try expect(["values[1].quantization.zeroPoint: 200 is outside [-128, 127]"]) { set(&$0, ["values", 1, "quantization", "zeroPoint"], .int(200)) }
    }

    @Test("weights values, metadata against the graph, FP32 byte counts")
    func contentsAndMetadata() throws {
        // A negative weight scale in the weights section.
        var parts = try FileParts(Self.valid)
        let graph = try parts.json("graph")
        guard case .int(let scalesOffset) = lookup(graph, ["nodes", 8, "quantized", "scales", "offset"]) else { Issue.record("no scales"); return }
        let w = parts.sections.firstIndex { $0.kind == "weights" }!
        parts.sections[w].bytes.put32(Float(-1).bitPattern, at: scalesOffset + 8)
        #expect(readError(parts.file)?.contains("node 'fc' (FullyConnected): scales[2] is -1.0; scales must be positive and finite") == true)
        parts.sections[w].bytes.put32(Float.nan.bitPattern, at: scalesOffset + 8)
        #expect(readError(parts.file)?.contains("scales[2] is nan") == true)
        // Labels and classes, preprocessing and the input.
        parts = try FileParts(Self.valid)
        try parts.editJSON("meta") { set(&$0, ["labels"], .array([.string("a"), .string("b")])) }
        #expect(readError(parts.file)?.contains("the metadata has 2 labels for 10 classes (output 'logits' is [1, 10])") == true)
        parts = try FileParts(Self.valid)
        try parts.editJSON("meta") { set(&$0, ["preprocessing", "crop"], .array([.int(16), .int(16)])) }
        #expect(readError(parts.file)?.contains("the preprocessing makes 3x16x16 images, the graph input 'image' is declared [batch, 3, 8, 8]") == true)
        parts = try FileParts(Self.valid)
        try parts.editJSON("graph") { set(&$0, ["values", 0, "shape", 3], .string("W")); set(&$0, ["values", 0, "shape", 2], .string("H")) }
        try parts.editJSON("meta") { set(&$0, ["preprocessing", "crop"], .array([.int(1), .int(1)])) }
        #expect(readError(parts.file)?.contains("for a 3x1x1 input: node 'pool' (MaxPool): input [1, 20, 1, 1] is smaller than the window") == true)
        parts = try FileParts(Self.valid)
        try parts.editJSON("graph") { set(&$0, ["outputs"], .array([.int(9), .int(8)])) }
        #expect(readError(parts.file)?.contains("a classifier has one input and one output; this graph has 1 and 2") == true)

        // FP32: float weights must have the byte count of the node's shape, and be finite.
        let g = everyOperatorGraph()
        let fp32 = try ModelFile.serialize(ModelFileContents(graph: g, metadata: testMetadata(spec: smallSpec, labels: classLabels(5), calibrated: false)))
        parts = try FileParts(fp32)
        try parts.editJSON("graph") { set(&$0, ["nodes", 0, "outputChannels"], .int(7)) }
        #expect(readError(parts.file)?.contains("node 'conv1' (Conv): 'bias' holds 32 bytes; 7 output channels (7 float32) needs 28") == true)
        parts = try FileParts(fp32)
        try parts.editJSON("graph") { set(&$0, ["nodes", 0, "inputChannelsPerGroup"], .int(2)) }
        #expect(readError(parts.file)?.contains("node 'conv1' (Conv): 'weights' holds 864 bytes; [8, 2, 3, 3] (144 float32) needs 576") == true)
        parts = try FileParts(fp32)
        try parts.editJSON("graph") { set(&$0, ["nodes", 3, "shift", "length"], .int(28)) }
        #expect(readError(parts.file)?.contains("node 'affine' (ChannelAffine): 'shift' holds 28 bytes; 8 channels (as many as 'scale') (8 float32) needs 32") == true)
        let fp32Graph = try parts.json("graph")
        guard case .int(let weightsOffset) = lookup(fp32Graph, ["nodes", 0, "weights", "offset"]) else { Issue.record("no weights"); return }
        parts = try FileParts(fp32)
        let fw = parts.sections.firstIndex { $0.kind == "weights" }!
        parts.sections[fw].bytes.put32(Float.infinity.bitPattern, at: weightsOffset + 4 * 5)
        #expect(readError(parts.file)?.contains("node 'conv1' (Conv): weights[5] is inf; weights must be finite") == true)
        parts = try FileParts(fp32)
        try parts.editJSON("graph") { set(&$0, ["nodes", 4, "activation", "min"], .int(3)); set(&$0, ["nodes", 4, "activation", "max"], .int(1)) }
        #expect(readError(parts.file)?.contains("nodes[4].activation.min: clip bounds [3.0, 1.0] are empty") == true)
        parts = try FileParts(fp32)
        try parts.editJSON("graph") { set(&$0, ["nodes", 11, "shape"], .array([.int(7), .int(-1)])) }
        #expect(readError(parts.file)?.contains("node 'reshape' (Reshape): cannot reshape [1, 8] to [7, -1]") == true)
    }

    @Test("the board check says where the file belongs")
    func board() throws {
        try ModelFileBoardCheck.check(fileBoard: "rpi4", runningBoard: "rpi4")
        try ModelFileBoardCheck.check(fileBoard: "generic", runningBoard: nil)
        #expect(throws: ModelFileError("the model file was made for rpi4 (neondot kernels), this machine is rpi5; calibrate the model again with --board rpi5 (or --board generic)")) {
            try ModelFileBoardCheck.check(fileBoard: "rpi4", runningBoard: "rpi5", kernelLayout: "neondot")
        }
        #expect(throws: ModelFileError("the model file was made for rpi4, this machine matches no known board; calibrate the model again with --board auto (or --board generic)")) {
            try ModelFileBoardCheck.check(fileBoard: "rpi4", runningBoard: nil)
        }
        #expect(throws: ModelFileError("the model file was made for rpi4 (neon kernels), this machine is rpi5; make one for it with: resnet-edge calibrate --model r18.onnx --images photos --board rpi5 --out r18-rpi5.rem")) {
            try ModelFileBoardCheck.check(fileBoard: "rpi4", runningBoard: "rpi5", kernelLayout: "neon",
                                          remake: "resnet-edge calibrate --model r18.onnx --images photos --board rpi5 --out r18-rpi5.rem")
        }
    }

    @Test("the refusal's calibrate command repeats the file's source, data and non-default settings")
    func calibrateCommand() throws {
        func metadata(_ settings: [String: String], source: String = "resnet18.onnx") -> ModelMetadata {
            ModelMetadata(toolVersion: "0.1.0", board: "rpi4", kernelLayout: "neon", preprocessing: .imagenet(), labels: [],
                          provenance: ModelProvenance(sourceModelSHA256: "00", sourceModelName: source, settings: settings))
        }
        let defaults = ["observer": "mse", "bias_correction": "true", "equalization": "false", "per_channel_weights": "true",
                        "budget": "none", "source": "/data/photos", "source_kind": "images", "limit": "1000", "split": "train",
                        "percentile": "99.99", "evaluation_images": "200"]
        #expect(metadata(defaults).calibrateCommand(forBoard: "rpi5", modelPath: "models/r18-rpi4.rem")
                == "resnet-edge calibrate --model resnet18.onnx --images /data/photos --board rpi5 --out models/r18-rpi5.rem")
        var other = defaults
        other["observer"] = "percentile"; other["percentile"] = "99.9"; other["budget"] = "0.5"; other["equalization"] = "true"
        other["source_kind"] = "dataset"; other["source"] = "/usr/share/datasets/fashion mnist"; other["limit"] = "300"
        #expect(metadata(other, source: "my model.onnx").calibrateCommand(forBoard: "jetson-nano", modelPath: "/opt/m.rem")
                == "resnet-edge calibrate --model 'my model.onnx' --dataset '/usr/share/datasets/fashion mnist' --board jetson-nano --observer percentile --percentile 99.9 --budget 0.5 --equalize --limit 300 --out /opt/m-jetson-nano.rem")
        // Files written before the settings recorded the data's kind still get a command, with the path as --images.
        #expect(metadata(["source": "imgs"]).calibrateCommand(forBoard: "rpi5", modelPath: "x.rem")
                == "resnet-edge calibrate --model resnet18.onnx --images imgs --board rpi5 --out x-rpi5.rem")
    }
}

