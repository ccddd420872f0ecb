import EdgeBoards
import EdgeRuntime

/// The quantization a board's fastest INT8 kernels need, derived from its profile (`kernels.prefer`): which
/// kernel variant runs, the weight layout the file is packed in, and the constraints of that variant's arithmetic.
///
/// Every variant of CKernels accumulates in int32 without intermediate saturation as long as weights stay in
/// [-127, 127]: NEON's SMLAL pairs two int8 x int8 products in int16 (2 x 127 x 128 = 32,512 fits; -128 x -128
/// twice would not), SDOT and VPDPBUSD accumulate four products straight into int32, AVX2 widens to int16 and
/// uses VPMADDWD (int32 pair sums). So no variant needs PyTorch's `reduce_range` (the 7-bit activations fbgemm
/// needs for VPMADDUBSW's saturating u8 x s8 pair sums); all take per-channel weights, and the [-127, 127]
/// weight range is kept on every board so a model gives the same bytes on all of them.
public struct QuantizationScheme: Codable, Equatable, Sendable {
    public var board: String
    /// The kernel variant the board runs (`neon`, `neondot`, ... as `KernelVariant`'s raw value).
    public var kernels: String
    public var layout: WeightLayout
    public var perChannelWeights: Bool
    public var weightMinimum: Int
    public var weightMaximum: Int
    /// Activations: asymmetric 8-bit (int8 with a zero point; uint8 is the same numbers shifted by 128).
    public var activations: String
    public var reduceRange: Bool
    /// What a layer kept out of INT8 runs in: fp32 (CKernels has no FP16 kernels yet, so even boards with FP16
    /// arithmetic keep such layers in FP32).
    public var higherPrecision: String
    /// Why, in a sentence per decision, for the report.
    public var reasons: [String]

    public init(board: BoardProfile) throws {
        let preferred = board.kernels.prefer.compactMap { KernelVariant(rawValue: $0) }.first { $0 != .auto }
        guard let variant = preferred else {
            throw CalibrationError("board '\(board.name)' names no known kernel variant in kernels.prefer (\(board.kernels.prefer.joined(separator: ", ")))")
        }
        self.init(boardName: board.name, variant: variant, fp16: board.cpu.fp16_arithmetic)
    }

    /// The scheme for a kernel variant without a board (the developer host: `--board host`).
    public init(boardName: String, variant: KernelVariant, fp16: Bool = false) {
        let resolved = variant == .auto ? KernelVariant.best : variant
        board = boardName
        kernels = resolved.rawValue
        layout = WeightLayout(resolved)
        perChannelWeights = true
        weightMinimum = -127
        weightMaximum = 127
        activations = "int8 asymmetric (per tensor)"
        reduceRange = false
        higherPrecision = "fp32"
        var reasons = ["\(boardName) runs the \(resolved) kernels; weights are packed for them (\(layout))"]
        switch resolved {
        case .neon:
            reasons.append("neon: SMLAL sums two int8 x int8 products in int16, exact for weights in [-127, 127] (so -128 is never used); no reduced range needed")
        case .neondot:
            reasons.append("neondot: SDOT accumulates in int32, no saturation; weights kept in [-127, 127] so the model gives the same bytes as on NEON-only boards")
        case .avx2:
            reasons.append("avx2: sign-extends to int16 and sums pairs in int32 (VPMADDWD), no saturation; no reduced range (fbgemm's VPMADDUBSW would need it)")
        case .avx512vnni:
            reasons.append("avx512vnni: VPDPBUSD accumulates in int32, no saturation")
        case .scalar, .auto:
            reasons.append("scalar: int32 accumulation")
        }
        reasons.append("per-channel symmetric weights: every variant requantizes per output channel")
        if fp16 {
            reasons.append("the board has FP16 arithmetic, but CKernels has no FP16 kernels: layers kept out of INT8 run in FP32")
        }
        self.reasons = reasons
    }
}

public struct CalibrationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
