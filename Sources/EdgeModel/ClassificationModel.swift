import EdgeDatasets
import EdgeGraph
import EdgeImaging
import EdgeModelFile
import EdgeONNX
import EdgeRuntime
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An image classifier ready to run: its graph, how images become its input, and its class names.
public struct ClassificationModel: Sendable {
    public let path: String
    public let graph: Graph
    public let preprocess: PreprocessSpec
    /// Where `preprocess` came from, for reports ("--preprocess", "sidecar", "metadata", "default").
    public let preprocessSource: String
    public let labels: Labels?
    public let classes: Int
    public let inputName: String
    /// For a model file (.rem): the board it was packed for, its kernels, and its packed weights (used in place when
    /// this CPU's kernels read that layout). Nil for ONNX.
    public let fileBoard: String?
    public let fileKernels: String?
    public let prepacked: PrepackedWeights?
    public let modelFile: LoadedModelFile?

    /// Loads an ONNX model and resolves its preprocessing and labels:
    /// - preprocessing: `preprocess` if given, else `<model>.preprocess.json` beside the model, else a
    ///   `preprocess` JSON entry in the ONNX metadata, else torchvision's ImageNet transform for the
    ///   model's declared input size (224x224 when it is symbolic);
    /// - labels: `labelsPath` if given (its count must match the classes), else `<model>.labels.txt` or
    ///   `labels.txt` beside the model when its count matches.
    public static func load(path: String, labelsPath: String? = nil, preprocess: PreprocessSpec? = nil) throws -> ClassificationModel {
        let url = URL(fileURLWithPath: path)
        if ModelFile.looksLikeModelFile(url) {
            return try loadModelFile(url, labelsPath: labelsPath, preprocess: preprocess)
        }
        let imported = try ONNXImporter.load(contentsOf: url)
        let graph = imported.graph
        guard graph.inputs.count == 1, graph.outputs.count == 1 else {
            throw ModelError("\(path): a classifier has one input and one output; this model has \(graph.inputs.count) and \(graph.outputs.count)")
        }
        let input = graph.values[graph.inputs[0]]
        guard let declared = input.declaredShape, declared.count == 4 else {
            throw ModelError("\(path): input '\(input.name)' must be an image batch [N, C, H, W]")
        }

        var spec: PreprocessSpec
        var source: String
        if let preprocess {
            (spec, source) = (preprocess, "command line")
        } else if let sidecar = try PreprocessSpec.sidecar(forModel: url) {
            (spec, source) = (sidecar, PreprocessSpec.sidecarURL(forModel: url).lastPathComponent)
        } else if let json = imported.metadata["preprocess"] {
            (spec, source) = (try PreprocessSpec.decode(json: Data(json.utf8), source: "\(path) metadata 'preprocess'"), "model metadata")
        } else {
            func fixed(_ d: DeclaredDimension) -> Int? { if case .fixed(let n) = d { return n } else { return nil } }
            spec = .imagenet(height: fixed(declared[2]) ?? 224, width: fixed(declared[3]) ?? 224)
            source = "default (ImageNet)"
        }
        if case .fixed(let c) = declared[1], c != spec.channels {
            throw ModelError("\(path): the model takes \(c) input channels, the preprocessing (\(source)) makes \(spec.channels)")
        }

        let classes = try classCount(graph, spec, path: path)

        var labels: Labels? = nil
        if let labelsPath {
            labels = try Labels(contentsOf: URL(fileURLWithPath: labelsPath), classes: classes)
        } else {
            let dir = url.deletingLastPathComponent()
            let candidates = [url.deletingPathExtension().lastPathComponent + ".labels.txt", "labels.txt"].map { dir.appendingPathComponent($0) }
            labels = candidates.lazy.compactMap { try? Labels(contentsOf: $0, classes: classes) }.first
        }
        return ClassificationModel(path: path, graph: graph, preprocess: spec, preprocessSource: source,
                                   labels: labels, classes: classes, inputName: input.name,
                                   fileBoard: nil, fileKernels: nil, prepacked: nil, modelFile: nil)
    }

