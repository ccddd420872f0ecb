import ArgumentParser
import EdgeDaemon
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// `resnet-edge serve`: the camera-to-decision daemon (what `systemctl start resnet-edge` runs).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify frames from a camera (or a file, or a test pattern) continuously and publish the results.",
        discussion: """
        With --config the TOML file says everything (see /etc/resnet-edge/resnet-edge.toml); the options below override it.
        Without --config the built-in default runs: the reference model (../shared/models/resnet18-fashion-mnist.onnx, or \
        --model) on a moving test pattern, HTTP on 127.0.0.1:8089, results printed on standard output.
        Results: GET /latest, /events (Server-Sent Events), /metrics (Prometheus), /healthz; JSON lines on the Unix socket.
        Signals: SIGHUP reloads the configuration and the model (the old ones keep running if the new ones fail), SIGTERM stops.
        Exit status: 0 after SIGTERM or --frames, 78 for an invalid configuration, 1 for any other failure to start.
        """)

    @Option(name: .long, help: ArgumentHelp("The daemon's TOML configuration.", valueName: "file"))
    var config: String?

    @Option(name: .customLong("check-config"), help: ArgumentHelp("Validate this configuration (keys, values, files, the model) and exit: 0 if valid, 78 if not.", valueName: "file"))
    var checkConfig: String?

    @Option(name: .long, help: "Model (ONNX or .rem); overrides model.path.")
    var model: String?
    @Option(name: .long, help: "Labels file; overrides model.labels.")
    var labels: String?
    @Option(name: .long, help: ArgumentHelp("imagenet, fashion-mnist or a JSON spec; overrides model.preprocess.", valueName: "preset|file"))
    var preprocess: String?
    @Option(name: .long, help: ArgumentHelp("Board profile or auto; overrides model.board.", valueName: "name|auto"))
    var board: String?
    @Option(name: .long, help: "Worker threads (0: the board's default); overrides model.threads.")
    var threads: Int?

    @Option(name: .long, help: ArgumentHelp("camera, images, raw or pattern; overrides source.kind.", valueName: "kind"))
    var source: String?
    @Option(name: .long, help: "Camera device; overrides source.device.")
    var device: String?
    @Option(name: .long, help: ArgumentHelp("Image file or folder (images), frame file (raw); overrides source.path.", valueName: "path"))
    var path: String?
    @Option(name: .long, help: "Frame width; overrides source.width.")
    var width: Int?
    @Option(name: .long, help: "Frame height; overrides source.height.")
    var height: Int?
    @Option(name: .long, help: "Frames per second; overrides source.fps.")
    var fps: Double?
    @Option(name: .customLong("pixel-format"), help: "auto, rgb24, yuyv, nv12, mjpeg or gray; overrides source.pixel_format.")
    var pixelFormat: String?

    @Option(name: .long, help: ArgumentHelp("host:port for HTTP, \"\" for none; overrides results.http_listen.", valueName: "host:port"))
    var http: String?
    @Option(name: .long, help: ArgumentHelp("Unix socket path, \"\" for none; overrides results.socket.", valueName: "path"))
    var socket: String?
    @Option(name: .long, help: "Top classes per result; overrides results.top_k.")
    var top: Int?
    @Flag(name: .long, help: "Put the model's raw logits in every result; overrides results.logits.")
    var logits = false

    @Option(name: .long, help: "Stop after this many classified frames (exit status 0).")
    var frames: Int?
    @Flag(inversion: .prefixedNo, help: "Print every result as a JSON line on standard output (default: only without --config).")
    var print: Bool?

    func validate() throws {
        if config != nil && checkConfig != nil { throw ValidationError("--config and --check-config are exclusive: --check-config FILE checks FILE") }
        if let frames, frames < 1 { throw ValidationError("--frames must be at least 1") }
    }

    /// The command-line settings, applied over the file's at start and after every reload.
    func overrides() throws -> @Sendable (inout DaemonConfiguration) throws -> Void {
        // Validated through the same TOML rules as the file, so `--width abc` and `width = "abc"` say the same.
        var lines: [String: [String]] = [:]
        func add(_ section: String, _ key: String, _ value: String) { lines[section, default: []].append("\(key) = \(value)") }
        func str(_ s: String) -> String { "\"" + s.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\"" }
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ p: String) -> String { p.isEmpty || p.hasPrefix("/") ? p : cwd + "/" + p }
        if let model { add("model", "path", str(absolute(model))) }
        if let labels { add("model", "labels", str(absolute(labels))) }
        if let preprocess { add("model", "preprocess", str(["imagenet", "fashion-mnist"].contains(preprocess) ? preprocess : absolute(preprocess))) }
        if let board { add("model", "board", str(board)) }
        if let threads { add("model", "threads", String(threads)) }
        if let source { add("source", "kind", str(source)) }
        if let device { add("source", "device", str(device)) }
        if let path { add("source", "path", str(absolute(path))) }
        if let width { add("source", "width", String(width)) }
        if let height { add("source", "height", String(height)) }
        if let fps { add("source", "fps", String(fps)) }
        if let pixelFormat { add("source", "pixel_format", str(pixelFormat)) }
        if let http { add("results", "http_listen", str(http)) }
        if let socket { add("results", "socket", str(absolute(socket))) }
        if let top { add("results", "top_k", String(top)) }
        if logits { add("results", "logits", "true") }
        let text = lines.map { "[\($0.key)]\n" + $0.value.joined(separator: "\n") }.joined(separator: "\n")
        let table = try TOML.parse(text)
        return { config in try ConfigurationLoader.apply(table, to: &config, source: "command line") }
    }

    func run() throws {
        // Before any thread exists: every thread inherits the blocked signals, and the main thread takes them.
        DaemonSignals.block()
        if let checkConfig { return try check(checkConfig) }

        let adjust = try overrides()
        var configuration: DaemonConfiguration
        do {
            if let config {
                configuration = try ConfigurationLoader.load(file: config)
            } else {
                configuration = try builtInDefault()
            }
            try adjust(&configuration)
        } catch let error as ConfigError {
            for issue in error.issues { printError("error: \(issue)") }
            throw ExitCode(78)
        } catch let error as DaemonError {
            printError("error: \(error)")
            throw ExitCode(78)
        }
        let daemon = Daemon(configuration: configuration,
                            options: Daemon.Options(printResults: print ?? (config == nil), stopAfterFrames: frames, adjust: adjust))
        do {
            try daemon.start()
        } catch {
            daemon.log.error("cannot start: \(error)")
            throw ExitCode(1)
        }
        throw ExitCode(DaemonSignals.run(daemon))
    }

    /// No file: the reference model on the test pattern, HTTP on loopback, no socket (no /run for a user).
    func builtInDefault() throws -> DaemonConfiguration {
        var c = DaemonConfiguration.defaults(modelPath: "")
        if model == nil {
            guard let reference = ReferenceModel.locate() else {
                throw DaemonError("no --config and no reference model found (looked for \(ReferenceModel.fileName) in $RESNET_EDGE_SHARED/models, ../shared/models and beside the binary); pass --model MODEL or --config FILE")
            }
            c.model.path = reference
            c.model.preprocess = "fashion-mnist"
        }
        c.source.kind = .pattern
        c.source.width = 320
        c.source.height = 240
        c.results.socket = ""
        c.log.summaryInterval = 10
        return c
    }

    func check(_ file: String) throws {
        let adjust = try overrides()
        do {
            var c = try ConfigurationLoader.load(file: file)
            try adjust(&c)
            let report = try ConfigurationLoader.checkFiles(c)
            Swift.print("\(file): valid")
            for line in report { Swift.print("  " + line) }
        } catch let error as ConfigError {
            for issue in error.issues { printError("error: \(issue)") }
            throw ExitCode(78)
        } catch {
            printError("error: \(file): \(error)")
            throw ExitCode(78)
        }
    }
}

/// Where the built-in default finds the reference model.
enum ReferenceModel {
    static let fileName = "resnet18-fashion-mnist.onnx"

    static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        var candidates: [String] = []
        if let shared = environment["RESNET_EDGE_SHARED"], !shared.isEmpty { candidates.append(shared + "/models/" + fileName) }
        candidates.append(FileManager.default.currentDirectoryPath + "/../shared/models/" + fileName)
        // The binary lives in <repository>/.build*/<configuration>/: ../shared is beside the repository.
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent("../shared/models/" + fileName).path)
            dir = dir.deletingLastPathComponent()
        }
        candidates.append("/usr/share/resnet-edge/models/" + fileName)
        return candidates.first { FileManager.default.fileExists(atPath: $0) }.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
    }
}
