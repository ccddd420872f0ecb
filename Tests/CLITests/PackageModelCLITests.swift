import Foundation
import Testing
import TestSupport

/// `resnet-edge package-model`, the model half of `cross-toolchains/package-deb.sh`: what a board package may carry.
/// Packaging runs on the development machine, not on the board, so not under emulation (where the calibration it calls
/// is CalibrateCLITests').
@Suite(.enabled(if: !TestSubset.isActive, "packaging runs on the development host; under emulation CalibrateCLITests covers the calibration it calls"))
struct PackageModelCLITests {
    let cli = CLITests()
    static let dataset = CalibrateCLITests.dataset
    /// Calibration kept small: these tests are about what gets packaged, not about accuracy (CalibrateCLITests is).
    static let quick = ["--", "--limit", "32", "--no-sensitivity", "--evaluation-images", "8", "--threads", "2"]

    func package(_ arguments: [String], stage: URL) throws -> CLITests.Run {
        try cli.run(["package-model", "--stage", stage.path] + arguments)
    }

    func manifest(_ stage: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: stage.appendingPathComponent("package.json"))) as? [String: Any])
    }

    func isEmpty(_ stage: URL) -> Bool { ((try? FileManager.default.contentsOfDirectory(atPath: stage.path)) ?? []).isEmpty }

    @Test("an FP32 ONNX with calibration data is calibrated for the board; the .rem it makes is accepted for that board only")
    func onnxWithDataIsCalibrated() throws {
        let dir = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let stage = dir.appendingPathComponent("rpi4")
        let labels = TestPaths.referenceModels.appendingPathComponent("labels.txt").path
        let r = try package(["--board", "rpi4", "--model", CLITests.model, "--dataset", Self.dataset, "--labels", labels] + Self.quick, stage: stage)
        #expect(r.status == 0, "\(r.stderr)")
        let m = try manifest(stage)
        #expect(m["model_file"] as? String == "model.rem" && m["precision"] as? String == "INT8" && m["kernels"] as? String == "neon")
        #expect(m["board"] as? String == "rpi4" && m["classes"] as? Int == 10 && m["calibrated"] as? Bool == true && m["labels_file"] as? String == "labels.txt")
        for f in ["model.rem", "labels.txt", "calibration-report.json"] {
            #expect(FileManager.default.fileExists(atPath: stage.appendingPathComponent(f).path), "\(f)")
        }
        // The checksum is the file's (what the daemon shows in its first log line, /healthz and model_info).
        let sha = try #require(m["sha256"] as? String)
        let i = try cli.run(["inspect", stage.appendingPathComponent("model.rem").path])
        #expect(i.status == 0 && i.stdout.contains("board rpi4"), "\(i.stdout)")
        #expect(sha.count == 64)

        // The made file, for the board it was made for: accepted as it is.
        let rem = dir.appendingPathComponent("reference-rpi4.rem")
        try FileManager.default.copyItem(at: stage.appendingPathComponent("model.rem"), to: rem)
        let again = dir.appendingPathComponent("again")
        let a = try package(["--board", "rpi4", "--model", rem.path], stage: again)
        #expect(a.status == 0, "\(a.stderr)")
        #expect(try manifest(again)["calibrated"] as? Bool == false)
        #expect(try Data(contentsOf: again.appendingPathComponent("model.rem")) == Data(contentsOf: rem))

        // For another board: refused with the exact command that makes the right file.
        let other = dir.appendingPathComponent("rpi5")
        let o = try package(["--board", "rpi5", "--model", rem.path], stage: other)
        #expect(o.status != 0 && o.stderrLines.count == 1, "\(o.stderr)")
        #expect(o.stderr.contains("was calibrated for rpi4 (neon kernels), not rpi5; make the right one with: resnet-edge calibrate --model resnet18-fashion-mnist.onnx --dataset \(Self.dataset) --board rpi5 --limit 32 --evaluation-images 8 --out \(dir.path)/reference-rpi5.rem"), "\(o.stderr)")
        #expect(isEmpty(other))
    }

    @Test("an FP32 ONNX without calibration data is refused naming both ways; --fp32 packages it as asked")
    func fp32OnlyWhenAsked() throws {
        let dir = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let stage = dir.appendingPathComponent("s")
        let r = try package(["--board", "rpi4", "--model", CLITests.model], stage: stage)
        #expect(r.status != 0 && r.stderrLines.count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("--images DIR or --dataset DIR") && r.stderr.contains("--fp32"), "\(r.stderr)")
        #expect(isEmpty(stage))
        let f = try package(["--board", "rpi4", "--model", CLITests.model, "--fp32", "--preprocess", "fashion-mnist"], stage: stage)
        #expect(f.status == 0, "\(f.stderr)")
        let m = try manifest(stage)
        #expect(m["model_file"] as? String == "model.onnx" && m["precision"] as? String == "FP32" && m["preprocess"] as? String == "fashion-mnist")
    }

    @Test("bad input: one line naming the problem and the fix, and nothing left in the stage")
    func badInput() throws {
        let dir = try cli.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func refused(_ arguments: [String], _ expected: String) throws {
            let stage = dir.appendingPathComponent(UUID().uuidString)
            let r = try package(arguments, stage: stage)
            #expect(r.status != 0, "\(arguments)")
            #expect(r.stderrLines.count == 1 && r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            #expect(isEmpty(stage), "\(arguments) left files behind")
        }
        try refused(["--board", "rpi9", "--model", CLITests.model, "--fp32"], "unknown board 'rpi9'")
        let emptyImages = dir.appendingPathComponent("no-images")
        try FileManager.default.createDirectory(at: emptyImages, withIntermediateDirectories: true)
        try "not an image".write(to: emptyImages.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        try refused(["--board", "rpi4", "--model", CLITests.model, "--images", emptyImages.path, "--preprocess", "fashion-mnist"], "no .jpg, .jpeg or .png files")
        let wrongLabels = dir.appendingPathComponent("labels.txt")
        try "a\nb\nc\n".write(to: wrongLabels, atomically: true, encoding: .utf8)
        try refused(["--board", "rpi4", "--model", CLITests.model, "--fp32", "--labels", wrongLabels.path], "3")
        // A truncated model file.
        let stage = dir.appendingPathComponent("good")
        #expect(try package(["--board", "rpi4", "--model", CLITests.model, "--dataset", Self.dataset] + Self.quick, stage: stage).status == 0)
        let bytes = try Data(contentsOf: stage.appendingPathComponent("model.rem"))
        let truncated = dir.appendingPathComponent("truncated.rem")
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        try refused(["--board", "rpi4", "--model", truncated.path], "truncated")
        try refused(["--board", "rpi4", "--model", dir.appendingPathComponent("missing.onnx").path], "does not exist")
    }
}
