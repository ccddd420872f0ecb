import ArgumentParser
import EdgeBoards
import EdgeCapture
import EdgeProbe
import EdgeProbeTool
import EdgeRuntime
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// `resnet-edge probe`: the on-device latency probe (run), and `probe compare A.json B.json`.
struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure how fast a model really runs on this machine, why, and whether it stays fast when hot.",
        discussion: """
        `resnet-edge probe --model M` runs every configuration of --batch x --threads (warm-up, then timed runs into an \
        HDR histogram: p50/p90/p99/p99.9/max, mean and stddev; then profiled runs for per-layer times), and with \
        --source pattern or --camera DEVICE the whole capture -> preprocessing -> inference -> publishing pipeline \
        (per-stage times and camera-to-result latency from the frames' timestamps), while a sampler thread records the \
        CPU clock, the temperature and the throttle flags. --out writes the JSON (docs/probe-schema.md), --report the \
        HTML report. `resnet-edge probe compare A.json B.json` shows what got slower or faster.
        """,
        subcommands: [ProbeRun.self, ProbeCompare.self, ProbeReportCommand.self],
        defaultSubcommand: ProbeRun.self)
}

/// "1,2,4" (or one number).
struct IntList: ExpressibleByArgument {
    var values: [Int]
    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmed(.whitespaces) }
        let numbers = parts.compactMap { Int($0) }
        guard !parts.isEmpty, numbers.count == parts.count else { return nil }
        values = numbers
    }
    init(_ values: [Int]) { self.values = values }
    var defaultValueDescription: String { values.map(String.init).joined(separator: ",") }
}

/// "30s", "500ms", "2m", "1h" or plain seconds.
struct DurationArgument: ExpressibleByArgument {
    var seconds: Double
    init?(argument: String) {
        let s = argument.trimmed(.whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var value: Double? = Double(s)
        if value == nil {
            for (suffix, factor) in units where s.hasSuffix(suffix) {
                if let v = Double(s.dropLast(suffix.count)) { value = v * factor; break }
            }
        }
        guard let value, value.isFinite, value >= 0 else { return nil }
        seconds = value
    }
    init(seconds: Double) { self.seconds = seconds }
    var defaultValueDescription: String { ProbeSummary.seconds(seconds) }
}

extension PixelFormat: ExpressibleByArgument {}

struct ProbeRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Probe a model (the default: `resnet-edge probe --model M ...`).")

    @Option(name: .long, help: "The model: an ONNX file, or a model file (.rem).")
    var model: String

    @Option(name: .long, help: "Class names, one per line (as for classify).")
    var labels: String?

    @Option(name: .long, help: ArgumentHelp("Preprocessing: imagenet, fashion-mnist, or a JSON spec file (as for classify).", valueName: "preset|file"))
    var preprocess: String?

    @Option(name: .long, help: ArgumentHelp("Board profile (see `resnet-edge boards`) or auto (default: detected if this machine is a known board; sensors from the host's sysfs otherwise).", valueName: "name|auto"))
    var board: String?

    @Option(name: .long, help: ArgumentHelp("Thread counts to sweep, e.g. 1,2,4 (default: 1, 2, 4, ... up to the board's default threads, else all cores).", valueName: "list"))
    var threads: IntList?

    @Option(name: .long, help: ArgumentHelp("Batch sizes to sweep, e.g. 1,4,8.", valueName: "list"))
    var batch = IntList([1])

    @Option(name: .long, help: ArgumentHelp("The whole timed budget (30s, 500ms, 2m), shared by the configurations and the pipeline; each configuration still makes --min-runs runs.", valueName: "time"))
    var duration = DurationArgument(seconds: 30)

    @Option(name: .long, help: ArgumentHelp("Also run the capture pipeline on this V4L2 camera (camera-to-result latency from its buffer timestamps).", valueName: "device"))
    var camera: String?

    @Option(name: .long, help: ArgumentHelp("Pipeline source: pattern (EdgeCapture's test pattern, no camera needed) or camera (--camera, default the board's).", valueName: "pattern|camera"))
    var source: String?

    @Option(name: .long, help: ArgumentHelp("Frame size for the pipeline source (default: the board profile's camera, else 640x480).", valueName: "WxH"))
    var frameSize: String?

