// capture-bench: EdgeCapture's bench and camera check, independent of the resnet-edge CLI.
//
//   capture-bench preprocess [WIDTHxHEIGHT] [FORMAT] [ITERATIONS] [imagenet|fashion|all] [noref]   one-pass preprocessing speed vs the reference path
//   capture-bench probe DEVICE                                      V4L2Camera.probe(device:)
//   capture-bench capture DEVICE [FRAMES] [WIDTHxHEIGHT] [FPS] [FORMAT]
//                                 opens the camera, reads FRAMES frames (default 30), prints what it got; exit 1 on error
//   capture-bench watch DEVICE [SECONDS] [WIDTHxHEIGHT]
//                                 runs LatestFrameCapture on the camera (reopening it after faults) and prints its stats
//                                 every 0.5 s (a consumer taking frames every 50 ms); exit 1 if no frame ever came
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import EdgeSupport
import EdgeCapture
import EdgeImaging

func fail(_ message: String) -> Never {
    writeStandardError("capture-bench: \(message)\n")
    exit(1)
}

func size(_ s: String) -> (Int, Int) {
    let parts = s.split(separator: "x").compactMap { Int($0) }
    guard parts.count == 2 else { fail("bad size \(s) (want WIDTHxHEIGHT)") }
    return (parts[0], parts[1])
}

func format(_ s: String) -> PixelFormat {
    guard let f = PixelFormat(rawValue: s) else { fail("bad format \(s) (\(PixelFormat.allCases.map(\.rawValue).joined(separator: ", ")))") }
    return f
}

/// Milliseconds of this thread's CPU time per call (CPU time, so that other load on a shared machine does not count;
/// the best of 3 rounds).
func time(_ iterations: Int, _ body: () -> Void) -> Double {
    func cpu() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
    body()
    var best = Double.infinity
    for _ in 0..<3 {
        let start = cpu()
        for _ in 0..<iterations { body() }
        best = min(best, (cpu() - start) / Double(iterations) * 1000)
    }
    return best
}

var args = Array(CommandLine.arguments.dropFirst())
guard let command = args.first else {
    print("usage: capture-bench preprocess [WxH] [FORMAT] [ITERATIONS] | probe DEVICE | capture DEVICE [FRAMES] [WxH] [FPS] [FORMAT]")
    exit(2)
}
args.removeFirst()

