import EdgeBoards
import EdgeCapture
import EdgeDatasets
import EdgeGraph
import EdgeImaging
import EdgeModel
import EdgeModelFile
import EdgeRuntime
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The board the daemon runs on, as `model.board` resolved it.
public struct BoardChoice: Sendable {
    /// A board of the catalog, or the generic profile of a machine that is none.
    public var profile: BoardProfile
    /// Whether `profile` is a board of the catalog (model files made for another board are refused) or generic.
    public var known: Bool
    public var name: String { profile.name }
    /// How it was chosen, for the log.
    public var reason: String

    /// "auto": detect (a machine that is no known board, such as a development host, gets a generic profile of its
    /// cores); a name must be a known profile.
    public static func resolve(_ setting: String) throws -> BoardChoice {
        let catalog = BoardCatalog.builtin()
        if setting == "auto" {
            let detection = BoardDetector.detect(catalog: catalog)
            return BoardChoice(profile: detection.profile, known: detection.isKnownBoard, reason: detection.reason)
        }
        return BoardChoice(profile: try catalog.profile(named: setting), known: true, reason: "model.board = \"\(setting)\"")
    }
}

/// What runs, as the log's first line, STATUS=, /healthz, every result and the `model_info` metric all state it: so a
/// user can tell from any of them whether the board runs the calibrated INT8 model on its fast kernels.
public struct ModelIdentity: Sendable, Equatable {
    /// The model file's name.
    public var name: String
    public var path: String
    /// SHA-256 of the model file, lowercase hex (what `sha256sum` prints).
    public var sha256: String
    /// "INT8", "mixed INT8/FP32" or "FP32".
    public var precision: String
    /// The INT8 kernel variant ("neon", "neondot", "avx2", ...), or "fp32" for a model that runs in float.
    public var kernels: String
    public var board: String
    public var classes: Int

    /// "INT8 on neon kernels, board rpi4, model model.rem (sha256 0123456789ab)".
    public var summary: String {
        "\(precision)\(kernels == "fp32" ? " on OpenBLAS" : " on \(kernels) kernels"), board \(board), model \(name) (sha256 \(sha256.prefix(12)))"
    }
}

/// A loaded model with its inference session prepared for one frame, and the preprocessing from camera frames.
/// Used by the pipeline thread only; a reload builds a new engine beside the running one and the pipeline swaps
/// to it between two frames.
public final class ModelEngine {
    public let model: ClassificationModel
    public let session: InferenceSession
    public let board: BoardChoice
    /// The model file's name, as results and metrics show it.
    public let name: String
    /// What runs (precision, kernels, board, checksum), for the log, STATUS=, /healthz, results and metrics.
    public let identity: ModelIdentity
    /// "INT8", "mixed INT8/FP32" or "FP32".
    public var precision: String { identity.precision }
    public let configuration: DaemonConfiguration.Model
    private var preprocessor: FramePreprocessor?

