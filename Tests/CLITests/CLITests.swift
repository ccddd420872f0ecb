import Foundation
import Testing
import TestSupport

/// The `resnet-edge` command as a user runs it: output formats, exit status, one-line errors.
@Suite struct CLITests {
    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
        /// Standard error's lines, less the one that says which board a command assumed (`board: NAME (...)`, printed
        /// by every command that runs a model without --board).
        var stderrLines: [Substring] { stderr.split(separator: "\n").filter { !$0.hasPrefix("board: ") } }
        var assumedBoardLines: [Substring] { stderr.split(separator: "\n").filter { $0.hasPrefix("board: ") } }
    }

    static var binary: URL {
        // On Linux the test runner is a plain executable; Bundle.main.bundleURL is its directory, where SwiftPM
        // also puts the products of the same build (any configuration, any --scratch-path).
        Bundle.main.bundleURL.appendingPathComponent("resnet-edge")
    }

    static let model = TestPaths.referenceModels.appendingPathComponent("resnet18-fashion-mnist.onnx").path
    static func photo(_ name: String) -> String { TestPaths.testImages.appendingPathComponent(name).path }

    func run(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting: a full pipe would otherwise block the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                   stderr: String(decoding: stderr, as: UTF8.self))
    }

    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("resnet-edge-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func versionPrints() throws {
        let r = try run(["--version"])
        #expect(r.status == 0)
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
    }

    @Test func classifyPrintsTopFiveWithLabels() throws {
        let r = try run(["classify", "--model", Self.model, "--preprocess", "fashion-mnist", Self.photo("darknet_dog.jpg")])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 6)
        #expect(lines.first.map(String.init) == Self.photo("darknet_dog.jpg"))
        let labels = Set(try String(contentsOfFile: TestPaths.referenceModels.appendingPathComponent("labels.txt").path, encoding: .utf8)
            .split(separator: "\n").map(String.init))
        for line in lines.dropFirst() {
            #expect(line.contains("%"))
            #expect(labels.contains { line.contains($0) }, "no label in '\(line)'")
        }
    }

    @Test func classifyJSONIsOneObjectPerImage() throws {
        let images = ["skimage_coffee.png", "mpl_grace_hopper.jpg", "skimage_camera.png"].map(Self.photo)
        let r = try run(["classify", "--model", Self.model, "--preprocess", "fashion-mnist", "--json", "--logits", "--top", "3"] + images)
        #expect(r.status == 0, "\(r.stderr)")
        let objects = try r.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.count == 3)
        for (object, image) in zip(objects, images) {
            #expect(object["image"] as? String == image)
            let top = try #require(object["top"] as? [Int]), p = try #require(object["probabilities"] as? [Double])
            let logits = try #require(object["logits"] as? [Double])
            #expect(top.count == 3 && p.count == 3 && logits.count == 10)
            #expect(p == p.sorted(by: >) && p.reduce(0, +) <= 1.0001)
            #expect(logits.firstIndex(of: logits.max()!) == top[0])
            #expect((object["labels"] as? [String])?.count == 3)
        }
    }

    @Test func withoutBoardTheDetectedBoardIsUsedAndNamedOnce() throws {
        let r = try run(["classify", "--model", Self.model, "--preprocess", "fashion-mnist", Self.photo("skimage_coins.png")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.assumedBoardLines.count == 1, "\(r.stderr)")
        #if arch(x86_64)
        #expect(r.assumedBoardLines.first?.hasPrefix("board: generic-x86-64 (no --board; no known board") == true, "\(r.stderr)")
        #else
        #expect(r.assumedBoardLines.first?.contains("no --board") == true, "\(r.stderr)")
        #endif
        let named = try run(["classify", "--model", Self.model, "--preprocess", "fashion-mnist", "--board", "rpi4", Self.photo("skimage_coins.png")])
        #expect(named.status == 0 && named.assumedBoardLines.isEmpty, "\(named.stderr)")
    }

    @Test func corruptImageIsReportedAndTheOthersStillClassified() throws {
        let dir = try temporaryDirectory()
        let broken = dir.appendingPathComponent("broken.jpg")
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: Self.photo("darknet_dog.jpg")))
        try jpeg.prefix(jpeg.count / 3).write(to: broken)
        let r = try run(["classify", "--model", Self.model, "--preprocess", "fashion-mnist", "--json", broken.path, Self.photo("skimage_coins.png")])
        #expect(r.status == 1)
        #expect(r.stderrLines.count == 1)
        #expect(r.stderr.contains("broken.jpg"))
        #expect(r.stdout.split(separator: "\n").count == 1 && r.stdout.contains("skimage_coins.png"))
    }

    @Test func labelsFileWithTheWrongCount() throws {
        let dir = try temporaryDirectory()
        let labels = dir.appendingPathComponent("labels.txt")
        try (0..<9).map { "class\($0)" }.joined(separator: "\n").write(to: labels, atomically: true, encoding: .utf8)
        let r = try run(["classify", "--model", Self.model, "--labels", labels.path, Self.photo("darknet_dog.jpg")])
        #expect(r.status != 0)
        #expect(r.stderrLines.count == 1)
        #expect(r.stderr.contains("has 9 labels, the model has 10 classes"))
    }

    @Test func unsupportedOperatorNamesOperatorAndNode() throws {
        let manifest = try FixtureManifest.load()
        let bad = try #require(manifest.bad["unsupported-op"])
        let r = try run(["classify", "--model", manifest.url(bad.file).path, Self.photo("darknet_dog.jpg")])
        #expect(r.status != 0)
        #expect(r.stderrLines.count == 1)
        for expected in bad.expect { #expect(r.stderr.contains(expected)) }
    }

    @Test func truncatedModelIsOneLine() throws {
        let dir = try temporaryDirectory()
        let cut = dir.appendingPathComponent("cut.onnx")
        try Data(contentsOf: URL(fileURLWithPath: Self.model)).prefix(1_000_000).write(to: cut)
        let r = try run(["inspect", cut.path])
        #expect(r.status != 0)
        #expect(r.stderrLines.count == 1)
        #expect(r.stderr.contains("truncated"))
    }

    @Test func inspectReportsResNet18MACs() throws {
        let manifest = try FixtureManifest.load()
        let r = try run(["inspect", manifest.url(try manifest.model(named: "resnet18").file).path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("1,814,073,344 MACs (1.814 GMAC)"))
        // torchvision's 11,689,512 counts BatchNorm's gamma and beta; folded, each channel keeps one bias instead.
        #expect(r.stdout.contains("11,684,712 parameters"))
    }

    @Test func evaluateOnIDX() throws {
        let limit = TestSubset.isActive ? 100 : 500
        let r = try run(["evaluate", "--model", Self.model, "--dataset", "/usr/share/datasets/fashion-mnist", "--limit", String(limit), "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(object["images"] as? Int == limit)
        #expect((object["top1"] as? Double ?? 0) > 0.88)
    }

    @Test func evaluateOnImageFolder() throws {
        // Two classes named after the model's labels, in non-alphabetical label order: "Trouser" (1) and "Bag" (8).
        let dir = try temporaryDirectory()
        for (cls, images) in [("Trouser", ["darknet_dog.jpg", "skimage_coins.png"]), ("Bag", ["skimage_coffee.png"])] {
            let sub = dir.appendingPathComponent(cls)
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            for image in images { try FileManager.default.copyItem(atPath: Self.photo(image), toPath: sub.appendingPathComponent(image).path) }
        }
        let r = try run(["evaluate", "--model", Self.model, "--preprocess", "fashion-mnist", "--dataset", dir.path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(object["images"] as? Int == 3)
        // The model calls all three photos "Bag" (see classifyPrintsTopFiveWithLabels): exactly the Bag folder is right.
        #expect(abs((object["top1"] as? Double ?? 0) - 1.0 / 3.0) < 1e-9)
    }

    @Test func badArgumentsAreRejected() throws {
        #expect(try run(["classify", "--model", Self.model, "--threads", "0", Self.photo("darknet_dog.jpg")]).status != 0)
        let r = try run(["classify", "--model", "/nonexistent.onnx", Self.photo("darknet_dog.jpg")])
        #expect(r.status != 0 && r.stderrLines.count == 1 && r.stderr.contains("no such file"))
        let preset = try run(["classify", "--model", Self.model, "--preprocess", "imagenett", Self.photo("darknet_dog.jpg")])
        #expect(preset.status != 0 && preset.stderr.contains("imagenett"))
    }

    /// A QDQ model runs INT8 automatically; `--kernels scalar` gives the same logits; `--precision fp32` runs
    /// it in float with fake quantization; forcing a variant this CPU lacks is a one-line error.
    @Test func quantizedModelRunsINT8() throws {
        let manifest = try FixtureManifest.load()
        let qdq = manifest.url(try manifest.model(named: "reference-qdq-u8").file).path
        let images = ["darknet_dog.jpg", "skimage_coffee.png"].map(Self.photo)
        func logits(_ extra: [String]) throws -> [[Double]] {
            let r = try run(["classify", "--model", qdq, "--preprocess", "fashion-mnist", "--json", "--logits"] + extra + images)
            #expect(r.status == 0, "\(r.stderr)")
            return try r.stdout.split(separator: "\n").map {
                let object = try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
                return try #require(object["logits"] as? [Double])
            }
        }
        let auto = try logits([])
        #expect(auto.count == 2)
        #expect(try logits(["--kernels", "scalar", "--threads", "1"]) == auto)
        #expect(try logits(["--precision", "fp32"]).count == 2)

        let e = try run(["evaluate", "--model", qdq, "--dataset", "/usr/share/datasets/fashion-mnist", "--limit", "200", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])
        #expect(object["precision"] as? String == "int8")
        #expect((object["top1"] as? Double ?? 0) > 0.88)

        #if arch(x86_64)
        let missing = "neondot"
        #else
        let missing = "avx2"
        #endif
        let r = try run(["classify", "--model", qdq, "--preprocess", "fashion-mnist", "--kernels", missing, images[0]])
        #expect(r.status != 0 && r.stderrLines.count == 1 && r.stderr.contains("'\(missing)'") && r.stderr.contains("available here"))
    }
}
