#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// One classified frame as clients see it. Encoded by hand (`json`) with a fixed key order: it is built ~30 times a
/// second on the pipeline thread, and scripts diff it.
public struct ClassificationResult: Sendable, Equatable {
    public struct Class: Sendable, Equatable {
        public var index: Int
        public var label: String
        public var probability: Float
    }

    /// The frame's sequence number from the capture.
    public var sequence: UInt64
    /// The frame's CLOCK_MONOTONIC timestamp (seconds; the V4L2 buffer timestamp for cameras).
    public var timestamp: Double
    /// Wall-clock time the result was made (Unix seconds), for clients that log.
    public var wallTime: Double
    /// From the frame's timestamp to this result, in milliseconds.
    public var captureToResultMilliseconds: Double
    /// Per stage, milliseconds: capture wait, preprocessing, inference.
    public var stageMilliseconds: (captureWait: Double, preprocess: Double, inference: Double)
    public var top: [Class]
    /// The model file's name.
    public var model: String
    /// The board profile, or "none" on a machine that is no known board.
    public var board: String
    /// The source's name (device or file).
    public var source: String
    /// How the result was computed: "INT8", "mixed INT8/FP32" or "FP32", and the INT8 kernel variant ("fp32" in float).
    public var precision: String = ""
    public var kernels: String = ""
    /// The model's raw outputs, when `results.logits` asks for them (to compare a board's results with another
    /// machine's, bit for bit: each is written in the shortest form that reads back to the same Float).
    public var logits: [Float]? = nil

    public static func == (a: ClassificationResult, b: ClassificationResult) -> Bool {
        a.sequence == b.sequence && a.timestamp == b.timestamp && a.top == b.top && a.model == b.model && a.board == b.board
    }

    /// One JSON object on one line (no trailing newline).
    public var json: String {
        var s = "{\"sequence\":\(sequence),\"timestamp\":\(Self.number(timestamp, 6))"
        s += ",\"capture_to_result_ms\":\(Self.number(captureToResultMilliseconds, 3))"
        s += ",\"top\":[" + top.map { String($0.index) }.joined(separator: ",") + "]"
        s += ",\"labels\":[" + top.map { Self.quote($0.label) }.joined(separator: ",") + "]"
        s += ",\"probabilities\":[" + top.map { Self.number(Double($0.probability), 6) }.joined(separator: ",") + "]"
        s += ",\"model\":" + Self.quote(model) + ",\"board\":" + Self.quote(board) + ",\"source\":" + Self.quote(source)
        if !precision.isEmpty { s += ",\"precision\":" + Self.quote(precision) + ",\"kernels\":" + Self.quote(kernels) }
        if let logits { s += ",\"logits\":[" + logits.map { $0.isFinite ? "\($0)" : "null" }.joined(separator: ",") + "]" }
        s += ",\"stages_ms\":{\"capture_wait\":\(Self.number(stageMilliseconds.captureWait, 3)),\"preprocess\":\(Self.number(stageMilliseconds.preprocess, 3)),\"inference\":\(Self.number(stageMilliseconds.inference, 3))}"
        s += ",\"wall_time\":\(Self.number(wallTime, 3))}"
        return s
    }

    /// A finite number with at most `digits` decimals and no exponent (JSON has no NaN/Infinity: those become 0).
    static func number(_ v: Double, _ digits: Int) -> String {
        guard v.isFinite else { return "0" }
        var text = String(printf: "%.\(digits)f", v)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text == "-0" ? "0" : text
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(printf: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
