import COpenBLAS
import EdgeGraph

/// Fully connected layer: y = clamp(x W^T + b) through SGEMM, W kept as [outputs][inputs].
final class PackedFullyConnectedFP32 {
    let fc: FullyConnected
    let weights: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>

    init(_ fc: FullyConnected) {
        self.fc = fc
        weights = .allocate(capacity: fc.weights.count)
        weights.initialize(from: fc.weights, count: fc.weights.count)
        bias = .allocate(capacity: fc.outputs)
        bias.initialize(from: fc.bias, count: fc.outputs)
    }

    deinit {
        weights.deallocate()
        bias.deallocate()
    }
}

struct FullyConnectedFP32Kernel: Kernel {
    let packed: PackedFullyConnectedFP32
    let rows: Int
    let input: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>

    func run(pool: ThreadPool) {
        let fc = packed.fc
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(fc.outputs), Int32(fc.inputs),
                    1, input, Int32(fc.inputs), packed.weights, Int32(fc.inputs), 0, output, Int32(fc.outputs))
        addBiasAndClamp(output, rows: rows, columns: fc.outputs, stride: fc.outputs, bias: packed.bias,
                        clamp: Clamp(fc.activation), pool: pool)
    }
}

/// Product of two activations, [M, K] x [K, N].
struct MatMulFP32Kernel: Kernel {
    let m: Int, k: Int, n: Int
    let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>

    func run(pool: ThreadPool) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(k), b, Int32(n), 0, output, Int32(n))
    }
}
