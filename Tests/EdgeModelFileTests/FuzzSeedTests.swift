import EdgeONNX
import Foundation
import TestSupport
import Testing
@testable import EdgeModelFile

/// The fuzz corpus for FuzzModelFileReader (Tests/Fuzz/corpus-rem): small valid files, written by this test when
/// RESNET_EDGE_WRITE_FUZZ_SEEDS=1 (after a format change), and crash inputs the fuzzer found (regression-*),
/// which must stay errors.
@Suite("ModelFile fuzz corpus")
struct ModelFileFuzzSeedTests {
    static let corpus = TestPaths.repositoryRoot.appendingPathComponent("Tests/Fuzz/corpus-rem")

    static func seeds() throws -> [(String, [UInt8])] {
        let spec = smallSpec
        var seeds = [(String, [UInt8])]()
        for (layout, cr) in [(GemmLayout.all[2], 16), (GemmLayout.all[1], 1), (GemmLayout.all[0], 8), (GemmLayout.all[3], 16)] {
            let g = int8Graph(seed: UInt64(layout.nr + layout.kr), channels: 6, classes: 4)
            let name = "seed-int8-nr\(layout.nr)-kr\(layout.kr)\(layout.inputOffset != 0 ? "-x80" : "")-cr\(cr).rem"
            seeds.append((name, try ModelFile.serialize(ModelFileContents(graph: g, metadata: testMetadata(spec: spec, labels: classLabels(4)),
                                                                          packedWeights: packAll(g, layout: layout, cr: cr)))))
        }
        let fp32 = everyOperatorGraph()
        seeds.append(("seed-fp32-every-operator.rem",
                      try ModelFile.serialize(ModelFileContents(graph: fp32, metadata: testMetadata(spec: spec, labels: classLabels(5), board: "generic", layout: "", calibrated: false)))))
        return seeds
    }

    @Test("the seeds are small valid files (RESNET_EDGE_WRITE_FUZZ_SEEDS=1 rewrites them); regression inputs stay errors")
    func corpus() throws {
        if ProcessInfo.processInfo.environment["RESNET_EDGE_WRITE_FUZZ_SEEDS"] == "1" {
            try FileManager.default.createDirectory(at: Self.corpus, withIntermediateDirectories: true)
            for (name, bytes) in try Self.seeds() { try Data(bytes).write(to: Self.corpus.appendingPathComponent(name)) }
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).sorted()
        #expect(files.filter { $0.hasPrefix("seed-") }.count == 5)
        for name in files {
            let bytes = [UInt8](try Data(contentsOf: Self.corpus.appendingPathComponent(name)))
            if name.hasPrefix("seed-") {
                #expect(bytes.count < 200_000)
                #expect(readError(bytes) == nil, "\(name): \(readError(bytes) ?? ""); after a format change, rewrite the seeds with RESNET_EDGE_WRITE_FUZZ_SEEDS=1")
            } else {
                // As the fuzz target reads it, both ways.
                var patched = bytes
                ModelFile.recomputeChecksums(&patched)
                for input in [bytes, patched] {
                    if let message = readError(input) { #expect(!message.contains("NOT A ModelFileError"), "\(name): \(message)") }
                }
            }
        }
    }
}

@Suite("ModelFile and the ONNX reader")
struct ModelFileONNXTests {
    @Test("the ONNX reader recognises a model file by its magic")
    func onnxSaysModelFile() throws {
        let bytes = try smallINT8File()
        do {
            _ = try ONNXImporter.load(data: Data(bytes))
            Issue.record("a model file imported as ONNX")
        } catch {
            #expect("\(error)".contains("a resnet-edge model file (.rem); it is read by the model-file loader"))
        }
    }
}