    /// A calibrated model file: graph, preprocessing and labels from the file (the command line may override the
    /// last two), packed weights in place.
    static func loadModelFile(_ url: URL, labelsPath: String?, preprocess: PreprocessSpec?) throws -> ClassificationModel {
        let path = url.path
        let file = try ModelFile.read(contentsOf: url)
        let graph = file.graph
        guard graph.inputs.count == 1, graph.outputs.count == 1 else {
            throw ModelError("\(path): a classifier has one input and one output; this model has \(graph.inputs.count) and \(graph.outputs.count)")
        }
        let spec = preprocess ?? file.metadata.preprocessing
        let classes = try classCount(graph, spec, path: path)
        var labels: Labels? = nil
        if let labelsPath {
            labels = try Labels(contentsOf: URL(fileURLWithPath: labelsPath), classes: classes)
        } else if !file.metadata.labels.isEmpty {
            labels = Labels(names: file.metadata.labels)
        }
        let blobs = file.packed.mapValues { PrepackedWeights.Blob(geometry: PackedGeometry($0.kind), bytes: $0.bytes) }
        return ClassificationModel(path: path, graph: graph, preprocess: spec,
                                   preprocessSource: preprocess == nil ? "model file" : "command line", labels: labels,
                                   classes: classes, inputName: graph.values[graph.inputs[0]].name,
                                   fileBoard: file.metadata.board, fileKernels: file.metadata.kernelLayout,
                                   prepacked: PrepackedWeights(blobs: blobs, owner: file), modelFile: file)
    }

    /// The number of classes: the output's last dimension for one preprocessed image.
    static func classCount(_ graph: Graph, _ spec: PreprocessSpec, path: String) throws -> Int {
        let shapes = try graph.inferShapes(inputShapes: [Shape([1, spec.channels, spec.inputHeight, spec.inputWidth])])
        let outputShape = shapes[graph.outputs[0]]
        guard outputShape.rank == 2, outputShape[0] == 1 else {
            throw ModelError("\(path): a classifier's output is [N, classes]; this model's is \(outputShape)")
        }
        return outputShape[1]
    }

    public func label(_ index: Int) -> String { labels?[index] ?? "class \(index)" }

    /// The same classifier (preprocessing, labels) on another graph of the same input and classes, e.g. its
    /// quantized version.
    public func replacingGraph(_ graph: Graph) -> ClassificationModel {
        ClassificationModel(path: path, graph: graph, preprocess: preprocess, preprocessSource: preprocessSource,
                            labels: labels, classes: classes, inputName: inputName, fileBoard: nil, fileKernels: nil,
                            prepacked: nil, modelFile: nil)
    }
}

public struct ModelError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

// The runtime's and the model file's names for the same packing geometry (the two modules do not depend on each
// other); the conversions live here, where both meet.
extension PackedGeometry {
    public init(_ kind: PackedWeightsBlob.Kind) {
        switch kind {
        case let .gemm(nr, kr, offset, groups, nc, ks, kc, izp):
            self = .gemm(nr: nr, kr: kr, inputOffset: Int(offset), groups: groups, nc: nc, ks: ks, kc: kc, inputZeroPoint: Int(izp))
        case let .depthwise(cr, channels, ks, izp):
            self = .depthwise(cr: cr, channels: channels, ks: ks, inputZeroPoint: Int(izp))
        }
    }
}

extension PackedWeightsBlob {
    /// A node's weights as `InferenceSession.packWeights` made them, for the model file writer.
    public init(_ packed: PackedNodeWeights) {
        let kind: Kind
        switch packed.geometry {
        case let .gemm(nr, kr, offset, groups, nc, ks, kc, izp):
            kind = .gemm(nr: nr, kr: kr, inputOffset: Int32(offset), groups: groups, nc: nc, ks: ks, kc: kc, inputZeroPoint: Int32(izp))
        case let .depthwise(cr, channels, ks, izp):
            kind = .depthwise(cr: cr, channels: channels, ks: ks, inputZeroPoint: Int32(izp))
        }
        self.init(node: packed.node, kind: kind, bytes: packed.bytes)
    }
}
