import EdgeGraph
import EdgeONNX
import EdgeRuntime
import Foundation
import Testing
import TestSupport

/// Every operator and attribute the importer accepts, one small model each, against onnxruntime
/// (cases from Tests/Fixtures/make_operator_fixtures.py; odd sizes, batch > 1).
@Suite struct OperatorTests {
    struct Manifest: Decodable {
        struct Case: Decodable {
            let name: String, model: String, input: String, output: String
            let input_shape: [Int], output_shape: [Int]
        }
        let cases: [Case]
    }

    static let directory = TestPaths.fixtures.appendingPathComponent("operators")
    static let manifest = Result {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: directory.appendingPathComponent("manifest.json")))
    }
    static var names: [String] { (try? manifest.get().cases.map(\.name)) ?? ["fixtures missing"] }

    @Test(arguments: names, [1, 2])
    func matchesOnnxRuntime(_ name: String, threads: Int) throws {
        let c = try #require(try Self.manifest.get().cases.first { $0.name == name })
        let graph = try ONNXImporter.load(contentsOf: Self.directory.appendingPathComponent(c.model)).graph
        let session = try InferenceSession(graph: graph, options: SessionOptions(threads: threads))
        let input = try readFloat32File(Self.directory.appendingPathComponent(c.input))
        let output = try session.run(input: input, shape: Shape(c.input_shape))
        let reference = try readFloat32File(Self.directory.appendingPathComponent(c.output))
        #expect(output.shape.dims == c.output_shape)
        try #require(output.values.count == reference.count)
        let scale = max(reference.map { abs($0) }.max() ?? 0, 1e-6)
        let worst = zip(output.values, reference).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-4 * scale, "\(name): max |diff| \(worst), max |ref| \(scale)")
    }
}