switch command {
case "preprocess":
    let (w, h) = args.count > 0 ? size(args[0]) : (640, 480)
    let f = args.count > 1 ? format(args[1]) : .yuyv
    let iterations = args.count > 2 ? Int(args[2]) ?? 200 : 200
    let frame = try TestPatternSource.frame(sequence: 7, width: w, height: h, format: f)
    let which = args.count > 3 ? args[3] : "all"
    for (name, spec) in [("imagenet 224x224", PreprocessSpec.imagenet()), ("fashion-mnist gray 32x32", PreprocessSpec.fashionMNIST)]
        where which == "all" || name.hasPrefix(which) {
        let p = try FramePreprocessor(spec: spec, frameWidth: w, frameHeight: h, format: f)
        var out = [Float](repeating: 0, count: spec.elementCount)
        var q = [Int8](repeating: 0, count: spec.elementCount)
        let onePass = out.withUnsafeMutableBufferPointer { o in time(iterations) { p.run(frame, into: o.baseAddress!) } }
        let int8 = q.withUnsafeMutableBufferPointer { o in time(iterations) { p.run(frame, into: o.baseAddress!, scale: 0.0186, zeroPoint: -14) } }
        let skipReference = args.count > 4 && args[4] == "noref"
        let reference = skipReference ? .nan : out.withUnsafeMutableBufferPointer { o in
            time(max(1, iterations / 4)) {
                let image = try! ColorConversion.image(from: frame)
                try! spec.preprocess(image, into: o.baseAddress!, layout: .nhwc)
            }
        }
        print(String(printf: "%@ %dx%d -> %@: one-pass float %.3f ms, int8 %.3f ms; reference (convert + EdgeImaging) %.3f ms",
                     f.rawValue, w, h, name, onePass, int8, reference))
    }
case "probe":
    guard let device = args.first else { fail("probe needs a device") }
    print(V4L2Camera.probe(device: device))
case "capture":
    guard let device = args.first else { fail("capture needs a device") }
    let frames = args.count > 1 ? Int(args[1]) ?? 30 : 30
    let (w, h) = args.count > 2 ? size(args[2]) : (640, 480)
    let fps = args.count > 3 ? Int(args[3]) ?? 30 : 30
    let f: PixelFormat? = args.count > 4 && args[4] != "auto" ? format(args[4]) : nil
    let camera = V4L2Camera(CameraConfiguration(device: device, width: w, height: h, fps: fps, pixelFormat: f))
    do { try camera.open() } catch { fail("\(error)") }
    defer { camera.close() }
    guard let n = camera.negotiated else { fail("no format negotiated") }
    print("negotiated: \(n.format.rawValue) \(n.width)x\(n.height) \(n.fps) fps (driver \(camera.driver), card \(camera.card))")
    var got = 0, distinct = Set<Int>(), first = 0.0, last = 0.0, lastSequence: UInt64 = 0, preprocessMs = 0.0
    var preprocessor: FramePreprocessor? = nil
    var exact = false
    var tensor = [Float](repeating: 0, count: PreprocessSpec.imagenet().elementCount)
    while got < frames {
        let frame: Frame?
        do { frame = try camera.read(timeout: 2) } catch { fail("after \(got) frames: \(error)") }
        guard let frame else { fail("timeout after \(got) frames") }
        if frame.sequence <= lastSequence { fail("sequence went from \(lastSequence) to \(frame.sequence)") }
        lastSequence = frame.sequence
        if got == 0 { first = frame.timestamp }
        last = frame.timestamp
        var hasher = Hasher()
        hasher.combine(bytes: frame.bytes)
        distinct.insert(hasher.finalize())
        if preprocessor == nil {
            preprocessor = try FramePreprocessor(spec: .imagenet(), frameWidth: frame.width, frameHeight: frame.height, format: frame.format)
        }
        let start = monotonicSeconds()
        tensor.withUnsafeMutableBufferPointer { preprocessor!.run(frame, into: $0.baseAddress!) }
        preprocessMs += (monotonicSeconds() - start) * 1000
        if got == 0 {
            // The one-pass result on a real driver frame equals the reference path on the converted frame.
            var reference = [Float](repeating: 0, count: tensor.count)
            try reference.withUnsafeMutableBufferPointer {
                try PreprocessSpec.imagenet().preprocess(ColorConversion.image(from: frame), into: $0.baseAddress!, layout: .nhwc)
            }
            exact = reference == tensor
        }
        got += 1
        print("frame \(frame.sequence) \(frame.format.rawValue) \(frame.width)x\(frame.height) bpl \(frame.bytesPerLine) bytes \(frame.bytes.count) t \(String(printf: "%.6f", frame.timestamp))")
    }
    let rate = got > 1 && last > first ? Double(got - 1) / (last - first) : 0
    print(String(printf: "CAPTURE ok format=%@ size=%dx%d frames=%d distinct=%d fps=%.1f driverDropped=%llu corrupt=%llu preprocess=%.2fms exact=%@",
                 n.format.rawValue, n.width, n.height, got, distinct.count, rate, camera.driverDropped, camera.corruptFrames,
                 preprocessMs / Double(max(got, 1)), exact ? "yes" : "no"))
case "watch":
    guard let device = args.first else { fail("watch needs a device") }
    let seconds = args.count > 1 ? Double(args[1]) ?? 10 : 10
    let (w, h) = args.count > 2 ? size(args[2]) : (640, 480)
    let capture = LatestFrameCapture(source: V4L2Camera(CameraConfiguration(device: device, width: w, height: h, fps: 30)),
                                     reopenBackoff: [0.2, 0.5, 1])
    capture.start()
    let start = monotonicSeconds()
    var last: UInt64 = 0, nextReport = 0.5, taken = 0
    while monotonicSeconds() - start < seconds {
        if let f = capture.next(after: last, timeout: 0.05) { last = f.sequence; taken += 1 }
        usleep(50_000)
        if monotonicSeconds() - start >= nextReport {
            nextReport += 0.5
            let s = capture.stats
            print(String(printf: "WATCH t=%.1f seq=%llu taken=%d captured=%llu dropped=%llu reopens=%llu healthy=%@ since=%.2f error=%@",
                         monotonicSeconds() - start, last, taken, s.captured, s.dropped, s.reopens, s.healthy ? "yes" : "no",
                         s.sinceLastFrame, s.lastError ?? "-"))
        }
    }
    capture.stop()
    let s = capture.stats
    print("WATCH end captured=\(s.captured) dropped=\(s.dropped) reopens=\(s.reopens) healthy=\(s.healthy)")
    if s.captured == 0 { exit(1) }
default:
    fail("unknown command \(command)")
}
