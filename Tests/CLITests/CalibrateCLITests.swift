import Foundation
import Testing
import TestSupport

/// `resnet-edge calibrate` and the model file it writes, as a user runs them.
@Suite struct CalibrateCLITests {
    let cli = CLITests()
    /// Every board profile on the host; under emulation (subset) one board per weight layout.
    static let boards = TestSubset.isActive ? ["qemu-a72", "qemu-a76"] : ["rpi4", "rpi5", "jetson-nano", "jetson-orin-nano", "qemu-a72", "qemu-a76"]
    static let dataset = "/usr/share/datasets/fashion-mnist"

    func evaluate(_ model: String, _ extra: [String] = []) throws -> Double {
        let r = try cli.run(["evaluate", "--model", model, "--dataset", Self.dataset, "--limit", "300", "--json"] + extra)
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        return try #require(object["top1"] as? Double)
    }

    @Test("calibrate -> .rem -> evaluate and classify, for every board profile (run as that board)", arguments: boards)
    func calibrateForEveryBoard(_ board: String) throws {
        let dir = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("reference-\(board).rem").path
        let report = dir.appendingPathComponent("report.json").path
        let c = try cli.run(["calibrate", "--model", CLITests.model, "--dataset", Self.dataset, "--limit", "64", "--no-sensitivity",
                             "--evaluation-images", "16", "--board", board, "--out", out, "--report", report, "--threads", "2"])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(c.stdout.contains("board \(board):") && c.stdout.contains("wrote \(out)"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        #expect((json["layers"] as? [Any])?.count == 30)
        // The file carries its board, preprocessing and labels: evaluate needs no --preprocess, classify prints labels.
        let int8 = try evaluate(out, ["--board", board])
        let fp32 = try evaluate(CLITests.model, ["--preprocess", "fashion-mnist"])
        #expect(abs(int8 - fp32) <= 0.01, "\(board): INT8 \(int8) vs FP32 \(fp32) on 300 test images")
        let i = try cli.run(["inspect", out])
        #expect(i.status == 0 && i.stdout.contains("board \(board)") && i.stdout.contains("all checksums OK"), "\(i.stdout)\(i.stderr)")
        let k = try cli.run(["classify", "--model", out, "--board", board, "--json", CLITests.photo("skimage_coffee.png")])
        #expect(k.status == 0, "\(k.stderr)")
        #expect(k.stdout.contains("\"labels\""))
    }

    @Test("a file made for one board is refused on another, with what to do")
    func wrongBoardIsRefused() throws {
        let dir = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("m.rem").path
        #expect(try cli.run(["calibrate", "--model", CLITests.model, "--dataset", Self.dataset, "--limit", "16", "--no-sensitivity",
                             "--board", "rpi4", "--out", out]).status == 0)
        let r = try cli.run(["classify", "--model", out, "--board", "rpi5", CLITests.photo("skimage_coffee.png")])
        #expect(r.status != 0)
        #expect(r.stderr.contains("made for rpi4") && r.stderr.contains("rpi5"), "\(r.stderr)")
        // The exact command that makes the right file: same model, data and non-default settings, the other board.
        #expect(r.stderr.contains("make one for it with: resnet-edge calibrate --model resnet18-fashion-mnist.onnx --dataset \(Self.dataset) --board rpi5 --limit 16 --out \(dir.path)/m-rpi5.rem"), "\(r.stderr)")
        #expect(r.stderrLines.count == 1, "\(r.stderr)")
        // Truncated and corrupted files: one clear line, non-zero exit.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
        let truncated = dir.appendingPathComponent("truncated.rem")
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        let t = try cli.run(["classify", "--model", truncated.path, CLITests.photo("skimage_coffee.png")])
        #expect(t.status != 0 && t.stderrLines.count == 1 && t.stderr.lowercased().contains("truncated"), "\(t.stderr)")
        var flipped = bytes
        flipped[bytes.count - 1000] ^= 0x55
        let corrupt = dir.appendingPathComponent("corrupt.rem")
        try flipped.write(to: corrupt)
        let x = try cli.run(["classify", "--model", corrupt.path, CLITests.photo("skimage_coffee.png")])
        #expect(x.status != 0 && x.stderrLines.count == 1 && x.stderr.contains("weights"), "\(x.stderr)")
    }

    @Test("calibrate rejects what it cannot do, naming the option")
    func badArguments() throws {
        let r1 = try cli.run(["calibrate", "--model", CLITests.model, "--board", "rpi4", "--out", "/tmp/x.rem"])
        #expect(r1.status != 0 && r1.stderr.contains("--images") && r1.stderr.contains("--dataset"))
        let r2 = try cli.run(["calibrate", "--model", CLITests.model, "--dataset", Self.dataset, "--out", "/tmp/x.rem"])
        #expect(r2.status != 0 && r2.stderr.contains("--board"))
        let r3 = try cli.run(["calibrate", "--model", CLITests.model, "--dataset", Self.dataset, "--board", "rpi9", "--out", "/tmp/x.rem"])
        #expect(r3.status != 0 && r3.stderr.contains("rpi9"))
        let r4 = try cli.run(["calibrate", "--model", CLITests.model, "--dataset", Self.dataset, "--board", "rpi4", "--observer", "kl", "--out", "/tmp/x.rem"])
        #expect(r4.status != 0 && r4.stderr.contains("kl"))
    }

    @Test("ResNet18 224x224: the INT8 model file is at most 12 MB and runs")
    func resnet18FileSize() throws {
        let manifest = try FixtureManifest.load()
        let model = manifest.url(try manifest.model(named: "resnet18").file).path
        let dir = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("resnet18-rpi5.rem").path
        let r = try cli.run(["calibrate", "--model", model, "--preprocess", "imagenet", "--images", TestPaths.testImages.path,
                             "--limit", TestSubset.isActive ? "2" : "9", "--observer", "minmax", "--no-sensitivity", "--evaluation-images", "2",
                             "--board", "rpi5", "--out", out, "--threads", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int)
        print("resnet18 INT8 model file: \(size) bytes")
        #expect(size <= 12_000_000, "the INT8 ResNet18 file is \(size) bytes")
        let k = try cli.run(["classify", "--model", out, "--board", "rpi5", CLITests.photo("skimage_coffee.png")])
        #expect(k.status == 0, "\(k.stderr)")
    }
}
