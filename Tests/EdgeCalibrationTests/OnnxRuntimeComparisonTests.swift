import EdgeBoards
import EdgeCalibration
import EdgeGraph
import EdgeImaging
import EdgeModel
import EdgeONNX
import EdgeRuntime
import Foundation
import Testing
import TestSupport

/// ResNet18 224x224 with random weights (the fixture's, data-calibrated BatchNorm), on the photos in
/// ../shared/testdata/images: calibrated on the first half, tested on the other half. Our calibrator's INT8 model must
/// agree with FP32 (top-1 agreement and mean logit cosine) at least as well as onnxruntime's quantize_static (QDQ,
/// per-channel, MinMax) on the same calibration tensors, measured in the same run. onnxruntime runs in the pinned
/// venv (.venv, made by scripts/test-setup.sh); the comparison needs it, so it runs on the host (the emulated ARM
/// run has no x86 Python), where it is never skipped.
@Suite struct OnnxRuntimeComparisonTests {
    static let python = TestPaths.repositoryRoot.appendingPathComponent(".venv/bin/python")
    static var onHost: Bool {
        #if arch(x86_64)
        return true
        #else
        return false
        #endif
    }

    static func photos() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: TestPaths.testImages, includingPropertiesForKeys: nil)
            .filter { ["jpg", "jpeg", "png"].contains($0.pathExtension.lowercased()) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    static func writeFloats(_ values: [Float], to url: URL) throws {
        try values.withUnsafeBufferPointer { try Data(buffer: $0).write(to: url) }
    }

    static func metrics(_ a: [[Float]], _ reference: [[Float]]) -> (top1: Double, cosine: Double) {
        var same = 0, cosine = 0.0
        for (x, y) in zip(a, reference) {
            let ix = x.indices.max { x[$0] < x[$1] }!, iy = y.indices.max { y[$0] < y[$1] }!
            if ix == iy { same += 1 }
            let dot = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let nx = x.reduce(0.0) { $0 + Double($1) * Double($1) }, ny = y.reduce(0.0) { $0 + Double($1) * Double($1) }
            cosine += dot / (nx.squareRoot() * ny.squareRoot())
        }
        return (Double(same) / Double(a.count), cosine / Double(a.count))
    }

    @Test("ResNet18: our INT8 agrees with FP32 at least as well as onnxruntime's quantize_static (half the photos each way)",
          .enabled(if: onHost, "needs onnxruntime (x86 venv)"))
    func atLeastAsGoodAsOnnxRuntime() throws {
        let manifest = try FixtureManifest.load()
        let modelURL = manifest.url(try manifest.model(named: "resnet18").file)
        let model = try ClassificationModel.load(path: modelURL.path, preprocess: .imagenet(height: 224, width: 224))
        let spec = model.preprocess
        let photos = try Self.photos()
        try #require(photos.count >= 4)
        let half = photos.count / 2
        func tensor(_ url: URL) throws -> [Float] {
            var x = [Float](repeating: 0, count: spec.elementCount)
            let image = try ImageDecoder.decode(contentsOf: url)
            try x.withUnsafeMutableBufferPointer { try spec.preprocess(image, into: $0.baseAddress!, layout: .nchw) }
            return x
        }
        let calibration = try photos[..<half].map(tensor), test = try photos[half...].map(tensor)

        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ort-compare-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        for (i, x) in calibration.enumerated() { try Self.writeFloats(x, to: work.appendingPathComponent(String(format: "calib-%03d.f32", i))) }
        for (i, x) in test.enumerated() { try Self.writeFloats(x, to: work.appendingPathComponent(String(format: "test-%03d.f32", i))) }
        try Data(#"{"shape": [1, \#(spec.channels), \#(spec.inputHeight), \#(spec.inputWidth)]}"#.utf8).write(to: work.appendingPathComponent("shape.json"))
        let process = Process()
        process.executableURL = Self.python
        process.arguments = [TestPaths.repositoryRoot.appendingPathComponent("Tests/Fixtures/ort_quantize_compare.py").path, modelURL.path, work.path]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "onnxruntime's quantize_static failed")
        let classes = model.classes
        func rows(_ file: String) throws -> [[Float]] {
            let v = try readFloat32File(work.appendingPathComponent(file))
            return (0..<(v.count / classes)).map { Array(v[($0 * classes)..<(($0 + 1) * classes)]) }
        }
        let ortINT8 = try rows("ort-int8.f32"), ortFP32 = try rows("ort-fp32.f32")
        try #require(ortINT8.count == test.count)

        let fp32 = try InferenceSession(graph: model.graph, options: SessionOptions(threads: 2))
        let ours32 = try test.map { try fp32.run(input: $0, shape: Shape([1, spec.channels, spec.inputHeight, spec.inputWidth])).values }
        // Same FP32 model on both sides (ours within the oracle tolerance of onnxruntime's).
        for (a, b) in zip(ours32, ortFP32) {
            let scale = b.map { abs($0) }.max()!
            #expect(zip(a, b).map { abs($0 - $1) }.max()! <= 1e-3 * scale)
        }
        let theirs = Self.metrics(ortINT8, ortFP32)
        let scheme = try QuantizationScheme(board: BoardCatalog.builtin().profile(named: "rpi5"))
        var results: [String] = []
        for observer in [ObserverKind.mse, .minmax] {
            var options = CalibrationOptions()
            options.observer = observer
            options.threads = 2
            options.sensitivity = false
            let calibrated = try Calibrator.calibrate(graph: model.graph, data: CalibrationData(samples: calibration, imageShape: Shape([1, spec.channels, spec.inputHeight, spec.inputWidth])),
                                                      scheme: scheme, options: options)
            let int8 = try InferenceSession(graph: calibrated.graph, options: SessionOptions(threads: 2))
            let ours8 = try test.map { try int8.run(input: $0, shape: Shape([1, spec.channels, spec.inputHeight, spec.inputWidth])).values }
            let ours = Self.metrics(ours8, ours32)
            results.append("\(observer) top-1 agreement \(ours.top1), cosine \(ours.cosine)")
            if observer == .mse {  // the default settings
                #expect(ours.top1 >= theirs.top1, "top-1 agreement with FP32: ours \(ours.top1), onnxruntime \(theirs.top1)")
                #expect(ours.cosine >= theirs.cosine, "mean logit cosine with FP32: ours \(ours.cosine), onnxruntime \(theirs.cosine)")
            }
        }
        print("calibration-vs-onnxruntime resnet18 \(calibration.count) calibration / \(test.count) test photos: onnxruntime top-1 agreement \(theirs.top1), cosine \(theirs.cosine); ours " + results.joined(separator: "; "))
    }
}
