import EdgeCapture
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Builds the frame source `[source]` describes. Checks what can be checked without opening it (files exist);
/// a camera that is not there yet is fine: the capture keeps reopening it until it appears.
public enum SourceFactory {
    public static func make(_ s: DaemonConfiguration.Source) throws -> FrameSource {
        let format = s.pixelFormat == "auto" ? nil : PixelFormat(rawValue: s.pixelFormat)
        switch s.kind {
        case .camera:
            return V4L2Camera(CameraConfiguration(device: s.device, width: s.width, height: s.height, fps: max(1, Int(s.fps.rounded())),
                                                  pixelFormat: format, buffers: s.buffers))
        case .images:
            var isDirectory = false
            guard FileManager.default.fileExists(atPath: s.path, isDirectory: &isDirectory) else {
                throw DaemonError("source.path: \(s.path) does not exist")
            }
            return ImageFileSource(path: s.path, fps: s.fps)
        case .raw:
            guard FileManager.default.fileExists(atPath: s.path) else { throw DaemonError("source.path: \(s.path) does not exist") }
            guard let format else { throw DaemonError("source.pixel_format: kind \"raw\" needs the frames' format") }
            return RawVideoSource(path: s.path, format: format, width: s.width, height: s.height, fps: s.fps)
        case .pattern:
            return TestPatternSource(width: s.width, height: s.height, fps: s.fps, format: format ?? .yuyv)
        }
    }

    /// The reopen schedule for LatestFrameCapture: `reopen_backoff` doubling up to 30 s (a camera unplugged for a
    /// while is retried every 30 s, one replugged quickly comes back within the first step).
    public static func backoff(_ first: Double) -> [Double] {
        var steps: [Double] = []
        var b = first
        while b < 30 && steps.count < 16 { steps.append(b); b *= 2 }
        steps.append(max(first, min(30, b)))
        return steps
    }

    /// Whether two source settings describe the same source (a reload keeps the running one).
    static func same(_ a: DaemonConfiguration.Source, _ b: DaemonConfiguration.Source) -> Bool { a == b }

    /// Whether two settings use the same device, which cannot be open twice (a reload must close the old first).
    static func sharesDevice(_ a: DaemonConfiguration.Source, _ b: DaemonConfiguration.Source) -> Bool {
        a.kind == .camera && b.kind == .camera && a.device == b.device
    }
}
