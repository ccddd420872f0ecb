import COpenBLAS
import EdgeGraph
import Foundation

public struct SessionOptions: Sendable {
    /// Worker threads. Kernels split their work over these; OpenBLAS itself runs single-threaded inside them.
    public var threads: Int

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.threads = max(1, threads)
    }
}

/// A tensor handed back to the caller, in logical (NCHW) order.
public struct OutputTensor: Sendable {
    public let name: String
    public let shape: Shape
    public let values: [Float]
}

/// Runs one graph on the FP32 reference path.
///
/// Weights are packed once, at creation. `prepare(inputShapes:)` computes shapes, the memory plan and
/// the kernel list for one set of input shapes (any batch size or image size the model allows) and
/// allocates the arena; running again with the same shapes reuses all of it.
public final class InferenceSession {
    public let graph: Graph
    public let options: SessionOptions
    let pool: ThreadPool

    private var packedConvolutions: [Int: PackedConvolutionFP32] = [:]
    private var packedFullyConnected: [Int: PackedFullyConnectedFP32] = [:]

    /// The current plan; nil until `prepare`.
    public private(set) var shapes: [Shape]?
    public private(set) var memoryPlan: MemoryPlan?
    private var arena: Arena?
    private var scratch: UnsafeMutablePointer<Float>?
    public private(set) var scratchBytes = 0
    /// The plan: each kernel with the index of the graph node it runs.
    private var kernels: [(Kernel, Int)] = []

    public init(graph: Graph, options: SessionOptions = SessionOptions()) throws {
        try graph.validate()
        self.graph = graph
        self.options = options
        pool = ThreadPool(threadCount: options.threads)
        for (index, node) in graph.nodes.enumerated() {
            switch node.op {
            case .convolution(let conv): packedConvolutions[index] = PackedConvolutionFP32(conv)
            case .fullyConnected(let fc): packedFullyConnected[index] = PackedFullyConnectedFP32(fc)
            default: break
            }
        }
    }

    deinit { scratch?.deallocate() }

    public var inputShapes: [Shape]? { shapes.map { s in graph.inputs.map { s[$0] } } }

    /// Plans execution for these input shapes (logical NCHW), unless already planned for them.
    public func prepare(inputShapes: [Shape]) throws {
        if let current = self.inputShapes, current == inputShapes { return }
        let shapes = try graph.inferShapes(inputShapes: inputShapes)
        let plan = MemoryPlan(graph: graph, shapes: shapes)
        let arena = Arena(bytes: plan.arenaBytes)
        var scratchFloats = 0
        var convolutionPlans: [Int: ConvolutionFP32Kernel.Plan] = [:]
        for (index, node) in graph.nodes.enumerated() {
            let x = shapes[node.inputs[0]]
            switch node.op {
            case .convolution(let conv) where !conv.isDepthwise:
                let plan = ConvolutionFP32Kernel.plan(conv, conv.window.resolve(height: x[2], width: x[3]), batch: x[0], threads: pool.threadCount)
                convolutionPlans[index] = plan
                scratchFloats = max(scratchFloats, plan.scratchFloats)
            case .flatten, .reshape:
                if !MemoryPlan.isView(node, shapes: shapes) { scratchFloats = max(scratchFloats, x.elementCount) }
            default: break
            }
        }
        scratch?.deallocate()
        scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(scratchFloats, 16))
        scratchBytes = scratchFloats * 4