    /// Loads and validates everything up front (model, labels, preprocessing, board check for model files,
    /// session, memory plan), so a bad model fails here and never reaches the running pipeline.
    public init(_ configuration: DaemonConfiguration.Model, board: BoardChoice) throws {
        self.configuration = configuration
        self.board = board
        let spec: PreprocessSpec?
        switch configuration.preprocess {
        case nil: spec = nil
        case "imagenet"?: spec = .imagenet()
        case "fashion-mnist"?: spec = .fashionMNIST
        case let file?:
            guard FileManager.default.fileExists(atPath: file) else {
                throw DaemonError("model.preprocess: \(file) does not exist (use imagenet, fashion-mnist or a JSON spec file)")
            }
            spec = try PreprocessSpec.load(contentsOf: URL(fileURLWithPath: file))
        }
        guard FileManager.default.fileExists(atPath: configuration.path) else {
            throw DaemonError("model.path: \(configuration.path) does not exist")
        }
        if let labels = configuration.labels, !FileManager.default.fileExists(atPath: labels) {
            throw DaemonError("model.labels: \(labels) does not exist")
        }
        let model = try ClassificationModel.load(path: configuration.path, labelsPath: configuration.labels, preprocess: spec)
        if let fileBoard = model.fileBoard {
            // A .rem file runs on the board it was packed for; on a machine that is no known board it runs on this
            // CPU's kernels (as `resnet-edge classify` does).
            if board.known {
                try ModelFileBoardCheck.check(fileBoard: fileBoard, runningBoard: board.name, kernelLayout: model.fileKernels ?? "",
                                              remake: model.modelFile?.metadata.calibrateCommand(forBoard: board.name, modelPath: configuration.path))
            }
        }
        let threads = configuration.threads > 0 ? configuration.threads
            : board.profile.default_threads
        let options = SessionOptions(threads: threads, kernels: KernelVariant(rawValue: configuration.kernels) ?? .auto,
                                     precision: Precision(rawValue: configuration.precision) ?? .auto,
                                     // A quantized model takes its input as int8, so the frame is preprocessed and
                                     // quantized in one pass with no float tensor in between.
                                     int8Input: true,
                                     // The frame loop owns inference; pinned, its threads keep their own CPUs across the
                                     // idle gaps between frames (see ThreadPool: 2.2x faster at 30 fps on the dev VM).
                                     pinThreads: true)
        session = try InferenceSession(graph: model.graph, options: options, prepacked: model.prepacked)
        let p = model.preprocess
        try session.prepare(inputShape: Shape([1, p.channels, p.inputHeight, p.inputWidth]))
        self.model = model
        name = URL(fileURLWithPath: configuration.path).lastPathComponent
        identity = ModelIdentity(name: name, path: configuration.path,
                                 sha256: try ModelProvenance.sha256(contentsOf: URL(fileURLWithPath: configuration.path)),
                                 precision: session.runsINT8 ? (session.fp32Nodes.isEmpty ? "INT8" : "mixed INT8/FP32") : "FP32",
                                 kernels: session.runsINT8 ? session.kernelVariant.rawValue : "fp32",
                                 board: board.name, classes: model.classes)
    }

    public var threads: Int { session.options.threads }
    public var kernels: String { identity.kernels }

    /// Writes `frame` into the model's input in one pass: quantized straight into the int8 input when the model's
    /// first layers run INT8, else normalized into the float input.
    func writeInput(_ frame: Frame) throws {
        if preprocessor == nil || preprocessor!.frameWidth != frame.width || preprocessor!.frameHeight != frame.height
            || preprocessor!.format != frame.format {
            preprocessor = try FramePreprocessor(spec: model.preprocess, frameWidth: frame.width, frameHeight: frame.height, format: frame.format)
        }
        if let int8 = try session.int8InputBuffer() {
            preprocessor!.run(frame, into: int8.pointer, scale: int8.quantization.scale, zeroPoint: int8.quantization.zeroPoint)
        } else {
            preprocessor!.run(frame, into: try session.inputBuffer())
        }
    }

    /// Whether frames are quantized straight into an int8 input (metrics and the log say so).
    public var takesInt8Input: Bool { (try? session.int8InputBuffer()) != nil }

    /// Runs the model on the input `writeInput` wrote; the logits of the one image.
    func infer() throws -> [Float] {
        try session.execute()
        return try session.output().values
    }

    /// Top-k classes of `logits` with softmax probabilities.
    func top(_ logits: [Float], k: Int) -> [ClassificationResult.Class] {
        let c = Classification(logits: logits, model: model, k: k)
        return zip(c.indices, zip(c.labels, c.probabilities)).map { ClassificationResult.Class(index: $0.0, label: $0.1.0, probability: $0.1.1) }
    }

    /// One line for the log.
    public var summary: String {
        let p = model.preprocess
        return "\(name): \(model.classes) classes\(model.labels == nil ? " (no labels)" : ""), input \(p.channels)x\(p.inputHeight)x\(p.inputWidth) (\(model.preprocessSource) preprocessing\(takesInt8Input ? ", straight into the int8 input" : "")), \(identity.summary), \(threads) threads"
    }
}

public struct DaemonError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
