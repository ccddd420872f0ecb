/// A tensor's logical shape, in ONNX order: activations are [N, C, H, W] or [N, F].
///
/// The logical order is what users and ONNX see. The runtime stores rank-4 activations as NHWC
/// (see `StorageOrder`), the layout every fast CPU kernel in this field (XNNPACK, QNNPACK, ncnn's
/// packed layouts) works on: a 1x1 convolution is then a plain GEMM and channels are contiguous.
public struct Shape: Hashable, Sendable, CustomStringConvertible {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }

    public var rank: Int { dims.count }
    public var elementCount: Int { dims.reduce(1, *) }
    public subscript(_ axis: Int) -> Int { dims[axis] }

    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }
}

/// One dimension of a graph input as declared by the model: fixed, or named and bound at plan time.
public enum DeclaredDimension: Hashable, Sendable, CustomStringConvertible {
    case fixed(Int)
    case symbolic(String)

    public var description: String {
        switch self {
        case .fixed(let n): return String(n)
        case .symbolic(let name): return name.isEmpty ? "?" : name
        }
    }
}

/// How a tensor's elements are ordered in memory.
public enum StorageOrder: Sendable {
    /// Rank-4 activations: [N, H, W, C].
    case nhwc
    /// Everything else: row-major in logical order.
    case logical

    public static func of(_ shape: Shape) -> StorageOrder { shape.rank == 4 ? .nhwc : .logical }

    /// True when the physical order equals the logical (row-major NCHW) order, so a reshape is free:
    /// NHWC and NCHW coincide when there is one channel or one pixel.
    public static func isLogicalOrder(_ shape: Shape) -> Bool {
        shape.rank != 4 || shape[1] == 1 || shape[2] * shape[3] == 1
    }
}
