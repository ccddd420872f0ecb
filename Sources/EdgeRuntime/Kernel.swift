import EdgeGraph

/// One step of an execution plan: an operator bound to its buffers for one set of shapes.
protocol Kernel {
    func run(pool: ThreadPool)
}

/// The activation's clamp, applied in epilogues.
struct Clamp {
    let lower: Float, upper: Float
    let isIdentity: Bool

    init(_ activation: Activation) {
        (lower, upper) = activation.bounds
        isIdentity = activation == .none
    }

    @inline(__always) func callAsFunction(_ x: Float) -> Float { Swift.min(Swift.max(x, lower), upper) }
}

/// out[r][c] = clamp(out[r][c] + bias[c]) over `rows` rows of `columns`, on the calling thread.
func addBiasAndClamp(_ out: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int,
                     bias: UnsafePointer<Float>, clamp: Clamp) {
    for r in 0..<rows {
        let row = out + r * stride
        if clamp.isIdentity {
            for c in 0..<columns { row[c] += bias[c] }
        } else {
            for c in 0..<columns { row[c] = clamp(row[c] + bias[c]) }
        }
    }
}