    @Option(name: .long, help: "Frames per second of the pipeline source (default: the board profile's camera, else 30).")
    var fps: Double?

    @Option(name: .long, help: ArgumentHelp("Pixel format: the pattern's (default yuyv) or the one asked of the camera (default: auto).", valueName: "format"))
    var pixelFormat: PixelFormat?

    @Option(name: .long, help: "Warm-up runs per configuration (not measured; the first one is reported).")
    var warmup = 5

    @Option(name: .long, help: "Minimum timed runs per configuration.")
    var minRuns = 10

    @Option(name: .long, help: ArgumentHelp("How often the clock, temperature and throttle flags are sampled.", valueName: "time"))
    var sampleInterval = DurationArgument(seconds: 0.2)

    @OptionGroup var runtimeOptions: RuntimeOptions

    @Option(name: .long, help: "Write the result as JSON (schema: docs/probe-schema.md).")
    var out: String?

    @Option(name: .long, help: "Write the HTML report (self-contained: inline SVG charts, no scripts).")
    var report: String?

    @Flag(name: .long, help: "Print the JSON on standard output instead of the text summary.")
    var json = false

    func validate() throws {
        if let threads, threads.values.isEmpty || !threads.values.allSatisfy({ (1...256).contains($0) }) {
            throw ValidationError("--threads takes numbers between 1 and 256, e.g. 1,2,4")
        }
        guard !batch.values.isEmpty, batch.values.allSatisfy({ (1...4096).contains($0) }) else {
            throw ValidationError("--batch takes numbers between 1 and 4096, e.g. 1,4,8")
        }
        if let threads, Set(threads.values).count != threads.values.count { throw ValidationError("--threads repeats a value") }
        if Set(batch.values).count != batch.values.count { throw ValidationError("--batch repeats a value") }
        guard minRuns >= 1 else { throw ValidationError("--min-runs must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be 0 or more") }
        guard sampleInterval.seconds >= 0.01 else { throw ValidationError("--sample-interval must be at least 10ms") }
        if let source, !["pattern", "camera"].contains(source) { throw ValidationError("--source takes pattern or camera, got '\(source)'") }
        if source == "pattern" && camera != nil { throw ValidationError("--source pattern and --camera exclude each other") }
        if let frameSize, Self.parseSize(frameSize) == nil { throw ValidationError("--frame-size takes WxH, e.g. 640x480, got '\(frameSize)'") }
        if let fps, !(fps > 0 && fps <= 1000) { throw ValidationError("--fps must be between 0 and 1000") }
    }

    static func parseSize(_ s: String) -> (Int, Int)? {
        let parts = s.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0, w <= 1 << 15, h <= 1 << 15 else { return nil }
        return (w, h)
    }

    func run() throws {
        // The model as every command loads it (preprocessing, labels, a model file's board check).
        var modelArguments = ["--model", model]
        if let labels { modelArguments += ["--labels", labels] }
        if let preprocess { modelArguments += ["--preprocess", preprocess] }
        if let board { modelArguments += ["--board", board] }
        let modelOptions = try ModelOptions.parse(modelArguments)

        let resolution = try modelOptions.boardResolution()
        let profile: BoardProfile? = resolution.profile
        let reason: String? = resolution.reason

        let t0 = probeClock()
        let loaded = try modelOptions.load()
        let loadSeconds = probeClock() - t0

        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threadList = threads?.values ?? Self.defaultThreads(profile?.default_threads ?? cores)

        var settings = ProbeSettings(threads: threadList, batches: batch.values, duration: duration.seconds)
        settings.warmupRuns = warmup
        settings.minRuns = minRuns
        settings.sampleInterval = sampleInterval.seconds
        settings.kernels = runtimeOptions.kernels
        settings.precision = runtimeOptions.precision
        settings.source = try pipelineSource(profile)

        let sensors = SystemSensors.discover(profile: profile)
        let inputs = ProbeInputs(model: loaded, loadSeconds: loadSeconds, board: profile, boardReason: reason, sensors: sensors,
                                 command: ["resnet-edge"] + CommandLine.arguments.dropFirst(), toolVersion: ResNetEdge.version)
        let runner = try ProbeRunner(inputs: inputs, settings: settings)
        runner.log = { printError("probe: " + $0) }
        printError("probe: \(model): \(threadList.count * batch.values.count) configuration(s)\(settings.source == nil ? "" : " + pipeline"), "
                   + "\(ProbeSummary.seconds(duration.seconds)) budget; sensors: \(sensors.origin)")
        for note in sensors.notes { printError("probe: \(note)") }

        let result = try runner.run()
        let problems = result.consistencyProblems()
        for p in problems { printError("probe: note: \(p)") }

        if let out {
            try result.jsonData().write(to: URL(fileURLWithPath: out))
            printError("probe: wrote \(out)")
        }
        if let report {
            try Data(ProbeReport.html(result).utf8).write(to: URL(fileURLWithPath: report))
            printError("probe: wrote \(report)")
        }
        if json {
            writeStandardOutput(bytes: try result.jsonData())
            print()
        } else {
            print(ProbeSummary.text(result), terminator: "")
        }
    }

