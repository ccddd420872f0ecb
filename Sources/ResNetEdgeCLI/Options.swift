import ArgumentParser
import EdgeBoards
import EdgeImaging
import EdgeModel
import EdgeModelFile
import EdgeRuntime
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// Options every command that runs a model shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "The model: an ONNX file, or a model file (.rem) written by `resnet-edge calibrate`.")
    var model: String

    @Option(name: .long, help: "Class names, one per line (default: <model>.labels.txt or labels.txt beside the model, if its count matches).")
    var labels: String?

    @Option(name: .long, help: ArgumentHelp("Preprocessing: imagenet, fashion-mnist, or a JSON spec file (default: <model>.preprocess.json beside the model, else ImageNet for the model's input size).", valueName: "preset|file"))
    var preprocess: String?

    @Option(name: .long, help: "Worker threads (default: the board profile's, else all cores).")
    var threads: Int?

    @Option(name: .long, help: ArgumentHelp("Board profile (see `resnet-edge boards`) or auto.", valueName: "name|auto"))
    var board: String?

    func validate() throws {
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256, got \(threads)") }
    }

    /// The board profile asked for, if any; `auto` that finds none is an error that says what was seen.
    func boardProfile() throws -> BoardProfile? {
        guard let board else { return nil }
        let catalog = BoardCatalog.builtin()
        if board == "auto" {
            let detection = BoardDetector.detect(catalog: catalog)
            guard let profile = detection.profile else { throw BoardError("--board auto: \(detection.reason)") }
            printError("board: \(profile.name) (\(detection.reason))")
            return profile
        }
        return try catalog.profile(named: board)
    }

    /// --threads, else the board's default, else every core.
    func resolvedThreads() throws -> Int {
        if let threads { return threads }
        return try boardProfile()?.default_threads ?? ProcessInfo.processInfo.activeProcessorCount
    }

    func load() throws -> ClassificationModel {
        let loaded = try ClassificationModel.load(path: model, labelsPath: labels, preprocess: try preprocessSpec())
        if let fileBoard = loaded.fileBoard { try checkBoard(fileBoard, loaded) }
        return loaded
    }

    /// A model file runs on the board it was packed for (or anywhere, if generic). On a machine that is no known
    /// board (a development host) it runs too, with a note: the session reads the packed weights in place when its
    /// kernels share the layout, else packs them for its own.
    func checkBoard(_ fileBoard: String, _ loaded: ClassificationModel) throws {
        guard fileBoard != ModelFileBoardCheck.generic else { return }
        let running = board != nil ? try boardProfile()?.name : BoardDetector.detect(catalog: BoardCatalog.builtin()).profile?.name
        guard let running else {
            printError("note: \(model) was packed for \(fileBoard) (\(loaded.fileKernels ?? "?") kernels); this machine matches no board profile, so it runs on this CPU's kernels")
            return
        }
        try ModelFileBoardCheck.check(fileBoard: fileBoard, runningBoard: running, kernelLayout: loaded.fileKernels ?? "")
    }

    func preprocessSpec() throws -> PreprocessSpec? {
        guard let preprocess else { return nil }
        switch preprocess {
        case "imagenet": return .imagenet()
        case "fashion-mnist": return .fashionMNIST
        default:
            guard FileManager.default.fileExists(atPath: preprocess) else {
                throw ValidationError("--preprocess '\(preprocess)' is neither a preset (imagenet, fashion-mnist) nor an existing JSON file")
            }
            return try PreprocessSpec.load(contentsOf: URL(fileURLWithPath: preprocess))
        }
    }
}

extension KernelVariant: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}

/// How a model runs: INT8 kernel variant and precision (classify, evaluate, bench).
struct RuntimeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("INT8 kernel variant: auto (the best this CPU runs), scalar, neon, neondot, avx2 or avx512vnni. Forcing one this CPU lacks is an error.", valueName: "variant"))
    var kernels: KernelVariant = .auto

    @Option(name: .long, help: ArgumentHelp("auto: a quantized (QDQ) model runs INT8, anything else FP32; fp32: run a quantized model in float with fake quantization at every quantized value (a float simulation of the INT8 model).", valueName: "auto|fp32"))
    var precision: Precision = .auto

    func sessionOptions(threads: Int) -> SessionOptions {
        SessionOptions(threads: threads, kernels: kernels, precision: precision)
    }
}

extension InferenceSession {
    /// "INT8 (avx512vnni: qs8-qc8w-igemm-..., ...)", "FP32", or "mixed INT8/FP32 (...; FP32: a, b)" for reports.
    var precisionSummary: String {
        guard runsINT8 else {
            return valueQuantization.contains { $0 != nil } ? "FP32 with fake quantization" : "FP32"
        }
        let fp32 = fp32Nodes
        let head = fp32.isEmpty ? "INT8" : "mixed INT8/FP32 (FP32 nodes: \(fp32.joined(separator: ", ")))"
        var summary = head + ", kernels \(kernelVariant): " + kernelNames.joined(separator: ", ")
        if let prepacked {
            let int8 = nodeExecutions.filter { $0.precision == .int8 && prepacked.blobs[$0.name] != nil }.count
            summary += prepackedNodes.count == int8
                ? "; packed weights read in place from the model file (\(prepackedNodes.count) layers)"
                : "; the model file's packing is not this CPU's: \(int8 - prepackedNodes.count) of \(int8) layers repacked"
        }
        return summary
    }
}

/// Writes one line to standard error.
func printError(_ message: String) {
    writeStandardError(message + "\n")
}

/// A JSON line with stable key order, for scripts.
func jsonLine(_ object: Any) -> String {
    jsonText(object, escapingSlashes: false)
}
