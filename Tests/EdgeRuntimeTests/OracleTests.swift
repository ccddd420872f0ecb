import EdgeGraph
import EdgeImaging
import EdgeModel
import EdgeONNX
import EdgeRuntime
import Foundation
import Testing
import TestSupport

/// The FP32 runtime against onnxruntime: every model of the fixture manifest, every photo,
/// batch 1 and 4, two input sizes. Assertion per image: max |logit difference| <= 1e-3 x max |logit|,
/// and the same top-1.
@Suite struct OracleTests {
    static let manifest = Result { try FixtureManifest.load() }

    static var caseNames: [String] {
        guard let m = try? manifest.get() else { return ["fixtures missing"] }
        return m.cases.filter { TestSubset.includes(images: $0.images, of: m.images) }
            .map { "\($0.model) \($0.preset) b\($0.batch) \($0.images.first ?? "")" }
    }

    /// One session per model, shared by its cases (weights are packed once).
    static let sessions = SessionCache()

    @Test("runtime matches onnxruntime on the fixture's input tensors", arguments: caseNames)
    func logitsMatchOnnxRuntime(_ caseName: String) throws {
        let manifest = try Self.manifest.get()
        let c = try #require(manifest.cases.first { "\($0.model) \($0.preset) b\($0.batch) \($0.images.first ?? "")" == caseName })
        let reference = try readFloat32File(manifest.url(c.output))
        var input: [Float] = []
        for image in c.images {
            let pre = try #require(manifest.preprocessed[c.preset]?[image], "no preprocessed input for \(image)")
            input += try readFloat32File(manifest.url(pre.float))
        }
        let preset = try #require(manifest.presets[c.preset])
        let shape = Shape([c.images.count, preset.channels, preset.crop[0] + 2 * preset.pad, preset.crop[1] + 2 * preset.pad])
        let output = try Self.sessions.withSession(for: manifest.model(named: c.model), manifest: manifest) {
            try $0.run(input: input, shape: shape)
        }
        #expect(output.shape.dims == c.output_shape)
        try assertLogitsMatch(output.values, reference, rows: c.images.count, images: c.images, label: "fixture-input " + caseName)
    }

    /// The same, with our own decoding and preprocessing of the photo instead of the fixture's tensor.
    @Test("classifier (our decoding + preprocessing + runtime) matches onnxruntime end to end", arguments: caseNames)
    func endToEndMatchesOnnxRuntime(_ caseName: String) throws {
        let manifest = try Self.manifest.get()
        let c = try #require(manifest.cases.first { "\($0.model) \($0.preset) b\($0.batch) \($0.images.first ?? "")" == caseName })
        let preset = try #require(manifest.presets[c.preset])
        let spec = PreprocessSpec(resize: preset.resize, cropHeight: preset.crop[0], cropWidth: preset.crop[1], mean: preset.mean,
                                  std: preset.std, grayscale: preset.grayscale, pad: preset.pad, channels: preset.channels)
        let fixtureModel = try manifest.model(named: c.model)
        let images = try c.images.map { try ImageDecoder.decode(contentsOf: TestPaths.testImages.appendingPathComponent($0)) }
        let logits = try Self.sessions.withClassifier(for: fixtureModel, preset: c.preset, spec: spec, manifest: manifest) {
            try $0.logits(for: images).flatMap { $0 }
        }
        try assertLogitsMatch(logits, try readFloat32File(manifest.url(c.output)), rows: c.images.count, images: c.images, label: "end-to-end " + caseName)
    }

    func assertLogitsMatch(_ ours: [Float], _ reference: [Float], rows: Int, images: [String], label: String,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
        try #require(ours.count == reference.count, "output has \(ours.count) values, onnxruntime \(reference.count)")
        let classes = reference.count / rows
        for r in 0..<rows {
            let a = ours[(r * classes)..<((r + 1) * classes)], b = reference[(r * classes)..<((r + 1) * classes)]
            let scale = b.map { abs($0) }.max() ?? 0
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-3 * scale, "\(images[r]): max |diff| \(worst) > 1e-3 x \(scale)", sourceLocation: sourceLocation)
            // Recorded for reports: the worst relative error per model is read from these lines.
            print("oracle-relative-error \(label) \(images[r]) \(worst / scale)")
            #expect(argmax(a) == argmax(b), "\(images[r]): top-1 \(argmax(a)) vs onnxruntime \(argmax(b))", sourceLocation: sourceLocation)
        }
    }
}

func argmax(_ values: ArraySlice<Float>) -> Int {
    var best = values.startIndex
    for i in values.indices where values[i] > values[best] { best = i }
    return best - values.startIndex
}

/// Sessions are not reentrant and each already uses both cores, so runs are serialised.
final class SessionCache: @unchecked Sendable {
    private var sessions: [String: InferenceSession] = [:]
    private let lock = NSLock()

    func withSession<T>(for model: FixtureManifest.Model, manifest: FixtureManifest, _ body: (InferenceSession) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        if sessions[model.name] == nil {
            let imported = try ONNXImporter.load(contentsOf: manifest.url(model.file))
            sessions[model.name] = try InferenceSession(graph: imported.graph, options: SessionOptions(threads: 2))
        }
        return try body(sessions[model.name]!)
    }

    private var classifiers: [String: Classifier] = [:]

    func withClassifier<T>(for model: FixtureManifest.Model, preset: String, spec: PreprocessSpec, manifest: FixtureManifest,
                           _ body: (Classifier) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        let key = model.name + "|" + preset
        if classifiers[key] == nil {
            let loaded = try ClassificationModel.load(path: manifest.url(model.file).path, preprocess: spec)
            classifiers[key] = try Classifier(model: loaded, threads: 2)
        }
        return try body(classifiers[key]!)
    }
}
