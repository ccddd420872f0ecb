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

    /// The board the command runs for: `--board NAME`, else (no --board, or auto) the detected one, which is a board
    /// of the catalog or a generic profile of this machine's cores. Says once on standard error which board it
    /// assumed and why, so a default is never silent.
    func boardResolution() throws -> BoardResolution {
        if let board, board != "auto" {
            return BoardResolution(profile: try BoardCatalog.builtin().profile(named: board), known: true, reason: "--board \(board)")
        }
        let detection = BoardDetector.detect(catalog: BoardCatalog.builtin())
        BoardResolution.sayOnce("board: \(detection.profile.name) (\(board == nil ? "no --board; " : "")\(detection.reason))")
        return BoardResolution(profile: detection.profile, known: detection.isKnownBoard, reason: detection.reason)
    }

    func boardProfile() throws -> BoardProfile { try boardResolution().profile }

    /// --threads, else the board's default (a generic profile's: every core).
    func resolvedThreads() throws -> Int {
        if let threads { return threads }
        return try boardProfile().default_threads
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
        let running = try boardResolution()
        guard running.known else {
            printError("note: \(model) was packed for \(fileBoard) (\(loaded.fileKernels ?? "?") kernels); this machine is no known board (\(running.profile.name)), so it runs on this CPU's kernels")
            return
        }
        try ModelFileBoardCheck.check(fileBoard: fileBoard, runningBoard: running.profile.name, kernelLayout: loaded.fileKernels ?? "",
                                      remake: loaded.modelFile?.metadata.calibrateCommand(forBoard: running.profile.name, modelPath: model))
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

/// The board a command runs for, and whether it is a board of the catalog or a generic profile of this machine.
struct BoardResolution {
    var profile: BoardProfile
    var known: Bool
    var reason: String

    nonisolated(unsafe) private static var said: Set<String> = []
    /// Prints `line` on standard error unless this process already did (a command may resolve its board twice).
    static func sayOnce(_ line: String) {
        if said.insert(line).inserted { printError(line) }
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
