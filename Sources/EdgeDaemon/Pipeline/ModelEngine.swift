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
    public var profile: BoardProfile?
    /// The profile's name, or "none".
    public var name: String { profile?.name ?? "none" }
    /// How it was chosen, for the log.
    public var reason: String

    /// "auto": detect, and a machine that is no known board (a development host) simply runs without a profile;
    /// a name must be a known profile.
    public static func resolve(_ setting: String) throws -> BoardChoice {
        let catalog = BoardCatalog.builtin()
        if setting == "auto" {
            let detection = BoardDetector.detect(catalog: catalog)
            return BoardChoice(profile: detection.profile, reason: detection.reason)
        }
        return BoardChoice(profile: try catalog.profile(named: setting), reason: "model.board = \"\(setting)\"")
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
    /// "INT8 (avx2 ...)" / "FP32", for the log and the model_info metric.
    public let precision: String
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
            if board.profile != nil || configuration.board != "auto" {
                try ModelFileBoardCheck.check(fileBoard: fileBoard, runningBoard: board.profile?.name, kernelLayout: model.fileKernels ?? "")
            }
        }
        let threads = configuration.threads > 0 ? configuration.threads
            : (board.profile?.default_threads ?? ProcessInfo.processInfo.activeProcessorCount)
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
        if session.runsINT8 {
            let fp32 = session.fp32Nodes
            precision = (fp32.isEmpty ? "INT8" : "mixed INT8/FP32") + " (\(session.kernelVariant))"
        } else {
            precision = "FP32"
        }
    }

    public var threads: Int { session.options.threads }
    public var kernels: String { session.runsINT8 ? session.kernelVariant.rawValue : "fp32" }

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
        return "\(name): \(model.classes) classes\(model.labels == nil ? " (no labels)" : ""), input \(p.channels)x\(p.inputHeight)x\(p.inputWidth) (\(model.preprocessSource) preprocessing\(takesInt8Input ? ", straight into the int8 input" : "")), \(precision), \(threads) threads, board \(board.name)"
    }
}

public struct DaemonError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
