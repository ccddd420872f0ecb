import ArgumentParser
import EdgeImaging
import EdgeModel
import Foundation

/// Options every command that runs a model shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "The model: an ONNX file.")
    var model: String

    @Option(name: .long, help: "Class names, one per line (default: <model>.labels.txt or labels.txt beside the model, if its count matches).")
    var labels: String?

    @Option(name: .long, help: ArgumentHelp("Preprocessing: imagenet, fashion-mnist, or a JSON spec file (default: <model>.preprocess.json beside the model, else ImageNet for the model's input size).", valueName: "preset|file"))
    var preprocess: String?

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be between 1 and 256, got \(threads)") }
    }

    func load() throws -> ClassificationModel {
        try ClassificationModel.load(path: model, labelsPath: labels, preprocess: try preprocessSpec())
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

/// Writes one line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// A JSON line with stable key order, for scripts.
func jsonLine(_ object: Any) -> String {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    return String(decoding: data, as: UTF8.self)
}
