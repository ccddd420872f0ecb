import ArgumentParser
import EdgeGraph
import EdgeModel
import EdgeModelFile
import EdgeONNX
import EdgeRuntime
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport
import Dispatch

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure inference latency and throughput, side by side with onnxruntime in the same run.",
        discussion: "Each configuration (model x batch x threads) is warmed up, then run for at least --min-seconds and --min-runs; the median is reported. A quantized (QDQ) model runs INT8 (see --kernels, --precision). onnxruntime runs the same model through bench/onnxruntime_peer.py with the Python given by --peer-python (default .venv/bin/python, as made by scripts/test-setup.sh): for a QDQ model that is onnxruntime's INT8 path. --int8-model benches a second model (the QDQ version of --model, e.g. from bench/quantize_onnxruntime.py) in the same run; --no-peer skips onnxruntime.")

    @Option(name: .long, help: "An ONNX model.")
    var model: String

    @Option(name: .long, help: "A second model benched in the same run, typically the QDQ (INT8) version of --model.")
    var int8Model: String?

    @Option(name: .long, help: "Input height and width.")
    var size = 224

    @Option(name: .long, parsing: .upToNextOption, help: "Batch sizes.")
    var batch: [Int] = [1]

    @Option(name: .long, parsing: .upToNextOption, help: "Thread counts.")
    var threads: [Int] = [1, 2]

    @OptionGroup var runtimeOptions: RuntimeOptions

    @Option(name: .long, help: "Minimum timed runs per configuration.")
    var minRuns = 10

    @Option(name: .long, help: "Minimum timed seconds per configuration.")
    var minSeconds = 2.0

    @Option(name: .long, help: "Python with onnxruntime for the peer column.")
    var peerPython = ".venv/bin/python"

    @Flag(name: .long, help: "Do not run onnxruntime.")
    var noPeer = false

    @Flag(name: .long, help: "One JSON object per configuration instead of a table.")
    var json = false

    @Flag(name: .long, help: "Also print each step's median time (nodes and INT8/FP32 conversions, on standard error).")
    var layers = false

    @Flag(name: .long, help: "Import a QDQ model's BatchNorms as float ChannelAffine steps instead of folding them into the quantized convolutions (to measure the fold).")
    var keepQdqBatchnorm = false

    func validate() throws {
        guard batch.allSatisfy({ $0 >= 1 }), threads.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--batch and --threads take positive numbers") }
    }

    func run() throws {
        let peerScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("bench/onnxruntime_peer.py").path
        let peerAvailable = !noPeer && FileManager.default.isExecutableFile(atPath: peerPython) && FileManager.default.fileExists(atPath: peerScript)
        if !noPeer && !peerAvailable {
            printError("note: no onnxruntime peer (\(peerPython) or \(peerScript) missing); run scripts/test-setup.sh or pass --peer-python")
        }
        let models = [model] + (int8Model.map { [$0] } ?? [])
        if !json {
            print("input \(size)x\(size); median of >= \(minRuns) runs and >= \(minSeconds) s per row; onnxruntime runs the same file")
        }
        for path in models {
            // A model file (.rem) runs with its packed weights; onnxruntime cannot read it, so its peer column stays empty
            // (bench the QDQ ONNX model beside it for that).
            let isModelFile = ModelFile.looksLikeModelFile(URL(fileURLWithPath: path))
            let modelFile = isModelFile ? try ClassificationModel.load(path: path) : nil
            let graph = try modelFile?.graph ?? ONNXImporter.load(contentsOf: URL(fileURLWithPath: path), foldQuantizedAffines: !keepQdqBatchnorm).graph
            let channels: Int = {
                if case .fixed(let c)? = graph.values[graph.inputs[0]].declaredShape?[1] { return c }
                return 3
            }()
            var printedHeader = false
            for b in batch {
                for t in threads {
                    let shape = Shape([b, channels, size, size])
                    let shapes = try graph.inferShapes(inputShapes: [shape])
                    let macs = graph.nodes.reduce(0) { $0 + $1.op.multiplyAccumulates(inputs: $1.inputs.map { shapes[$0] }, output: shapes[$1.output]) }
                    let session = try InferenceSession(graph: graph, options: runtimeOptions.sessionOptions(threads: t), prepacked: modelFile?.prepacked)
                    let precision = session.runsINT8 ? (session.fp32Nodes.isEmpty ? "int8" : "mixed") : "fp32"
                    if !json && !printedHeader {
                        print("\n\(path), input \(channels)x\(size)x\(size): \(session.precisionSummary)")
                        print("precision  batch  threads   ours ms/img  img/s   GMAC/s  | onnxruntime ms/img  img/s  | ours/ort latency")
                        printedHeader = true
                    }
                    try session.prepare(inputShape: shape)
                    let input = try session.inputBuffer()
                    var rng = SystemRandomNumberGenerator()
                    for i in 0..<shape.elementCount { input[i] = Float.random(in: -2...2, using: &rng) }
                    let ours = try measure { try session.execute() }
                    if layers { try printLayerTimes(session, graph: graph, shapes: shapes, batch: b, threads: t) }
                    let oursPerImage = ours / Double(b)
                    var peer: Double? = nil
                    if peerAvailable && !isModelFile {
                        peer = try runPeer(script: peerScript, model: path, batch: b, channels: channels, threads: t).map { $0 / Double(b) }
                    }
                    let gmacs = Double(macs) / 1e9 / (ours / 1000)
                    if json {
                        var object: [String: Any] = ["model": path, "precision": precision, "batch": b, "threads": t, "size": size,
                                                     "ms_per_image": oursPerImage, "images_per_second": 1000 / oursPerImage, "gmac_per_second": gmacs]
                        if session.runsINT8 { object["kernels"] = session.kernelVariant.rawValue; object["kernel_names"] = session.kernelNames }
                        if let peer { object["onnxruntime_ms_per_image"] = peer; object["ratio_to_onnxruntime"] = oursPerImage / peer }
                        print(jsonLine(object))
                    } else {
                        let peerText = peer.map { String(printf: "%10.2f  %7.1f  | %6.2fx", $0, 1000 / $0, oursPerImage / $0) } ?? "         -        -  |      -"
                        print(String(printf: "%-9@  %5d  %7d  %12.2f  %6.1f  %7.1f  | ", precision, b, t, oursPerImage, 1000 / oursPerImage, gmacs) + peerText)
                    }
                }
            }
        }
    }

    private func printLayerTimes(_ session: InferenceSession, graph: Graph, shapes: [Shape], batch: Int, threads: Int) throws {
        var runs: [[StepTiming]] = []
        for _ in 0..<max(5, minRuns) { runs.append(try session.executeProfiledSteps()) }
        guard let first = runs.first else { return }
        let medians = first.indices.map { i in runs.map { $0[i].seconds }.sorted()[runs.count / 2] * 1000 }
        let total = medians.reduce(0, +)
        printError(String(printf: "steps, batch %d, %d threads (median ms; sum %.2f ms):", batch, threads, total))
        let executions = session.nodeExecutions
        for (i, step) in first.enumerated() {
            var rate = "", kernel = step.op
            if let n = step.node, step.label == graph.nodes[n].name {
                let node = graph.nodes[n]
                let macs = node.op.multiplyAccumulates(inputs: node.inputs.map { shapes[$0] }, output: shapes[node.output])
                if macs > 0 { rate = String(printf: "%6.1f GMAC/s", Double(macs) / 1e6 / medians[i]) }
                kernel = executions[n].precision == .int8 ? executions[n].kernel : "fp32 " + node.op.name
                kernel += " " + shapes[node.output].description
            }
            printError(String(printf: "  %3d %-44@ %-52@ %7.3f ms %5.1f%%  ", i, step.label, kernel,
                              medians[i], medians[i] / total * 100) + rate)
        }
    }

    /// Median milliseconds of `body` after three warm-up calls.
    private func measure(_ body: () throws -> Void) throws -> Double {
        for _ in 0..<3 { try body() }
        var times: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        while times.count < minRuns || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < minSeconds {
            let t = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
        }
        return times.sorted()[times.count / 2]
    }

    private func runPeer(script: String, model: String, batch: Int, channels: Int, threads: Int) throws -> Double? {
        let arguments = [script, "--model", model, "--batch", String(batch), "--height", String(size), "--width", String(size),
                         "--channels", String(channels), "--threads", String(threads), "--min-runs", String(minRuns),
                         "--min-seconds", String(minSeconds)]
        let (status, output) = try runProcess(peerPython, arguments: arguments)
        // The peer prints one JSON object; only its median matters.
        struct PeerResult: Decodable { var median_ms: Double? }
        guard status == 0 else {
            printError("note: the onnxruntime peer failed (exit \(status))")
            return nil
        }
        return try JSONDecoder().decode(PeerResult.self, from: Data(output)).median_ms
    }
}
