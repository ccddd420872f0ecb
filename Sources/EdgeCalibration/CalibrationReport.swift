#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// One row of the calibration report: a layer's output quantization and how much the quantized model loses there.
public struct LayerReport: Codable, Sendable {
    public var node: String
    public var op: String
    /// "int8", or the higher precision the budget kept it in.
    public var precision: String
    public var outputScale: Float
    public var outputZeroPoint: Int
    /// The range the observer chose for the output (before widening to include 0).
    public var range: [Float]
    /// Fraction of the FP32 output values (evaluation images) outside the representable range.
    public var clippedFraction: Double
    /// The full INT8 model's output here against FP32's, in dB.
    public var sqnrDB: Double
    /// Top-1 agreement with FP32 and mean logit cosine with only this layer quantized (nil for layers without weights).
    public var aloneTop1: Double?
    public var aloneCosine: Double?

    enum CodingKeys: String, CodingKey {
        case node, op, precision, outputScale = "output_scale", outputZeroPoint = "output_zero_point", range
        case clippedFraction = "clipped_fraction", sqnrDB = "sqnr_db", aloneTop1 = "alone_top1", aloneCosine = "alone_cosine"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(node, forKey: .node)
        try c.encode(op, forKey: .op)
        try c.encode(precision, forKey: .precision)
        try c.encode(outputScale, forKey: .outputScale)
        try c.encode(outputZeroPoint, forKey: .outputZeroPoint)
        try c.encode(range, forKey: .range)
        try c.encode(clippedFraction, forKey: .clippedFraction)
        // JSON has no infinity: an exact layer's SQNR is written as null.
        try c.encode(sqnrDB.isFinite ? sqnrDB : nil, forKey: .sqnrDB)
        try c.encodeIfPresent(aloneTop1, forKey: .aloneTop1)
        try c.encodeIfPresent(aloneCosine, forKey: .aloneCosine)
    }

    public init(node: String, op: String, precision: String, outputScale: Float, outputZeroPoint: Int, range: [Float],
                clippedFraction: Double, sqnrDB: Double, aloneTop1: Double?, aloneCosine: Double?) {
        self.node = node
        self.op = op
        self.precision = precision
        self.outputScale = outputScale
        self.outputZeroPoint = outputZeroPoint
        self.range = range
        self.clippedFraction = clippedFraction
        self.sqnrDB = sqnrDB
        self.aloneTop1 = aloneTop1
        self.aloneCosine = aloneCosine
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        node = try c.decode(String.self, forKey: .node)
        op = try c.decode(String.self, forKey: .op)
        precision = try c.decode(String.self, forKey: .precision)
        outputScale = try c.decode(Float.self, forKey: .outputScale)
        outputZeroPoint = try c.decode(Int.self, forKey: .outputZeroPoint)
        range = try c.decode([Float].self, forKey: .range)
        clippedFraction = try c.decode(Double.self, forKey: .clippedFraction)
        sqnrDB = try c.decodeIfPresent(Double.self, forKey: .sqnrDB) ?? .infinity
        aloneTop1 = try c.decodeIfPresent(Double.self, forKey: .aloneTop1)
        aloneCosine = try c.decodeIfPresent(Double.self, forKey: .aloneCosine)
    }
}

/// What the calibrator did and what it measured (printed as a table; written as JSON with --report).
public struct CalibrationReport: Codable, Sendable {
    public var observer: ObserverKind
    public var scheme: QuantizationScheme
    public var calibrationImages: Int
    public var evaluationImages: Int
    public var biasCorrection: Bool
    public var equalizedPairs: [String]
    public var perChannelWeights: Bool
    public var budget: Double?
    public var keptInHigherPrecision: [String] = []
    /// Over the evaluation images: top-1 agreement of the final model with FP32, and the mean logit cosine.
    public var agreementTop1: Double = 0
    public var meanCosine: Double = 0
    public var inputScale: Float?
    public var inputZeroPoint: Int?
    public var layers: [LayerReport] = []
    public var seconds: Double = 0

    enum CodingKeys: String, CodingKey {
        case observer, scheme, calibrationImages = "calibration_images", evaluationImages = "evaluation_images"
        case biasCorrection = "bias_correction", equalizedPairs = "equalized_pairs", perChannelWeights = "per_channel_weights"
        case budget, keptInHigherPrecision = "kept_in_higher_precision", agreementTop1 = "agreement_top1"
        case meanCosine = "mean_cosine", inputScale = "input_scale", inputZeroPoint = "input_zero_point", layers, seconds
    }

    init(observer: ObserverKind, scheme: QuantizationScheme, calibrationImages: Int, evaluationImages: Int,
         biasCorrection: Bool, equalizedPairs: [String], perChannelWeights: Bool) {
        self.observer = observer
        self.scheme = scheme
        self.calibrationImages = calibrationImages
        self.evaluationImages = evaluationImages
        self.biasCorrection = biasCorrection
        self.equalizedPairs = equalizedPairs
        self.perChannelWeights = perChannelWeights
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// The terminal table.
    public var table: String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
        let nameWidth = min(48, max(24, layers.map(\.node.count).max() ?? 0))
        var lines: [String] = []
        lines.append("board \(scheme.board): \(scheme.kernels) kernels, \(scheme.layout); \(perChannelWeights ? "per-channel" : "per-tensor") weights in [\(scheme.weightMinimum), \(scheme.weightMaximum)], \(scheme.activations) activations, reduce range \(scheme.reduceRange ? "on" : "off")")
        lines.append("observer \(observer), \(calibrationImages) calibration images, bias correction \(biasCorrection ? "on" : "off"), cross-layer equalization \(equalizedPairs.isEmpty ? "off" : "\(equalizedPairs.count) pairs")")
        lines.append(pad("layer", nameWidth) + " " + pad("op", 17) + lpad("scale", 11) + lpad("zp", 5) + lpad("clipped", 9)
                     + lpad("SQNR dB", 9) + lpad("alone top1", 11) + lpad("alone cos", 10) + "  precision")
        for l in layers {
            let alone = l.aloneTop1.map { String(printf: "%.2f %%", 100 * $0) } ?? "-"
            let cosine = l.aloneCosine.map { String(printf: "%.5f", $0) } ?? "-"
            lines.append(pad(String(l.node.suffix(nameWidth)), nameWidth) + " " + pad(l.op, 17)
                         + lpad(String(printf: "%.3g", l.outputScale), 11) + lpad("\(l.outputZeroPoint)", 5)
                         + lpad(String(printf: "%.3f%%", 100 * l.clippedFraction), 9)
                         + lpad(l.sqnrDB.isFinite ? String(printf: "%.1f", l.sqnrDB) : "exact", 9)
                         + lpad(alone, 11) + lpad(cosine, 10) + "  " + l.precision)
        }
        lines.append(String(printf: "agreement with FP32 on %d images: top-1 %.2f %%, mean logit cosine %.5f", evaluationImages,
                            100 * agreementTop1, meanCosine))
        if let budget {
            lines.append(String(printf: "budget %.2f points: ", budget)
                         + (keptInHigherPrecision.isEmpty ? "everything INT8 fits" : "kept in \(scheme.higherPrecision): " + keptInHigherPrecision.joined(separator: ", ")))
        }
        return lines.joined(separator: "\n")
    }
}
