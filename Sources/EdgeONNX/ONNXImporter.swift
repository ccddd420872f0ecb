#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeGraph
import ONNXProtobuf
import SwiftProtobuf

/// A model imported from ONNX.
public struct ImportedModel: Sendable {
    public var graph: Graph
    public var irVersion: Int
    /// The default-domain (ai.onnx) operator set version.
    public var opsetVersion: Int
    public var producer: String
    /// The model's `metadata_props` (e.g. a labels list or preprocessing spec a tool put there).
    public var metadata: [String: String]
    /// Every BatchNormalization that stayed a float ChannelAffine in the graph (one not directly after a float
    /// convolution) and whether it was then folded into a quantized convolution
    /// (`Graph.foldQuantizedChannelAffines`); empty when there was none or the import did not fold.
    public var affineFolds: [ChannelAffineFold] = []
}

/// Reads ONNX models (the protobuf from `torch.onnx.export` and friends) into the graph IR.
///
/// At import: BatchNormalization following a convolution is folded into its weights, ReLU and Clip are
/// fused into their producer, Identity/Dropout disappear, Gemm/MatMul with constant weights become
/// fully connected layers, and Constant nodes and initializers are consumed by the operators that need them.
/// In a QDQ model, a BatchNormalization between the DequantizeLinear of a quantized convolution's output and
/// the next QuantizeLinear (what `quantize_static` writes without its pre-processing) is folded into that
/// convolution's int8 weights and per-channel requantization (`Graph.foldQuantizedChannelAffines`), unless
/// `foldQuantizedAffines` is false.
public enum ONNXImporter {
    /// The operators this importer lowers, for error messages.
    public static let supportedOperators = [
        "Add", "AveragePool", "BatchNormalization", "Clip", "Constant", "Conv", "DequantizeLinear", "Dropout", "Flatten",
        "Gemm", "GlobalAveragePool", "Identity", "MatMul", "MaxPool", "QuantizeLinear", "Relu", "Reshape",
    ]

    public static func load(contentsOf url: URL, foldQuantizedAffines: Bool = true) throws -> ImportedModel {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw ONNXImportError("cannot read \(url.path): \(FileManager.default.fileExists(atPath: url.path) ? "permission denied or not a regular file" : "no such file")")
        }
        return try load(data: data, foldQuantizedAffines: foldQuantizedAffines)
    }

    public static func load(data: Data, foldQuantizedAffines: Bool = true) throws -> ImportedModel {
        guard !data.isEmpty else { throw ONNXImportError("not an ONNX model: the file is empty") }
        if let kind = knownForeignFormat(data) {
            throw ONNXImportError("not an ONNX model: this looks like \(kind)")
        }
        let proto: Onnx_ModelProto
        do {
            proto = try Onnx_ModelProto(serializedBytes: data)
        } catch {
            throw ONNXImportError("not an ONNX model or truncated: the protobuf does not decode (\(describe(error)))")
        }
        guard proto.hasIrVersion, proto.irVersion > 0, proto.hasGraph else {
            throw ONNXImportError("not an ONNX model: no IR version or no graph in the protobuf")
        }
        let defaultOpset = proto.opsetImport.first(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" })
        let opset = defaultOpset.map { Int($0.version) } ?? (proto.opsetImport.isEmpty ? 1 : 0)
        guard opset >= 7 else {
            throw ONNXImportError("the model imports ai.onnx opset \(opset); resnet-edge needs opset 7 or later (re-export with opset_version=17)")
        }
        var builder = GraphBuilder(opset: opset)
        var graph = try builder.build(proto.graph)
        var folds: [ChannelAffineFold] = []
        if foldQuantizedAffines {
            folds = graph.foldQuantizedChannelAffines()
            try graph.validate()
        }
        var metadata = [String: String]()
        for entry in proto.metadataProps { metadata[entry.key] = entry.value }
        return ImportedModel(graph: graph, irVersion: Int(proto.irVersion), opsetVersion: opset,
                             producer: [proto.producerName, proto.producerVersion].filter { !$0.isEmpty }.joined(separator: " "),
                             metadata: metadata, affineFolds: folds)
    }

    /// Formats people commonly pass by mistake, recognised by their magic bytes.
    static func knownForeignFormat(_ data: Data) -> String? {
        let head = [UInt8](data.prefix(8))
        func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && Array(head[..<magic.count]) == magic }
        if starts([0x50, 0x4B, 0x03, 0x04]) { return "a zip archive (a PyTorch .pt/.pth checkpoint?); export the model to ONNX first" }
        if starts([0xFF, 0xD8, 0xFF]) { return "a JPEG image" }
        if starts([0x89, 0x50, 0x4E, 0x47]) { return "a PNG image" }
        if starts([0x80, 0x02]) || starts([0x80, 0x04]) || starts([0x80, 0x05]) { return "a Python pickle" }
        if starts([0x7F, 0x45, 0x4C, 0x46]) { return "an ELF executable" }
        if starts(Array("RNEDGEM".utf8) + [0]) { return "a resnet-edge model file (.rem); it is read by the model-file loader, not as ONNX" }
        return nil
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? BinaryDecodingError {
            switch e {
            case .truncated: return "truncated data"
            case .malformedProtobuf: return "malformed protobuf"
            case .messageDepthLimit: return "nesting too deep"
            default: return "\(e)"
            }
        }
        return "\(error)"
    }
}
