import EdgeGraph
import EdgeImaging
import EdgeONNX
import EdgeRuntime
import Foundation
import TestSupport
import Testing
@testable import EdgeModelFile

func temporaryURL(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("modelfile-\(ProcessInfo.processInfo.processIdentifier)-\(name).rem")
}

/// Runs a graph on one deterministic input and returns the first output's values.
func runOnce(_ graph: Graph, shape: Shape, options: SessionOptions = SessionOptions(threads: 1)) throws -> [Float] {
    let session = try InferenceSession(graph: graph, options: options)
    var rng = TestRNG(99)
    let input = (0..<shape.elementCount).map { _ in rng.float(-2, 2) }
    return try session.run(input: input, shape: shape).values
}

@Suite("ModelFile round trips")
struct ModelFileRoundTripTests {
    @Test("every operator and attribute survives write and read; the read graph computes the same outputs")
    func everyOperator() throws {
        let g = everyOperatorGraph()
        let url = temporaryURL("every-op")
        defer { try? FileManager.default.removeItem(at: url) }
        let metadata = testMetadata(spec: smallSpec, labels: classLabels(5), board: "generic", layout: "", calibrated: false)
        try ModelFile.write(ModelFileContents(graph: g, metadata: metadata), to: url)
        #expect(ModelFile.looksLikeModelFile(url))
        let loaded = try ModelFile.read(contentsOf: url)
        #expect(firstDifference(g, loaded.graph) == nil)
        #expect(loaded.metadata == metadata)
        #expect(loaded.packed.isEmpty)
        let shape = Shape([1, 3, 8, 8])
        let a = try runOnce(g, shape: shape), b = try runOnce(loaded.graph, shape: shape)
        #expect(a.count == 5 && sameBits(a, b))
        // Deterministic: the same contents give the same bytes.
        #expect(try ModelFile.serialize(ModelFileContents(graph: g, metadata: metadata)) == Array(try Data(contentsOf: url)))
    }

    @Test("INT8 graphs: the blobs come back in place and unpack to the node's quantized weights",
          arguments: [(GemmLayout.all[0], 1), (GemmLayout.all[1], 16), (GemmLayout.all[2], 16), (GemmLayout.all[3], 8)])
    func int8(layout: GemmLayout, cr: Int) throws {
        let g = int8Graph(channels: 22)
        let blobs = packAll(g, layout: layout, cr: cr)
        #expect(blobs.count == 6)
        let metadata = testMetadata(spec: smallSpec, labels: classLabels(10))
        let url = temporaryURL("int8-\(layout.nr)-\(layout.kr)")
        defer { try? FileManager.default.removeItem(at: url) }
        try ModelFile.write(ModelFileContents(graph: g, metadata: metadata, packedWeights: blobs), to: url)
        let loaded = try ModelFile.read(contentsOf: url)
        #expect(firstDifference(g, loaded.graph) == nil)
        #expect(loaded.metadata == metadata)
        #expect(loaded.packed.count == blobs.count)
        for blob in blobs {
            let view = try #require(loaded.packed[blob.node])
            #expect(view.kind == blob.kind)
            #expect(Array(view.bytes) == blob.bytes)
            #expect(Int(bitPattern: view.bytes.baseAddress) % 64 == 0)
            #expect(loaded.graph.nodes[view.nodeIndex].name == blob.node)
        }
        // The same from memory.
        let fromMemory = try ModelFile.read(bytes: Array(try Data(contentsOf: url)))
        #expect(firstDifference(g, fromMemory.graph) == nil)
        // Dequantizing on demand gives the float weights the graph was built with.
        if case .convolution(let c) = g.nodes[0].op, case .convolution(let r) = loaded.graph.nodes[0].op {
            #expect(sameBits(r.quantized!.dequantized(), c.weights))
        }
    }