    /// 1, 2, 4, ... below `n`, then `n`.
    static func defaultThreads(_ n: Int) -> [Int] {
        var list: [Int] = []
        var t = 1
        while t < n { list.append(t); t *= 2 }
        list.append(max(1, n))
        return list
    }

    func pipelineSource(_ profile: BoardProfile?) throws -> ProbeSource? {
        let kind = source ?? (camera != nil ? "camera" : nil)
        guard let kind else { return nil }
        let size = frameSize.flatMap(Self.parseSize) ?? profile.map { ($0.camera.width, $0.camera.height) } ?? (640, 480)
        switch kind {
        case "pattern":
            return .pattern(width: size.0, height: size.1, fps: fps ?? 30, format: pixelFormat ?? .yuyv)
        default:
            let device = camera ?? profile?.camera.device ?? "/dev/video0"
            let rate = fps.map { Int($0.rounded()) } ?? profile?.camera.fps ?? 30
            return .camera(CameraConfiguration(device: device, width: size.0, height: size.1, fps: rate, pixelFormat: pixelFormat))
        }
    }
}

struct ProbeCompare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Show what got slower or faster between two probe results (A the baseline, B the new run).",
        discussion: "Overall (the headline configurations' percentiles), per configuration (batch x threads, matched), per layer (the headline configurations' steps, matched by name); each section sorted by the size of the change. Changes under --threshold percent are reported as the same (noise).")

    @Argument(help: "The baseline probe JSON.")
    var a: String

    @Argument(help: "The probe JSON to compare with it.")
    var b: String

    @Option(name: .long, help: "Noise threshold in percent: smaller changes count as unchanged.")
    var threshold = 5.0

    @Flag(name: .long, help: "Print the comparison as JSON.")
    var json = false

    @Flag(name: .long, help: "Exit with status 1 if anything got slower beyond the threshold (for CI).")
    var failOnSlower = false

    func validate() throws {
        guard threshold >= 0, threshold.isFinite else { throw ValidationError("--threshold must be a percentage >= 0") }
    }

    func run() throws {
        let ra = try ProbeResult.load(path: a), rb = try ProbeResult.load(path: b)
        let comparison = ProbeComparison.compare(ra, rb, aName: a, bName: b, thresholdPercent: threshold)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            writeStandardOutput(bytes: try encoder.encode(comparison))
            print()
        } else {
            print(comparison.renderText(), terminator: "")
        }
        if failOnSlower && !comparison.slower.isEmpty { throw ExitCode(1) }
    }
}

/// Renders a probe JSON again (a result copied off a board, or one written by an older report renderer) without
/// measuring anything.
struct ProbeReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render the HTML report (and the text summary) of a probe result JSON.")

    @Argument(help: "A probe JSON (resnet-edge probe --out).")
    var result: String

    @Option(name: .long, help: "Write the self-contained HTML report here.")
    var report: String?

    func run() throws {
        let r = try ProbeResult.load(path: result)
        if let report {
            try Data(ProbeReport.html(r).utf8).write(to: URL(fileURLWithPath: report))
            writeStandardError("probe: wrote \(report)\n")
        }
        print(ProbeSummary.text(r), terminator: "")
    }
}
