import ArgumentParser
import EdgeBoards
import EdgeDatasets
import EdgeImaging
import EdgeModel
import EdgeModelFile
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `resnet-edge package-model`: the model half of a board package (cross-toolchains/package-deb.sh wraps it into the
/// .deb). What a freshly installed board runs is decided here, so it refuses anything but the right model: a `.rem`
/// made for that board, or an FP32 ONNX together with calibration data, which it calibrates for the board itself
/// (calibrate's own code, defaults and report). An FP32 package only when asked for with --fp32.
struct PackageModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package-model",
        abstract: "Check or calibrate the model for a board package and stage it (used by cross-toolchains/package-deb.sh).",
        discussion: """
            Writes into --stage: model.rem (or model.onnx with --fp32), labels.txt when --labels is given, \
            calibration-report.json when it calibrated, and package.json (what the package runs: file, precision, \
            kernels, board, SHA-256). Arguments after `--` go to `resnet-edge calibrate` (e.g. -- --budget 0.5). \
            Exit status 1 with one line naming the problem and its fix; nothing is left in --stage then.
            """)

    @Option(name: .long, help: "The board the package is for (see `resnet-edge boards`), or generic: any machine (INT8 packed for the scalar layout, repacked at load for the machine's own kernels).")
    var board: String

    @Option(name: .long, help: "A .rem model file made for --board, or an FP32 ONNX model (then give --images or --dataset, or --fp32).")
    var model: String

    @Option(name: .long, help: "Class names, one per line; the count must match the model's classes.")
    var labels: String?

    @Option(name: .long, help: "Calibration images for an ONNX model (a directory of .jpg/.jpeg/.png files), as calibrate takes them.")
    var images: String?

    @Option(name: .long, help: "Calibration images from a labelled set (IDX directory or ImageFolder tree), as calibrate takes them.")
    var dataset: String?

    @Option(name: .long, help: ArgumentHelp("Preprocessing for an ONNX model: imagenet, fashion-mnist, or a JSON spec (a .rem carries its own).", valueName: "preset|file"))
    var preprocess: String?

    @Flag(name: .long, help: "Package the ONNX model in FP32 (OpenBLAS), without calibrating: several times slower than INT8 on a board.")
    var fp32 = false

    @Option(name: .long, help: "The directory to stage the model in (created; must be empty).")
    var stage: String

    @Argument(parsing: .postTerminator, help: "More `resnet-edge calibrate` options, after `--`.")
    var calibrateArguments: [String] = []

    func validate() throws {
        if images != nil && dataset != nil { throw ValidationError("give one of --images DIR or --dataset PATH, not both") }
        if fp32 && (images != nil || dataset != nil) { throw ValidationError("--fp32 packages the ONNX model as it is; drop --images/--dataset, or drop --fp32 to calibrate it") }
    }

    func run() throws {
        let catalog = BoardCatalog.builtin()
        let target: String
        if board == ModelFileBoardCheck.generic {
            target = board
        } else {
            do { target = try catalog.profile(named: board).name } catch { throw PackageError("\(error)") }
        }
        let url = URL(fileURLWithPath: model)
        guard FileManager.default.fileExists(atPath: model) else { throw PackageError("--model \(model) does not exist") }
        try FileManager.default.createDirectory(atPath: stage, withIntermediateDirectories: true)
        guard (try FileManager.default.contentsOfDirectory(atPath: stage)).isEmpty else { throw PackageError("--stage \(stage) is not empty") }
        do {
            try stageModel(url, board: target)
        } catch {
            // Nothing half-made stays behind for the package script to pick up.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: stage)) ?? [] {
                try? FileManager.default.removeItem(atPath: stage + "/" + name)
            }
            throw error
        }
    }

    private func stageModel(_ url: URL, board target: String) throws {
        let facts: PackagedModel
        if ModelFile.looksLikeModelFile(url) {
            guard images == nil && dataset == nil && !fp32 else {
                throw PackageError("\(model) is already a calibrated model file; drop --images/--dataset/--fp32 (or give the FP32 ONNX to calibrate it again)")
            }
            let loaded: ClassificationModel
            do { loaded = try ClassificationModel.load(path: model, labelsPath: labels) } catch { throw PackageError("\(model): \(error)") }
            let metadata = loaded.modelFile!.metadata
            guard metadata.board == target else {
                throw PackageError("\(model) was calibrated for \(metadata.board)\(metadata.kernelLayout.isEmpty ? "" : " (\(metadata.kernelLayout) kernels)"), not \(target); make the right one with: \(metadata.calibrateCommand(forBoard: target, modelPath: model))")
            }
            try FileManager.default.copyItem(atPath: model, toPath: stage + "/model.rem")
            facts = PackagedModel(model_file: "model.rem", precision: metadata.kernelLayout.isEmpty ? "FP32" : "INT8", kernels: metadata.kernelLayout,
                                  board: target, classes: loaded.classes, source: url.lastPathComponent, calibrated: false,
                                  preprocess: nil)
        } else {
            let onnx: ClassificationModel
            do { onnx = try ClassificationModel.load(path: model, labelsPath: labels, preprocess: try presetOrFile()) } catch { throw PackageError("\(model): \(error)") }
            if onnx.graph.values.contains(where: { $0.quantization != nil }) {
                throw PackageError("\(model) is already quantized (QDQ); package the FP32 model it was made from with --images DIR or --dataset DIR, which calibrates it for \(target)")
            }
            if fp32 {
                try FileManager.default.copyItem(atPath: model, toPath: stage + "/model.onnx")
                facts = PackagedModel(model_file: "model.onnx", precision: "FP32", kernels: "fp32", board: target, classes: onnx.classes,
                                      source: url.lastPathComponent, calibrated: false, preprocess: try stagedPreprocess())
            } else {
                guard images != nil || dataset != nil else {
                    throw PackageError("\(model) is an FP32 model: give calibration images (--images DIR or --dataset DIR) to calibrate it to INT8 for \(target), or --fp32 to package it in FP32 (several times slower)")
                }
                var arguments = ["--model", model, "--board", target, "--out", stage + "/model.rem", "--report", stage + "/calibration-report.json"]
                if let images { arguments += ["--images", images] }
                if let dataset { arguments += ["--dataset", dataset] }
                if let labels { arguments += ["--labels", labels] }
                if let preprocess { arguments += ["--preprocess", preprocess] }
                var calibrate: Calibrate
                do { calibrate = try Calibrate.parse(arguments + calibrateArguments) } catch { throw PackageError("calibrate: \(Calibrate.message(for: error))") }
                do { try calibrate.run() } catch { throw PackageError("calibrating \(model) for \(target): \(Calibrate.message(for: error))") }
                let written = try ClassificationModel.load(path: stage + "/model.rem", labelsPath: labels)
                facts = PackagedModel(model_file: "model.rem", precision: "INT8", kernels: written.fileKernels ?? "", board: target,
                                      classes: written.classes, source: url.lastPathComponent, calibrated: true, preprocess: nil)
            }
        }
        var packaged = facts
        if let labels {
            try FileManager.default.copyItem(atPath: labels, toPath: stage + "/labels.txt")
            packaged.labels_file = "labels.txt"
        }
        packaged.sha256 = try ModelProvenance.sha256(contentsOf: URL(fileURLWithPath: stage + "/" + packaged.model_file))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(packaged).write(to: URL(fileURLWithPath: stage + "/package.json"))
        print("package-model: \(packaged.model_file) for \(packaged.board): \(packaged.precision)\(packaged.kernels == "fp32" || packaged.kernels.isEmpty ? "" : " on \(packaged.kernels) kernels"), \(packaged.classes) classes, sha256 \(packaged.sha256)")
    }

    private func presetOrFile() throws -> PreprocessSpec? {
        var options = try ModelOptions.parse(["--model", model])
        options.preprocess = preprocess
        return try options.preprocessSpec()
    }

    /// The preprocessing an FP32 package's config names: a preset by name, a spec file copied beside the model (the
    /// sidecar the loader finds by itself); nil when the model's own applies.
    private func stagedPreprocess() throws -> String? {
        guard let preprocess else { return nil }
        if ["imagenet", "fashion-mnist"].contains(preprocess) { return preprocess }
        try FileManager.default.copyItem(atPath: preprocess, toPath: stage + "/model.preprocess.json")
        return nil
    }
}

/// What package.json says: what the package's board runs.
struct PackagedModel: Codable {
    var model_file: String
    var precision: String
    var kernels: String
    var board: String
    var classes: Int
    var source: String
    var calibrated: Bool
    var preprocess: String?
    var labels_file: String? = nil
    var sha256: String = ""
}

struct PackageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Calibrate {
    /// ArgumentParser's one-line text for an error thrown by parse or run (a ValidationError's message, not its type).
    static func message(for error: Error) -> String {
        let text = fullMessage(for: error)
        return text.split(separator: "\n").first.map(String.init) ?? "\(error)"
    }
}