        var kernels: [(Kernel, Int)] = []
        for (index, node) in graph.nodes.enumerated() {
            func append(_ kernel: Kernel) { kernels.append((kernel, index)) }
            let x = shapes[node.inputs[0]], y = shapes[node.output]
            let input = arena.floats(at: plan.offsets[node.inputs[0]]), output = arena.floats(at: plan.offsets[node.output])
            switch node.op {
            case .convolution(let conv):
                let packed = packedConvolutions[index]!
                let window = conv.window.resolve(height: x[2], width: x[3])
                if conv.isDepthwise {
                    append(DepthwiseConvolutionFP32Kernel(packed: packed, window: window, batch: x[0], input: input, output: output))
                } else {
                    append(ConvolutionFP32Kernel(packed: packed, window: window, batch: x[0], inputChannels: x[1],
                                                         input: input, output: output, scratch: scratch!,
                                                         plan: convolutionPlans[index]!))
                }
            case .fullyConnected:
                append(FullyConnectedFP32Kernel(packed: packedFullyConnected[index]!, rows: x[0], input: input, output: output))
            case .channelAffine(let scale, let shift, let activation):
                append(ChannelAffineFP32Kernel(count: x.elementCount, channels: x[1], channelStride: Self.channelStride(x),
                                                       scale: scale, shift: shift, input: input, output: output, activation: activation))
            case .activation(let activation):
                append(ChannelAffineFP32Kernel(count: x.elementCount, channels: 1, channelStride: 1, scale: nil, shift: nil,
                                                       input: input, output: output, activation: activation))
            case .add(let activation):
                append(AddFP32Kernel(count: y.elementCount, a: input, b: arena.floats(at: plan.offsets[node.inputs[1]]),
                                             output: output, activation: activation))
            case .maxPool(let window):
                append(PoolingFP32Kernel(mode: .max, window: window.resolve(height: x[2], width: x[3]),
                                                 batch: x[0], channels: x[1], input: input, output: output))
            case .averagePool(let window, let includePad):
                append(PoolingFP32Kernel(mode: .average(countIncludePad: includePad), window: window.resolve(height: x[2], width: x[3]),
                                                 batch: x[0], channels: x[1], input: input, output: output))
            case .globalAveragePool:
                append(GlobalAveragePoolFP32Kernel(batch: x[0], pixels: x[2] * x[3], channels: x[1], input: input, output: output))
            case .flatten, .reshape:
                if !MemoryPlan.isView(node, shapes: shapes) {
                    append(ReorderFP32Kernel(inputShape: x, outputShape: y, input: input, output: output, scratch: scratch!))
                }
            case .matMul:
                append(MatMulFP32Kernel(m: x[0], k: x[1], n: y[1], a: input, b: arena.floats(at: plan.offsets[node.inputs[1]]),
                                                output: output))
            }
        }
        self.shapes = shapes
        self.memoryPlan = plan
        self.arena = arena
        self.kernels = kernels
    }

    public func prepare(inputShape: Shape) throws { try prepare(inputShapes: [inputShape]) }

    /// Elements between consecutive channels in a tensor's storage.
    static func channelStride(_ shape: Shape) -> Int {
        StorageOrder.of(shape) == .nhwc ? 1 : shape.dims.dropFirst(2).reduce(1, *)
    }

    /// The storage of graph input `index` in the current plan: NHWC for images. Preprocessing writes here directly.
    public func inputBuffer(_ index: Int = 0) throws -> UnsafeMutablePointer<Float> {
        guard let arena, let plan = memoryPlan else { throw GraphError("the session has not been prepared for an input shape") }
        return arena.floats(at: plan.offsets[graph.inputs[index]])
    }

    /// Copies a logical-order (NCHW) input into its NHWC storage.
    public func setInput(_ index: Int = 0, nchw values: UnsafePointer<Float>) throws {
        guard let shapes else { throw GraphError("the session has not been prepared for an input shape") }
        let shape = shapes[graph.inputs[index]]
        let buffer = try inputBuffer(index)
        if StorageOrder.isLogicalOrder(shape) {
            buffer.update(from: values, count: shape.elementCount)
        } else {
            ReorderFP32Kernel.nchwToNHWC(values, buffer, shape)
        }
    }

    /// Runs the planned kernels over the current input buffers.
    public func execute() throws {
        guard arena != nil else { throw GraphError("the session has not been prepared for an input shape") }
        openblas_set_num_threads(1)
        for (kernel, _) in kernels { kernel.run(pool: pool) }
    }

    /// Runs like `execute`, timing each node: seconds per graph node index (0 for nodes that are views).
    public func executeProfiled() throws -> [Double] {
        guard arena != nil else { throw GraphError("the session has not been prepared for an input shape") }
        openblas_set_num_threads(1)
        var seconds = [Double](repeating: 0, count: graph.nodes.count)
        for (kernel, node) in kernels {
            let start = DispatchTime.now().uptimeNanoseconds
            kernel.run(pool: pool)
            seconds[node] = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        return seconds
    }

    /// Output `index` of the last run, in logical order.
    public func output(_ index: Int = 0) throws -> OutputTensor {
        guard let arena, let plan = memoryPlan, let shapes else { throw GraphError("the session has not run") }
        let id = graph.outputs[index]
        let shape = shapes[id]
        let storage = arena.floats(at: plan.offsets[id])
        var values = [Float](repeating: 0, count: shape.elementCount)
        values.withUnsafeMutableBufferPointer { dst in
            if StorageOrder.isLogicalOrder(shape) {
                dst.baseAddress!.update(from: storage, count: shape.elementCount)
            } else {
                ReorderFP32Kernel.nhwcToNCHW(storage, dst.baseAddress!, shape)
            }
        }
        return OutputTensor(name: graph.values[id].name, shape: shape, values: values)
    }

    /// Convenience for single-input models: NCHW values in, first output out.
    public func run(input: [Float], shape: Shape) throws -> OutputTensor {
        guard graph.inputs.count == 1 else { throw GraphError("the model has \(graph.inputs.count) inputs; use prepare/setInput") }
        guard input.count == shape.elementCount else {
            throw GraphError("the input has \(input.count) values, shape \(shape) needs \(shape.elementCount)")
        }
        try prepare(inputShape: shape)
        try input.withUnsafeBufferPointer { try setInput(nchw: $0.baseAddress!) }
        try execute()
        return try output()
    }
}
