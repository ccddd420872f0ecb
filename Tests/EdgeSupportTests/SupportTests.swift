import EdgeSupport
import Foundation
import Testing

// The Foundation-free replacements in EdgeSupport against the Foundation APIs they replaced.
@Suite struct PathTests {
    static let paths = ["", "/", "a", "a/", "/a", "/a/", "/a/b", "/a/b/", "a/b", "a//b", "/a/b.c", "x.JPG", "a.tar.gz", ".hidden",
                        "dir/.hidden", "/sys/class/thermal/thermal_zone0/temp", "/sys/class/hwmon/hwmon1/temp1_input", "./rel/x.png",
                        "noext.", "a.b/c"]

    @Test func rootAndEmpty() {
        #expect("".deletingLastPathComponent == "")
        #expect("/".deletingLastPathComponent == "/")
        #expect("a".deletingLastPathComponent == "")
        #expect("a/".deletingLastPathComponent == "")
    }

    @Test func matchNSString() {
        for p in Self.paths {
            #expect(p.lastPathComponent == (p as NSString).lastPathComponent, "lastPathComponent \(p)")
            // NSString.deletingLastPathComponent traps on "", "/", "a" and "a/" in swift-corelibs-foundation 6.3.1:
            // those are checked in rootAndEmpty().
            if !["", "/", "a", "a/"].contains(p) {
                #expect(p.deletingLastPathComponent == (p as NSString).deletingLastPathComponent, "deletingLastPathComponent \(p)")
            }
            #expect(p.pathExtension == (p as NSString).pathExtension, "pathExtension \(p)")
            for c in ["b", "img.jpg", "sub/x"] {
                #expect(p.appendingPathComponent(c) == (p as NSString).appendingPathComponent(c), "\(p) + \(c)")
            }
        }
    }
}

@Suite struct TextTests {
    static let samples = ["", " ", "abc", "  abc  ", "\tabc\t", "abc\n", "\n abc \r\n", "a b", "\0abc\0\n", "\u{00A0}x\u{2003}",
                          "x\u{2028}", "\u{85}x", "\u{0B}\u{0C}x", "é ", " ü"]

    @Test func trimmingMatchesCharacterSet() {
        for s in Self.samples {
            #expect(s.trimmed(.whitespaces) == s.trimmingCharacters(in: .whitespaces), "\(s.debugDescription)")
            #expect(s.trimmed(.whitespacesAndNewlines) == s.trimmingCharacters(in: .whitespacesAndNewlines), "\(s.debugDescription)")
            #expect(s.trimmed(.whitespacesNewlinesAndNUL)
                    == s.trimmingCharacters(in: CharacterSet(charactersIn: "\0").union(.whitespacesAndNewlines)), "\(s.debugDescription)")
        }
        #expect(Substring("  x ").trimmed(.whitespaces) == "x")
    }

    @Test func replacingMatchesFoundation() {
        let cases: [(String, String, String)] = [("a_b_c", "_", " "), ("thermal_zone0", "thermal_", ""), ("a\r\nb\nc", "\n", " "),
                                                 ("q\"uo\\te", "\\", "\\\\"), ("q\"uo\"", "\"", "\\\""), ("", "x", "y"), ("xxx", "xx", "y")]
        for (s, target, replacement) in cases {
            #expect(s.replacingAll(target, with: replacement) == s.replacingOccurrences(of: target, with: replacement), "\(s)")
        }
    }
}

