#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything `resnet-edge serve` is told by its TOML file (/etc/resnet-edge/resnet-edge.toml). Every key is
/// documented in systemd/resnet-edge.toml and the README; `ConfigurationLoader` reads and validates them.
public struct DaemonConfiguration: Equatable, Sendable {
    public enum SourceKind: String, CaseIterable, Sendable {
        /// A V4L2 camera (/dev/videoN).
        case camera
        /// A JPEG/PNG file or a folder of them, replayed at `fps`.
        case images
        /// A file of raw frames (`pixel_format`, `width` x `height`), replayed at `fps`.
        case raw
        /// A synthetic moving test pattern: needs no camera and no files.
        case pattern
    }

    public struct Model: Equatable, Sendable {
        /// An ONNX file or a .rem model file.
        public var path: String
        /// A labels file; nil: `<model>.labels.txt` or `labels.txt` beside the model (or the model file's own).
        public var labels: String?
        /// "imagenet", "fashion-mnist" or a JSON spec file; nil: the model's own (sidecar, metadata, ImageNet).
        public var preprocess: String?
        /// A board profile name, or "auto" (detect; a machine that is no known board runs without one).
        public var board: String
        /// Worker threads; 0: the board profile's default, else every core.
        public var threads: Int
        /// INT8 kernel variant: auto, scalar, neon, neondot, avx2, avx512vnni.
        public var kernels: String
        /// auto or fp32.
        public var precision: String
    }

    public struct Source: Equatable, Sendable {
        public var kind: SourceKind
        public var device: String
        public var width: Int
        public var height: Int
        public var fps: Double
        /// "auto" or a PixelFormat raw value (rgb24, yuyv, nv12, mjpeg, gray).
        public var pixelFormat: String
        public var buffers: Int
        /// kind images: a file or folder; kind raw: the raw file.
        public var path: String
        /// Seconds between attempts to reopen a camera that went away (or failed to open).
        public var reopenBackoff: Double
    }

    public struct Results: Equatable, Sendable {
        /// Unix socket path for JSON-lines clients; "" = off.
        public var socket: String
        /// File mode of the socket (clients need write permission to connect).
        public var socketMode: Int
        /// "host:port" for the HTTP endpoints; "" = off. Port 0 picks a free port (logged).
        public var httpListen: String
        public var topK: Int
        /// Every result also carries the model's raw logits (for comparing machines bit for bit; off by default).
        public var logits: Bool = false
        /// At most this many results per second to clients (/events, the socket); 0 = every classification.
        public var publishHz: Double
        /// Results queued for one client before it counts as too slow and is disconnected.
        public var clientQueue: Int
        /// Most simultaneous socket and /events clients; more are refused.
        public var maxClients: Int
    }

    public struct Health: Equatable, Sendable {
        /// Seconds without a classified frame after which /healthz says 503 and STATUS says unhealthy.
        public var staleAfter: Double
        /// Seconds between STATUS= updates to systemd.
        public var statusInterval: Double
        /// Seconds a reload waits for a changed source's first frame before keeping the old source.
        public var reloadTimeout: Double
        /// Seconds after start when READY=1 goes to systemd even without a classified frame, if the source is
        /// failing (a camera not plugged in at boot): the service runs, unhealthy, while the camera is retried.
        public var readyTimeout: Double
    }

    public struct Log: Equatable, Sendable {
        /// error, warning, info or debug.
        public var level: String
        /// Seconds between summary lines (fps, latency, health) in the journal; 0 = none.
        public var summaryInterval: Double
    }

    public var model: Model
    public var source: Source
    public var results: Results
    public var health: Health
    public var log: Log
    /// The file this came from; nil for the built-in default.
    public var file: String?

    /// The defaults of every key but model.path (which has none in a file).
    public static func defaults(modelPath: String) -> DaemonConfiguration {
        DaemonConfiguration(
            model: Model(path: modelPath, labels: nil, preprocess: nil, board: "auto", threads: 0, kernels: "auto", precision: "auto"),
            source: Source(kind: .camera, device: "/dev/video0", width: 640, height: 480, fps: 30, pixelFormat: "auto", buffers: 4,
                           path: "", reopenBackoff: 1.0),
            results: Results(socket: "/run/resnet-edge/results.sock", socketMode: 0o666, httpListen: "127.0.0.1:8089", topK: 5,
                             publishHz: 0, clientQueue: 64, maxClients: 64),
            health: Health(staleAfter: 5, statusInterval: 2, reloadTimeout: 10, readyTimeout: 30),
            log: Log(level: "info", summaryInterval: 60),
            file: nil)
    }

    /// The HTTP host and port, when enabled (validated by the loader).
    public var httpEndpoint: (host: String, port: Int)? {
        results.httpListen.isEmpty ? nil : ListenAddress.parse(results.httpListen)
    }
}

public enum ListenAddress {
    /// "host:port" or "[v6]:port"; nil when malformed. Port 0..65535.
    public static func parse(_ text: String) -> (host: String, port: Int)? {
        var host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }   // IPv6 needs brackets
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".-:_".contains($0) }),
              let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (String(host), port)
    }
}
