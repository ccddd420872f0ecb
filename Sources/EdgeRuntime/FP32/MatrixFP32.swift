import COpenBLAS
import EdgeGraph

/// Fully connected layer: y = clamp(x W^T + b) through SGEMM, W kept as [outputs][inputs].
final class PackedFullyConnectedFP32 {
    let fc: FullyConnected
    let weights: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>

    init(_ original: FullyConnected) {
        var fc = original
        fc.weights = original.floatWeights
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
        // Each task computes a block of output features for every row: the weights are read once in total.
        let tasks = min(pool.threadCount, max(1, fc.outputs / 64))
        let clamp = Clamp(fc.activation)
        pool.runTasks(tasks) { task in
            let o0 = fc.outputs * task / tasks, o1 = fc.outputs * (task + 1) / tasks
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(o1 - o0), Int32(fc.inputs),
                        1, input, Int32(fc.inputs), packed.weights + o0 * fc.inputs, Int32(fc.inputs), 0, output + o0, Int32(fc.outputs))
            addBiasAndClamp(output + o0, rows: rows, columns: o1 - o0, stride: fc.outputs, bias: packed.bias + o0, clamp: clamp)
        }
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
