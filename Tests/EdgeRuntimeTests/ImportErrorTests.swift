import EdgeGraph
import EdgeONNX
import EdgeRuntime
import Foundation
import Testing
import TestSupport

/// Bad models get one clear line that names what is wrong, never a crash.
@Suite struct ImportErrorTests {
    static let referenceModel = TestPaths.referenceModels.appendingPathComponent("resnet18-fashion-mnist.onnx")

    func importError(_ data: Data) -> String? {
        do {
            _ = try ONNXImporter.load(data: data)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("each bad fixture model is rejected with a message naming the operator, node or tensor",
          arguments: ["unsupported-op", "unsupported-attribute", "missing-initializer", "dangling-input", "external-data"])
    func badFixtureModels(_ name: String) throws {
        let manifest = try FixtureManifest.load()
        let bad = try #require(manifest.bad[name], "fixture \(name) missing from the manifest")
        let message = try #require(importError(try Data(contentsOf: manifest.url(bad.file))), "\(name) was accepted")
        for expected in bad.expect {
            #expect(message.contains(expected), "'\(message)' does not mention '\(expected)'")
        }
        #expect(!message.contains("\n"))
    }

    @Test func unsupportedOperatorListsWhatIsSupported() throws {
        let manifest = try FixtureManifest.load()
        let bad = try #require(manifest.bad["unsupported-op"])
        let message = try #require(importError(try Data(contentsOf: manifest.url(bad.file))))
        #expect(message.contains("supported: Add, AveragePool, BatchNormalization"))
    }

    @Test func channelMismatchIsAShapeErrorNamingTheNode() throws {
        let manifest = try FixtureManifest.load()
        let bad = try #require(manifest.bad["conv-channel-mismatch"])
        let imported = try ONNXImporter.load(contentsOf: manifest.url(bad.file))
        let declared = try #require(imported.graph.values[imported.graph.inputs[0]].declaredShape)
        let dims = declared.map { d -> Int in if case .fixed(let n) = d { return n } else { return 1 } }
        #expect {
            try imported.graph.inferShapes(inputShapes: [Shape(dims)])
        } throws: { error in
            bad.expect.allSatisfy { "\(error)".contains($0) }
        }
    }

    @Test func truncatedModel() throws {
        let data = try Data(contentsOf: Self.referenceModel)
        for cut in [1, 100, 4096, data.count / 2, data.count - 1] {
            let message = try #require(importError(data.prefix(cut)), "a model cut to \(cut) bytes was accepted")
            #expect(message.contains("truncated") || message.contains("not an ONNX model"), "\(cut): \(message)")
        }
    }

    @Test func emptyFile() throws {
        #expect(importError(Data()) == "not an ONNX model: the file is empty")
    }

    @Test func wrongMagic() throws {
        let png = try Data(contentsOf: TestPaths.testImages.appendingPathComponent("skimage_coffee.png"))
        #expect(importError(png)?.contains("looks like a PNG image") == true)
        let zip = Data([0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 60))
        #expect(importError(zip)?.contains("PyTorch") == true)
    }

    @Test func malformedProtobuf() throws {
        // A length-delimited field (graph, #7) whose length runs past the end, then random bytes.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let junk = Data([0x3A, 0xFF, 0xFF, 0x03] + (0..<200).map { _ in UInt8.random(in: 0...255, using: &generator) })
            #expect(importError(junk) != nil)
        }
        #expect(importError(Data("hello, this is a text file\n".utf8))?.contains("not an ONNX model") == true)
    }

    @Test func corruptedBytesNeverCrash() throws {
        let data = try Data(contentsOf: Self.referenceModel)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            var bytes = [UInt8](data.prefix(64 * 1024))
            for _ in 0..<32 { bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            _ = importError(Data(bytes))  // any outcome but a crash
        }
    }

    @Test func missingFile() {
        #expect(throws: ONNXImportError("cannot read /nonexistent/model.onnx: no such file")) {
            try ONNXImporter.load(contentsOf: URL(fileURLWithPath: "/nonexistent/model.onnx"))
        }
    }

    @Test func wrongInputRankAndSize() throws {
        let graph = try ONNXImporter.load(contentsOf: Self.referenceModel).graph
        let session = try InferenceSession(graph: graph, options: SessionOptions(threads: 1))
        #expect {
            try session.prepare(inputShape: Shape([1, 32, 32]))
        } throws: { "\($0)".contains("input 'input' expects rank 4") }
        #expect {
            try session.prepare(inputShape: Shape([1, 1, 32, 32]))
        } throws: { "\($0)".contains("expects [batch, 3, 32, 32], got [1, 1, 32, 32]") }
        #expect {
            _ = try session.run(input: [Float](repeating: 0, count: 10), shape: Shape([1, 3, 32, 32]))
        } throws: { "\($0)".contains("the input has 10 values") }
    }
}

/// Inputs the fuzzer once crashed the reader with (Tests/Fuzz/corpus-onnx/regression-*): each must now be an error.
@Suite struct FuzzRegressionTests {
    static let corpus = TestPaths.repositoryRoot.appendingPathComponent("Tests/Fuzz/corpus-onnx")

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []).filter { $0.hasPrefix("regression-") }.sorted()
    }

    @Test(arguments: files)
    func rejectedWithoutCrashing(_ file: String) throws {
        let data = try Data(contentsOf: Self.corpus.appendingPathComponent(file))
        #expect(throws: ONNXImportError.self) { try ONNXImporter.load(data: data) }
    }

    @Test func theCorpusHasRegressions() { #expect(!Self.files.isEmpty) }
}