@Suite struct JSONTextTests {
    func foundation(_ object: Any, _ options: JSONSerialization.WritingOptions) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: options), as: UTF8.self)
    }

    // The objects the CLI's --json lines and the probe's message-size estimate are made of.
    static let objects: [Any] = [
        ["architecture": "aarch64", "cpu_parts": ["0xd08"], "hwcap": ["fp", "asimd"], "reason": "no match", "device_tree_model": "Raspberry Pi 4",
         "qemu_cpu": "cortex-a72", "board": "rpi4"] as [String: Any],
        ["image": "/tmp/x/dog.jpg", "top": [3, 1, 4], "labels": ["dog", "cat", "q\"uote\\"], "probabilities": [0.5, 0.25, 1e-7, 1.0, 0.1],
         "logits": [-1.5, 0, 3.25, 1e21, -0.0]] as [String: Any],
        ["model": "m.onnx", "precision": "int8", "batch": 1, "threads": 2, "size": 224, "ms_per_image": 12.345678901234,
         "images_per_second": 81.0, "gmac_per_second": 3.0e-5, "kernels": "neondot", "kernel_names": ["a", "b"],
         "onnxruntime_ms_per_image": 10.0, "ratio_to_onnxruntime": 1.2345] as [String: Any],
        ["model": "m", "input_shape": [1, 3, 224, 224], "opset": 17, "total_parameters": 11_689_512, "total_macs": 1_814_083_944,
         "layers": [["name": "conv1", "op": "Conv", "activation": "", "output_shape": [1, 64, 112, 112], "parameters": 9408, "macs": 118_013_952]]] as [String: Any],
        ["model": "m", "dataset": "set", "images": 10, "failed": 0, "top1": 0.9, "top5": 1.0, "seconds": 2.5, "images_per_second": 4.0,
         "threads": 2, "preprocess": "imagenet", "precision": "fp32", "kernels": "fp32"] as [String: Any],
        ["sequence": UInt64(12), "timestamp": 1234.5678, "top": [["class": 1, "label": "a/b", "probability": Float(0.3)] as [String: Any]]] as [String: Any],
        ["controls": "\u{0}\u{1}\u{8}\u{9}\u{a}\u{c}\u{d}\u{f}\u{10}\u{1f} é ✓", "flag": true, "no": false, "big": UInt64.max, "neg": Int64.min] as [String: Any],
    ]

    @Test func matchesJSONSerialization() {
        for object in Self.objects {
            #expect(jsonText(object) == foundation(object, [.sortedKeys]))
            #expect(jsonText(object, escapingSlashes: false) == foundation(object, [.sortedKeys, .withoutEscapingSlashes]))
        }
    }

    @Test func optionalsAreNull() {
        let missing: String? = nil
        #expect(jsonText(["a": missing as Any, "b": [1, nil] as [Int?]] as [String: Any]) == #"{"a":null,"b":[1,null]}"#)
    }
}

@Suite struct DateTextTests {
    @Test func iso8601MatchesISO8601DateFormatter() {
        for t in [0.0, 1_700_000_000.25, 1_735_689_599.999, 951_782_400] {
            let d = Date(timeIntervalSince1970: t)
            #expect(Date.ISO8601FormatStyle().format(d) == ISO8601DateFormatter().string(from: d))
        }
    }
}

@Suite struct SubprocessTests {
    @Test func runsAndCollectsOutput() throws {
        let (status, output) = try runProcess("/bin/sh", arguments: ["-c", "printf 'hello\\n'; exit 3"])
        #expect(status == 3)
        #expect(String(decoding: output, as: UTF8.self) == "hello\n")
        #expect(throws: (any Error).self) { try runProcess("/nonexistent/program", arguments: []) }
    }
}

@Suite struct ThreadTests {
    @Test func threadRunsAndConditionWakes() {
        let condition = Condition()
        var done = false
        startThread(name: "a thread name longer than fifteen bytes") {
            condition.lock()
            done = true
            condition.signal()
            condition.unlock()
        }
        condition.lock()
        while !done { if !condition.wait(timeout: 5) { break } }
        condition.unlock()
        #expect(done)
        condition.lock()
        let start = Date()
        #expect(!condition.wait(timeout: 0.05))
        condition.unlock()
        #expect(Date().timeIntervalSince(start) >= 0.04)
        let lock = Lock()
        #expect(lock.withLock { 42 } == 42)
    }

    @Test func readableFileReadsInPieces() throws {
        let path = NSTemporaryDirectory() + "/edge-support-\(getpid()).bin"
        try Data((0..<100).map { UInt8($0) }).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try #require(ReadableFile(path: path))
        #expect(try file.read(upToCount: 60) == (0..<60).map { UInt8($0) })
        #expect(try file.read(upToCount: 60) == (60..<100).map { UInt8($0) })
        #expect(try file.read(upToCount: 60) == [])
        #expect(ReadableFile(path: "/nonexistent/x") == nil)
        let directory = try #require(ReadableFile(path: "/"))
        #expect(throws: SystemCallError.self) { try directory.read(upToCount: 1) }
    }

    @Test func errorReasonIsTheCLibraryText() {
        do {
            _ = try Data(contentsOf: URL(fileURLWithPath: "/nonexistent/file"))
            Issue.record("expected an error")
        } catch {
            #expect(errorReason(error) == "No such file or directory")
        }
    }
}
