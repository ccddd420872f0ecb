import ArgumentParser
import EdgeBoards
import EdgeCalibration
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
import EdgeSupport
#if canImport(Glibc)
import Glibc
#endif

extension ObserverKind: ExpressibleByArgument {}

struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize an FP32 ONNX model to INT8 for a board and write the deployable model file.",
        discussion: """
            Runs the model in FP32 over the calibration images (preprocessed exactly as classify and the daemon do), \
            chooses each activation's range with the observer, quantizes weights per channel to [-127, 127] as the \
            board's kernels need, corrects biases, optionally equalizes convolution pairs, measures each layer's \
            sensitivity and, with --budget, keeps the most sensitive layers in FP32 until the top-1 agreement with \
            FP32 on the evaluation images is within the budget. Writes one .rem file: weights pre-packed for the \
            board's kernels, graph, quantization, preprocessing, labels and provenance.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "Calibration images: a directory of .jpg/.jpeg/.png files (searched recursively).")
    var images: String?

    @Option(name: .long, help: "Calibration images from a labelled set (IDX directory or ImageFolder tree); labels are not used.")
    var dataset: String?

    @Option(name: .long, help: "IDX split for --dataset (calibrate on training data, evaluate on t10k).")
    var split = "train"

    @Option(name: .long, help: "Use at most this many calibration images (the first ones, in name order).")
    var limit = 1000

    @Option(name: .long, help: "Activation range observer: minmax, moving-average, mse (default), entropy, percentile.")
    var observer: ObserverKind = .mse

    @Option(name: .long, help: "For --observer percentile: the upper percentile (the lower is 100 minus it).")
    var percentile = 99.99

    @Option(name: .long, help: "Accuracy budget in points of top-1 agreement with FP32; the most sensitive layers stay in FP32 until it fits.")
    var budget: Double?

    @Flag(name: .long, help: "Cross-layer equalization of convolution pairs before calibrating.")
    var equalize = false

    @Flag(name: .long, help: "Do not correct biases for the weight rounding error.")
    var noBiasCorrection = false

    @Flag(name: .long, help: "Per-tensor weights instead of per-channel (for comparison; no board needs it).")
    var perTensorWeights = false

    @Flag(name: .long, help: "Skip the per-layer sensitivity measurement (faster; not allowed with --budget).")
    var noSensitivity = false

    @Option(name: .long, help: "Images (the first calibration images) for agreement, SQNR and sensitivity.")
    var evaluationImages = 200

    @Option(name: .long, help: "The model file to write (.rem).")
    var out: String

    @Option(name: .long, help: "Also write the calibration report as JSON to this file.")
    var report: String?

    func validate() throws {
        guard (images == nil) != (dataset == nil) else { throw ValidationError("give exactly one of --images DIR or --dataset PATH") }
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
        guard evaluationImages >= 1 else { throw ValidationError("--evaluation-images must be at least 1") }
        if let budget, !(budget >= 0 && budget <= 100) { throw ValidationError("--budget is in points of top-1 agreement: 0 to 100, got \(budget)") }
        if budget != nil && noSensitivity { throw ValidationError("--budget needs the sensitivity measurement; drop --no-sensitivity") }
        guard percentile > 50 && percentile <= 100 else { throw ValidationError("--percentile must be in (50, 100], got \(percentile)") }
        guard modelOptions.board != nil else {
            throw ValidationError("--board is required: the board the file is for (see `resnet-edge boards`), auto, or generic")
        }
    }

    func run() throws {
        var options = modelOptions
        if dataset != nil, options.preprocess == nil, let set = try? DatasetLoader.open(dataset!, split: split), set is IDXDataset {
            options.preprocess = "fashion-mnist"
        }
        let model = try options.load()
        guard !ModelFile.looksLikeModelFile(URL(fileURLWithPath: model.path)) else {
            throw ValidationError("\(model.path) is already a calibrated model file; calibrate the FP32 ONNX model")
        }
        if model.graph.values.contains(where: { $0.quantization != nil }) {
            throw ValidationError("\(model.path) is already quantized (QDQ); calibrate the FP32 model it was made from")
        }
        let (boardName, scheme) = try boardScheme(options)
        let threads = options.threads ?? ProcessInfo.processInfo.activeProcessorCount  // calibration runs here, not on the board

        // The calibration images, decoded and preprocessed by the classifier's own code.
        let spec = model.preprocess
        var samples: [[Float]] = []
        var hasher = SHA256()
        var names: [String] = []
        func add(_ image: DecodedImage, _ name: String) throws {
            var x = [Float](repeating: 0, count: spec.elementCount)
            try x.withUnsafeMutableBufferPointer { try spec.preprocess(image, into: $0.baseAddress!, layout: .nchw) }
            samples.append(x)
            // The set's hash covers what was decoded (size and pixels), in order: the same images give the same hash
            // whatever their file names or container.
            let header = [UInt32(image.width), UInt32(image.height), UInt32(image.channels)]
            header.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            image.pixels.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            names.append(name)
        }
        if let images {
            let files = try Self.imageFiles(in: images)
            guard !files.isEmpty else { throw ValidationError("--images \(images): no .jpg, .jpeg or .png files") }
            for url in files.prefix(limit) {
                do { try add(try ImageDecoder.decode(contentsOf: url), url.lastPathComponent) } catch { printError("skipping \(url.path): \(error)") }
            }
        } else if let dataset {
            let set = try DatasetLoader.open(dataset, split: split)
            for i in 0..<min(limit, set.count) {
                do { try add(try set.image(at: i), "#\(i)") } catch { printError("skipping image \(i): \(error)") }
            }
        }
        guard !samples.isEmpty else { throw ValidationError("no calibration image could be decoded") }
        let setHash = hasher.finalize().map { String(printf: "%02x", $0) }.joined()
        printError("calibrating \(model.path) for \(boardName) on \(samples.count) images, \(threads) threads")

        var calibration = CalibrationOptions()
        calibration.observer = observer
        calibration.percentile = percentile
        calibration.biasCorrection = !noBiasCorrection
        calibration.equalization = equalize
        calibration.perChannelWeights = !perTensorWeights
        calibration.budget = budget
        calibration.sensitivity = !noSensitivity
        calibration.evaluationSamples = evaluationImages
        calibration.threads = threads
        calibration.log = { printError($0) }
        let result = try Calibrator.calibrate(graph: model.graph, data: CalibrationData(samples: samples, imageShape: Shape([1, spec.channels, spec.inputHeight, spec.inputWidth])),
                                              scheme: scheme, options: calibration)
        print(result.report.table)

        let packed = try InferenceSession.packWeights(graph: result.graph, layout: scheme.layout).map { PackedWeightsBlob($0) }
        let reportJSON = try result.report.json()
        let settings: [String: String] = [
            "observer": observer.rawValue, "bias_correction": "\(!noBiasCorrection)", "equalization": "\(equalize)",
            "per_channel_weights": "\(!perTensorWeights)", "budget": budget.map { "\($0)" } ?? "none",
            "calibration_images": "\(samples.count)", "source": images ?? dataset ?? "", "source_kind": images != nil ? "images" : "dataset",
            "limit": "\(limit)", "split": split, "percentile": "\(percentile)", "evaluation_images": "\(evaluationImages)",
        ]
        let provenance = ModelProvenance(sourceModelSHA256: try ModelProvenance.sha256(contentsOf: URL(fileURLWithPath: model.path)),
                                         sourceModelName: URL(fileURLWithPath: model.path).lastPathComponent,
                                         calibration: .init(sha256: setHash, count: samples.count), settings: settings)
        let metadata = ModelMetadata(toolVersion: ResNetEdge.version, board: boardName, kernelLayout: scheme.kernels,
                                     preprocessing: spec, labels: model.labels?.names ?? [], provenance: provenance,
                                     calibrationReport: try JSONDecoder().decode(JSONValue.self, from: reportJSON))
        let url = URL(fileURLWithPath: out)
        try ModelFile.write(ModelFileContents(graph: result.graph, metadata: metadata, packedWeights: packed), to: url)
        if let report { try reportJSON.write(to: URL(fileURLWithPath: report)) }
        // FoundationEssentials gives the size as a UInt64 (`as? Int` gave 0 here): ask stat.
        var st = stat()
        let size = stat(out, &st) == 0 ? Int(st.st_size) : 0
        print(String(printf: "wrote %@: %.2f MB, %d INT8 layers packed for %@ (%@)%@", out, Double(size) / 1e6, packed.count, boardName,
                     scheme.layout.description, result.report.keptInHigherPrecision.isEmpty ? "" : ", \(result.report.keptInHigherPrecision.count) kept in FP32"))
    }

    /// The board the file is for and its scheme: a profile (or auto), or `generic` (scalar layout; runs anywhere).
    func boardScheme(_ options: ModelOptions) throws -> (String, QuantizationScheme) {
        if options.board == ModelFileBoardCheck.generic {
            return (ModelFileBoardCheck.generic, QuantizationScheme(boardName: ModelFileBoardCheck.generic, variant: .scalar))
        }
        let profile = try options.boardProfile()
        return (profile.name, try QuantizationScheme(board: profile))
    }

    static func imageFiles(in directory: String) throws -> [URL] {
        let root = URL(fileURLWithPath: directory)
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory else {
            throw ValidationError("--images \(directory) is not a directory")
        }
        // Recursive, hidden files included, as FileManager.enumerator(at:) was (not in FoundationEssentials).
        let subpaths = (try? FileManager.default.subpathsOfDirectory(atPath: directory)) ?? []
        let files = subpaths.map { root.appendingPathComponent($0, isDirectory: false) }
            .filter { ["jpg", "jpeg", "png"].contains($0.pathExtension.lowercased()) }
        return files.sorted { $0.path < $1.path }
    }
}
