#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Which INT8 micro-kernel variant a session uses (CKernels' ISA levels).
public enum KernelVariant: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The best this CPU runs: avx512vnni > avx2 > scalar on x86-64, neondot > neon on aarch64.
    case auto
    case scalar, neon, neondot, avx2, avx512vnni

    public var description: String { rawValue }
}

/// How a session computes a quantized graph.
public enum Precision: String, CaseIterable, Sendable, CustomStringConvertible {
    /// INT8 wherever the graph is quantized (a node's weights and the values around it carry parameters),
    /// FP32 elsewhere, with quantize/dequantize conversions where the two meet.
    case auto
    /// Everything in FP32. Values that carry quantization parameters are fake-quantized (quantized and
    /// dequantized in place after they are produced), so a QDQ model computes what its Q/DQ pairs say: a
    /// float simulation of the quantized model. A graph without quantization runs as plain FP32 either way.
    case fp32

    public var description: String { rawValue }
}

public struct SessionOptions: Sendable {
    /// Worker threads. Kernels split their work over these; OpenBLAS itself runs single-threaded inside them.
    public var threads: Int
    /// The INT8 kernel variant; forcing one this CPU or binary cannot run is an error at session creation.
    public var kernels: KernelVariant
    public var precision: Precision
    /// Take a quantized graph input as int8 (`InferenceSession.int8InputBuffer`), so preprocessing writes the
    /// quantized tensor directly and the session has no quantize step. Only where every consumer of the input runs
    /// INT8; otherwise the input stays float.
    public var int8Input: Bool
    /// Pin the thread that calls `execute` and the pool's workers each to its own CPU (`ThreadPool` explains why).
    /// For a thread that owns inference, as the daemon's frame loop does; it changes the calling thread's affinity.
    public var pinThreads: Bool

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount, kernels: KernelVariant = .auto,
                precision: Precision = .auto, int8Input: Bool = false, pinThreads: Bool = false) {
        self.threads = max(1, threads)
        self.kernels = kernels
        self.precision = precision
        self.int8Input = int8Input
        self.pinThreads = pinThreads
    }
}