    @Test("the writer refuses blobs that do not match their nodes")
    func writerChecks() throws {
        let g = int8Graph()
        let metadata = testMetadata(spec: smallSpec, labels: classLabels(10))
        var blobs = packAll(g, layout: GemmLayout.all[1])
        func error(_ blobs: [PackedWeightsBlob], graph: Graph? = nil, metadata m: ModelMetadata? = nil) -> String {
            do { _ = try ModelFile.serialize(ModelFileContents(graph: graph ?? g, metadata: m ?? metadata, packedWeights: blobs)); return "no error" }
            catch { return "\(error)" }
        }
        #expect(error(Array(blobs.dropLast())).contains("node 'fc' (FullyConnected) has INT8 weights but no packed blob"))
        #expect(error(blobs + [blobs[0]]).contains("two packed blobs were given for node 'stem'"))
        #expect(error(blobs + [PackedWeightsBlob(node: "pool", kind: blobs[0].kind, bytes: blobs[0].bytes)]).contains("node 'pool', which has no INT8 weights"))
        // Another node's weights packed under this name: same geometry, different values.
        var swapped = blobs
        let other = int8Graph(seed: 99)
        swapped[1] = packAll(other, layout: GemmLayout.all[1])[1]
        let message = error(swapped)
        #expect(message.contains("conv3x3") && (message.contains("does not hold the node's int8 weights") || message.contains("requantization")), "\(message)")
        // The wrong input zero point folded into the bias.
        var g2 = g
        g2.values[g2.inputs[0]].quantization = QuantizationParameters(scale: 0.02, zeroPoint: 4)
        #expect(error(blobs, graph: g2).contains("folds input zero point -3, the input 'image' has 4"))
        var bad = metadata
        bad.provenance.sourceModelSHA256 = "xyz"
        #expect(error(blobs, metadata: bad).contains("sourceModelSHA256"))
        blobs[0].bytes.removeLast()
        #expect(error(blobs).contains("'stem' (Conv): 'packed' holds"))
    }

    // MARK: Real models

    static func importFixture(_ name: String) throws -> Graph {
        let url = TestPaths.fixtures.appendingPathComponent("models/\(name)")
        return try ONNXImporter.load(contentsOf: url).graph
    }

    @Test("FP32 fixtures: reference (Fashion-MNIST ResNet18) and MobileNetV2 read back identical and compute identical outputs",
          arguments: [("reference.onnx", PreprocessSpec.fashionMNIST, 10)] + (TestSubset.isActive ? [] : [("mobilenetv2.onnx", PreprocessSpec.imagenet(), 1000)]))
    func fp32Fixture(name: String, spec: PreprocessSpec, classes: Int) throws {
        let g = try Self.importFixture(name)
        let url = temporaryURL(name)
        defer { try? FileManager.default.removeItem(at: url) }
        let metadata = testMetadata(spec: spec, labels: classLabels(classes), board: "generic", layout: "", calibrated: false)
        try ModelFile.write(ModelFileContents(graph: g, metadata: metadata), to: url)
        let loaded = try ModelFile.read(contentsOf: url)
        #expect(firstDifference(g, loaded.graph) == nil)
        let shape = Shape([1, spec.channels, spec.inputHeight, spec.inputWidth])
        let a = try runOnce(g, shape: shape), b = try runOnce(loaded.graph, shape: shape)
        #expect(a.count == classes && sameBits(a, b))
        let text = try ModelFile.describe(url)
        #expect(text.contains("all checksums OK") && text.contains("section weights"))
    }

    @Test("resnet18-qdq-u8: packed for nr16/kr4 and nr8/kr8, the file is under 12 MB and unpacks to the imported int8 weights",
          arguments: TestSubset.isActive ? [GemmLayout.all[2]] : [GemmLayout.all[2], GemmLayout.all[1]])
    func resnet18INT8(layout: GemmLayout) throws {
        let g = try Self.importFixture("resnet18-qdq-u8.onnx")
        let blobs = packAll(g, layout: layout)
        #expect(blobs.count == 21)
        let url = temporaryURL("resnet18-int8-\(layout.nr)-\(layout.kr)")
        defer { try? FileManager.default.removeItem(at: url) }
        let metadata = testMetadata(spec: .imagenet(), labels: classLabels(1000))
        try ModelFile.write(ModelFileContents(graph: g, metadata: metadata, packedWeights: blobs), to: url)
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
        print("resnet18-qdq-u8 packed \(layout): \(size) bytes")
        #expect(size <= 12_000_000)
        let loaded = try ModelFile.read(contentsOf: url)
        #expect(firstDifference(g, loaded.graph) == nil)
        #expect(loaded.packed.count == 21)
        // With every quantized node on the INT8 path, the runtime packs from the unpacked weights and
        // never touches the (empty) float weights: the outputs are those of the original graph.
        // (On the host only: under emulation two 224x224 runs cost minutes, and the weights are compared above.)
        if TestSubset.isActive { return }
        let shape = Shape([1, 3, 224, 224])
        let options = SessionOptions(threads: 2, kernels: .scalar)
        let session = try InferenceSession(graph: loaded.graph, options: options)
        #expect(session.nodeExecutions.allSatisfy { $0.precision == .int8 || !["Conv", "FullyConnected"].contains($0.op) })
        let a = try runOnce(g, shape: shape, options: options), b = try runOnce(loaded.graph, shape: shape, options: options)
        #expect(a.count == 1000 && sameBits(a, b))
        print(try ModelFile.describe(url))
    }
}
