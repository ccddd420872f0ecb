import CKernels
import COpenBLAS
import EdgeGraph
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Dispatch

/// A tensor handed back to the caller, in logical (NCHW) order.
public struct OutputTensor: Sendable {
    public let name: String
    public let shape: Shape
    public let values: [Float]
}

/// A graph output as the INT8 path computed it: the int8 values (logical order) and their parameters.
public struct QuantizedOutputTensor: Sendable {
    public let name: String
    public let shape: Shape
    public let values: [Int8]
    public let quantization: QuantizationParameters
}

/// One timed step of a profiled run: a node, or a conversion between INT8 and FP32.
public struct StepTiming: Sendable {
    /// The node's name, or "quantize 'value'" / "dequantize 'value'" / "fake-quantize 'value'".
    public let label: String
    public let op: String
    /// The graph node this step computes or serves (the producer of a converted value); nil for graph inputs.
    public let node: Int?
    public let seconds: Double
}

/// Runs one graph: INT8 where it is quantized (CKernels micro-kernels), FP32 elsewhere (OpenBLAS SGEMM and
/// Swift loops), over NHWC activations in one arena.
///
/// Weights are packed once, at creation, for the path each node takes (see `ExecutionStrategy`).
/// `prepare(inputShapes:)` computes shapes, the memory plan (per-value element sizes: int8 buffers take one
/// byte per element), indirection buffers and the step list for one set of input shapes (any batch size or
/// image size the model allows) and allocates the arena; running again with the same shapes reuses all of it.
public final class InferenceSession {
    public let graph: Graph
    public let options: SessionOptions
    let pool: ThreadPool
    let kernelSet: KernelSet
    let strategy: ExecutionStrategy

    private var packedConvolutions: [Int: PackedConvolutionFP32] = [:]
    private var packedFullyConnected: [Int: PackedFullyConnectedFP32] = [:]
    private var packedConvolutionsINT8: [Int: PackedConvolutionINT8] = [:]
    private var packedFullyConnectedINT8: [Int: PackedGemmINT8] = [:]
    private var addParameters: [Int: AlignedBuffer] = [:]

    /// The current plan; nil until `prepare`.
    public private(set) var shapes: [Shape]?
    /// Over buffers, not values: see `floatBuffer`/`int8Buffer`.
    public private(set) var memoryPlan: MemoryPlan?
    private var arena: Arena?
    private var scratch: AlignedBuffer?
    public private(set) var scratchBytes = 0
    /// Indirection buffers and padding rows of the current plan.
    private var planStorage: [AlignedBuffer] = []
    /// Per value, its float and int8 buffer in the memory plan (nil where the value has no such form).
    private var floatBuffer: [Int?] = []
    private var int8Buffer: [Int?] = []
    private var steps: [Step] = []

    private struct Step {
        let kernel: Kernel
        let node: Int?
        let label: String
        let op: String
    }

    /// How each node runs (INT8 or FP32, which kernel, why FP32), in graph order.
    public private(set) var nodeExecutions: [NodeExecution] = []

    /// Pre-packed weights (a model file's) this session reads in place; kept to keep their memory alive.
    public let prepacked: PrepackedWeights?
    /// INT8 nodes whose weights the session reads from `prepacked` in place (the others it packed itself).
    public private(set) var prepackedNodes: [String] = []

    public init(graph: Graph, options: SessionOptions = SessionOptions(), prepacked: PrepackedWeights? = nil) throws {
        try graph.validate()
        self.graph = graph
        self.options = options
        self.prepacked = prepacked
        kernelSet = try KernelSet(options.kernels)
        strategy = ExecutionStrategy(graph: graph, precision: options.precision, int8Input: options.int8Input)
        pool = ThreadPool(threadCount: options.threads, pinned: options.pinThreads)
        let q = strategy.quantization
        for (index, node) in graph.nodes.enumerated() {
            let int8 = strategy.runsINT8[index]
            var kernel = "fp32"
            switch node.op {
            case .convolution(let conv):
                if int8 {
                    let packed = try PackedConvolutionINT8(node: node, conv: conv, kernels: kernelSet, input: q[node.inputs[0]]!, output: q[node.output]!,
                                                           prepacked: prepacked?.blobs[node.name])
                    packedConvolutionsINT8[index] = packed
                    if packed.gemm?.usesPrepacked ?? (packed.depthwise?.packedBuffer == nil) { prepackedNodes.append(node.name) }
                    kernel = packed.kernelName
                } else {
                    packedConvolutions[index] = PackedConvolutionFP32(conv)
                    kernel = "fp32-sgemm"
                }
            case .fullyConnected(let fc):
                if int8 {
                    let qw = fc.quantized!
                    packedFullyConnectedINT8[index] = try PackedGemmINT8(node: node, kernels: kernelSet, groups: 1, nc: fc.outputs, ks: 1, kc: fc.inputs,
                                                                         weights: qw.values, bias: qw.bias, scales: qw.scales,
                                                                         input: q[node.inputs[0]]!, output: q[node.output]!, activation: fc.activation,
                                                                         prepacked: prepacked?.blobs[node.name])
                    if packedFullyConnectedINT8[index]!.usesPrepacked { prepackedNodes.append(node.name) }
                    kernel = kernelSet.gemmName
                } else {
                    packedFullyConnected[index] = PackedFullyConnectedFP32(fc)
                    kernel = "fp32-sgemm"
                }
            case .add(let activation):
                if int8 {
                    let params = try AddINT8Kernel.parameters(node, activation: activation, a: q[node.inputs[0]]!, b: q[node.inputs[1]]!, output: q[node.output]!)
                    let box = AlignedBuffer(bytes: MemoryLayout<ck_qs8_add_params>.stride)
                    box.pointer.storeBytes(of: params, as: ck_qs8_add_params.self)
                    addParameters[index] = box
                    kernel = kernelSet.vaddName
                }
            case .maxPool: if int8 { kernel = kernelSet.maxpoolName }
            case .globalAveragePool: if int8 { kernel = kernelSet.gavgpoolName }
            case .flatten, .reshape: kernel = "reshape"
            default: break
            }
            nodeExecutions.append(NodeExecution(name: node.name, op: node.op.name, precision: int8 ? .int8 : .fp32, kernel: kernel,
                                                reason: strategy.fp32Reason[index]))
        }
    }

    /// The INT8 kernel variant this session runs (what `.auto` resolved to).
    public var kernelVariant: KernelVariant { kernelSet.variant }
    /// True when at least one node runs INT8.
    public var runsINT8: Bool { strategy.runsINT8.contains(true) }
    /// The CKernels micro-kernels the INT8 nodes use (descriptor names), in first-use order.
    public var kernelNames: [String] {
        var seen = Set<String>(), names: [String] = []
        for e in nodeExecutions where e.precision == .int8 && !["reshape", "view", "reorder"].contains(e.kernel) && seen.insert(e.kernel).inserted {
            names.append(e.kernel)
        }
        return names
    }
    /// The nodes that run FP32 in a graph that has INT8 nodes (mixed precision), by name.
    public var fp32Nodes: [String] {
        runsINT8 ? nodeExecutions.filter { $0.precision == .fp32 && $0.kernel != "reshape" }.map(\.name) : []
    }
    /// The quantization of each value as the session uses it (the model's, or propagated through MaxPool/reshapes).
    public var valueQuantization: [QuantizationParameters?] { strategy.quantization }

    public var inputShapes: [Shape]? { shapes.map { s in graph.inputs.map { s[$0] } } }

    // MARK: - Planning

    private enum Planned {
        case node(Int)
        case quantize(ValueID, fake: Bool)
        case fakeQuantize(ValueID)
        case dequantize(ValueID)
    }

    /// Plans execution for these input shapes (logical NCHW), unless already planned for them.
    public func prepare(inputShapes: [Shape]) throws {
        if let current = self.inputShapes, current == inputShapes { return }
        let shapes = try graph.inferShapes(inputShapes: inputShapes)
        let s = strategy

        // Buffers: per value its native form, plus the other form where a consumer wants it.
        var byteSizes: [Int] = [], owner: [Int] = []
        var floatBuffer = [Int?](repeating: nil, count: graph.values.count), int8Buffer = floatBuffer
        func newBuffer(_ bytes: Int) -> Int { byteSizes.append(bytes); owner.append(byteSizes.count - 1); return byteSizes.count - 1 }
        func alias(_ of: Int) -> Int { byteSizes.append(byteSizes[of]); owner.append(owner[of]); return byteSizes.count - 1 }
        var planned: [Planned] = []
        var isView = [Bool](repeating: false, count: graph.nodes.count)

        func addConversions(_ v: ValueID) {
            let n = shapes[v].elementCount
            switch s.native[v] {
            case .float:
                if s.needsInt8[v] {
                    int8Buffer[v] = newBuffer(n)
                    planned.append(.quantize(v, fake: s.fakeQuantize[v]))
                } else if s.fakeQuantize[v] {
                    planned.append(.fakeQuantize(v))
                }
            case .int8:
                if s.needsFloat[v] {
                    floatBuffer[v] = newBuffer(4 * n)
                    planned.append(.dequantize(v))
                }
            }
        }
        for v in graph.inputs {
            if s.native[v] == .int8 {
                int8Buffer[v] = newBuffer(shapes[v].elementCount)
            } else {
                floatBuffer[v] = newBuffer(4 * shapes[v].elementCount)
                addConversions(v)
            }
        }
        for (index, node) in graph.nodes.enumerated() {
            let v = node.output, x = node.inputs[0]
            let int8 = s.runsINT8[index]
            // A free reshape shares its input's storage, unless fake quantization in place would change the input.
            isView[index] = MemoryPlan.isView(node, shapes: shapes) && !(s.fakeQuantize[v] && s.quantization[v] != s.quantization[x])
            if int8 {
                int8Buffer[v] = isView[index] ? alias(int8Buffer[x]!) : newBuffer(shapes[v].elementCount)
            } else {
                floatBuffer[v] = isView[index] ? alias(floatBuffer[x]!) : newBuffer(4 * shapes[v].elementCount)
            }
            planned.append(.node(index))
            addConversions(v)
        }

        func access(_ p: Planned) -> MemoryPlan.Step {
            switch p {
            case .node(let index):
                let node = graph.nodes[index]
                let reads = node.inputs.map { s.runsINT8[index] ? int8Buffer[$0]! : floatBuffer[$0]! }
                return MemoryPlan.Step(reads: reads, writes: [s.runsINT8[index] ? int8Buffer[node.output]! : floatBuffer[node.output]!])
            case .quantize(let v, let fake):
                return MemoryPlan.Step(reads: [floatBuffer[v]!], writes: [int8Buffer[v]!] + (fake ? [floatBuffer[v]!] : []))
            case .fakeQuantize(let v):
                return MemoryPlan.Step(reads: [floatBuffer[v]!], writes: [floatBuffer[v]!])
            case .dequantize(let v):
                return MemoryPlan.Step(reads: [int8Buffer[v]!], writes: [floatBuffer[v]!])
            }
        }
        let liveOut = graph.outputs.flatMap { [floatBuffer[$0], int8Buffer[$0]].compactMap { $0 } }
        let plan = MemoryPlan(byteSizes: byteSizes, owner: owner, steps: planned.map(access),
                              liveIn: graph.inputs.map { floatBuffer[$0] ?? int8Buffer[$0]! }, liveOut: liveOut)
        let arena = Arena(bytes: plan.arenaBytes)
        func floats(_ v: ValueID) -> UnsafeMutablePointer<Float> { arena.floats(at: plan.offsets[floatBuffer[v]!]) }
        func int8s(_ v: ValueID) -> UnsafeMutablePointer<Int8> { arena.int8(at: plan.offsets[int8Buffer[v]!]) }

        // Scratch: FP32 im2col tiles, reorders, INT8 im2col rows (steps run one at a time, so they share it).
        var scratchBytes = 0
        var convolutionPlans: [Int: ConvolutionFP32Kernel.Plan] = [:]
        for (index, node) in graph.nodes.enumerated() {
            let x = shapes[node.inputs[0]]
            switch node.op {
            case .convolution(let conv):
                if let packed = packedConvolutionsINT8[index] {
                    scratchBytes = max(scratchBytes, pool.threadCount * ConvolutionINT8Kernel.scratchBytesPerThread(packed))
                } else if !conv.isDepthwise {
                    let p = ConvolutionFP32Kernel.plan(conv, conv.window.resolve(height: x[2], width: x[3]), batch: x[0], threads: pool.threadCount)
                    convolutionPlans[index] = p
                    scratchBytes = max(scratchBytes, 4 * p.scratchFloats)
                }
            case .flatten, .reshape:
                if !isView[index] { scratchBytes = max(scratchBytes, 4 * x.elementCount) }
            default: break
            }
        }
        let scratch = AlignedBuffer(bytes: max(scratchBytes, 64))
        var storage: [AlignedBuffer] = []

        var steps: [Step] = []
        var executions = nodeExecutions
        for p in planned {
            switch p {
            case .quantize(let v, let fake):
                steps.append(Step(kernel: QuantizeKernel(count: shapes[v].elementCount, parameters: s.quantization[v]!, input: floats(v),
                                                         output: int8s(v), fakeQuantize: fake),
                                  node: graph.nodes.firstIndex { $0.output == v }, label: "quantize '\(graph.values[v].name)'", op: "Quantize"))
            case .fakeQuantize(let v):
                steps.append(Step(kernel: QuantizeKernel(count: shapes[v].elementCount, parameters: s.quantization[v]!, input: floats(v),
                                                         output: nil, fakeQuantize: true),
                                  node: graph.nodes.firstIndex { $0.output == v }, label: "fake-quantize '\(graph.values[v].name)'", op: "FakeQuantize"))
            case .dequantize(let v):
                steps.append(Step(kernel: DequantizeKernel(count: shapes[v].elementCount, parameters: s.quantization[v]!, input: int8s(v), output: floats(v)),
                                  node: graph.nodes.firstIndex { $0.output == v }, label: "dequantize '\(graph.values[v].name)'", op: "Dequantize"))
            case .node(let index):
                let node = graph.nodes[index]
                let kernel: Kernel?
                if s.runsINT8[index] {
                    kernel = try int8Kernel(index, node, shapes: shapes, input: int8s, isView: isView[index], scratch: scratch, storage: &storage)
                } else {
                    kernel = fp32Kernel(index, node, shapes: shapes, input: floats, isView: isView[index], scratch: scratch,
                                        convolutionPlan: convolutionPlans[index])
                }
                if case .flatten = node.op { executions[index] = executions[index].withKernel(isView[index] ? "view" : "reorder") }
                if case .reshape = node.op { executions[index] = executions[index].withKernel(isView[index] ? "view" : "reorder") }
                if let kernel { steps.append(Step(kernel: kernel, node: index, label: node.name, op: node.op.name)) }
            }
        }
        self.shapes = shapes
        self.memoryPlan = plan
        self.arena = arena
        self.scratch = scratch
        self.scratchBytes = scratchBytes
        self.planStorage = storage
        self.floatBuffer = floatBuffer
        self.int8Buffer = int8Buffer
        self.steps = steps
        self.nodeExecutions = executions
    }

    private func int8Kernel(_ index: Int, _ node: Node, shapes: [Shape], input buffer: (ValueID) -> UnsafeMutablePointer<Int8>, isView: Bool,
                            scratch: AlignedBuffer, storage: inout [AlignedBuffer]) throws -> Kernel? {
        func pointers(_ count: Int) -> UnsafeMutablePointer<UnsafePointer<Int8>?> {
            let buffer = AlignedBuffer(bytes: count * MemoryLayout<UnsafePointer<Int8>?>.stride)
            storage.append(buffer)
            return buffer.pointer.bindMemory(to: UnsafePointer<Int8>?.self, capacity: count)
        }
        let x = shapes[node.inputs[0]], y = shapes[node.output]
        let input = buffer(node.inputs[0]), output = buffer(node.output)
        let q = strategy.quantization
        switch node.op {
        case .convolution(let conv):
            let packed = packedConvolutionsINT8[index]!
            let window = conv.window.resolve(height: x[2], width: x[3])
            let count = ConvolutionINT8Kernel.indirectionCount(packed, window)
            return ConvolutionINT8Kernel(packed: packed, window: window, batch: x[0], input: input, output: output,
                                         indirection: count > 0 ? pointers(count) : nil, scratch: scratch.pointer, threads: pool.threadCount)
        case .fullyConnected:
            return FullyConnectedINT8Kernel(packed: packedFullyConnectedINT8[index]!, rows: x[0], input: input, output: output, threads: pool.threadCount)
        case .add:
            return AddINT8Kernel(function: kernelSet.kernels.vadd.fn!, params: addParameters[index]!.pointer.assumingMemoryBound(to: ck_qs8_add_params.self),
                                 count: y.elementCount, a: input, b: buffer(node.inputs[1]), output: output)
        case .maxPool(let window):
            let resolved = window.resolve(height: x[2], width: x[3])
            let pad = AlignedBuffer(bytes: x[1] + 64)
            pad.int8.update(repeating: -128, count: pad.bytes)
            storage.append(pad)
            return MaxPoolINT8Kernel(function: kernelSet.kernels.maxpool.fn!, window: resolved, batch: x[0], channels: x[1], input: input,
                                     output: output, indirection: pointers(MaxPoolINT8Kernel.indirectionCount(resolved)), pad: UnsafePointer(pad.int8))
        case .globalAveragePool:
            return try GlobalAveragePoolINT8Kernel(node: node, function: kernelSet.kernels.gavgpool.fn!, batch: x[0], pixels: x[2] * x[3], channels: x[1],
                                                   inputQuantization: q[node.inputs[0]]!, outputQuantization: q[node.output]!,
                                                   input: input, output: output)
        case .flatten, .reshape:
            if isView { return nil }
            return ReorderKernel<Int8>(inputShape: x, outputShape: y, input: input, output: output, scratch: scratch.int8)
        case .channelAffine, .activation, .averagePool, .matMul:
            preconditionFailure("no INT8 kernel for \(node.op.name)")
        }
    }

    private func fp32Kernel(_ index: Int, _ node: Node, shapes: [Shape], input buffer: (ValueID) -> UnsafeMutablePointer<Float>, isView: Bool,
                            scratch: AlignedBuffer, convolutionPlan: ConvolutionFP32Kernel.Plan?) -> Kernel? {
        let x = shapes[node.inputs[0]], y = shapes[node.output]
        let input = buffer(node.inputs[0]), output = buffer(node.output)
        let floatScratch = scratch.pointer.assumingMemoryBound(to: Float.self)
        switch node.op {
        case .convolution(let conv):
            let packed = packedConvolutions[index]!
            let window = conv.window.resolve(height: x[2], width: x[3])
            if conv.isDepthwise {
                return DepthwiseConvolutionFP32Kernel(packed: packed, window: window, batch: x[0], input: input, output: output)
            }
            return ConvolutionFP32Kernel(packed: packed, window: window, batch: x[0], inputChannels: x[1], input: input, output: output,
                                         scratch: floatScratch, plan: convolutionPlan!)
        case .fullyConnected:
            return FullyConnectedFP32Kernel(packed: packedFullyConnected[index]!, rows: x[0], input: input, output: output)
        case .channelAffine(let scale, let shift, let activation):
            return ChannelAffineFP32Kernel(count: x.elementCount, channels: x[1], channelStride: Self.channelStride(x),
                                           scale: scale, shift: shift, input: input, output: output, activation: activation)
        case .activation(let activation):
            return ChannelAffineFP32Kernel(count: x.elementCount, channels: 1, channelStride: 1, scale: nil, shift: nil,
                                           input: input, output: output, activation: activation)
        case .add(let activation):
            return AddFP32Kernel(count: y.elementCount, a: input, b: buffer(node.inputs[1]), output: output, activation: activation)
        case .maxPool(let window):
            return PoolingFP32Kernel(mode: .max, window: window.resolve(height: x[2], width: x[3]), batch: x[0], channels: x[1],
                                     input: input, output: output)
        case .averagePool(let window, let includePad):
            return PoolingFP32Kernel(mode: .average(countIncludePad: includePad), window: window.resolve(height: x[2], width: x[3]),
                                     batch: x[0], channels: x[1], input: input, output: output)
        case .globalAveragePool:
            return GlobalAveragePoolFP32Kernel(batch: x[0], pixels: x[2] * x[3], channels: x[1], input: input, output: output)
        case .flatten, .reshape:
            if isView { return nil }
            return ReorderFP32Kernel(inputShape: x, outputShape: y, input: input, output: output, scratch: floatScratch)
        case .matMul:
            return MatMulFP32Kernel(m: x[0], k: x[1], n: y[1], a: input, b: buffer(node.inputs[1]), output: output)
        }
    }

    public func prepare(inputShape: Shape) throws { try prepare(inputShapes: [inputShape]) }

    /// Elements between consecutive channels in a tensor's storage.
    static func channelStride(_ shape: Shape) -> Int {
        StorageOrder.of(shape) == .nhwc ? 1 : shape.dims.dropFirst(2).reduce(1, *)
    }

    // MARK: - Running

    /// The float storage of graph input `index` in the current plan: NHWC for images. Preprocessing writes here
    /// directly; for a quantized model the first step quantizes it with the input's parameters.
    public func inputBuffer(_ index: Int = 0) throws -> UnsafeMutablePointer<Float> {
        guard let arena, let plan = memoryPlan else { throw GraphError("the session has not been prepared for an input shape") }
        guard let buffer = floatBuffer[graph.inputs[index]] else {
            throw GraphError("input '\(graph.values[graph.inputs[index]].name)' is taken as int8 by this session: write it through int8InputBuffer()")
        }
        return arena.floats(at: plan.offsets[buffer])
    }

    /// The int8 storage (NHWC) of graph input `index` and its quantization, when the session takes that input
    /// quantized (`SessionOptions.int8Input`, and only INT8 nodes read it); nil when it takes float.
    public func int8InputBuffer(_ index: Int = 0) throws -> (pointer: UnsafeMutablePointer<Int8>, quantization: QuantizationParameters)? {
        guard let arena, let plan = memoryPlan else { throw GraphError("the session has not been prepared for an input shape") }
        let id = graph.inputs[index]
        guard strategy.native[id] == .int8, let buffer = int8Buffer[id], let q = strategy.quantization[id] else { return nil }
        return (arena.int8(at: plan.offsets[buffer]), q)
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

    /// Runs the planned steps over the current input buffers.
    public func execute() throws {
        guard arena != nil else { throw GraphError("the session has not been prepared for an input shape") }
        openblas_set_num_threads(1)
        pool.pinCaller()
        for step in steps { step.kernel.run(pool: pool) }
    }

    /// Runs like `execute`, timing each step (nodes and the conversions between INT8 and FP32).
    public func executeProfiledSteps() throws -> [StepTiming] {
        guard arena != nil else { throw GraphError("the session has not been prepared for an input shape") }
        openblas_set_num_threads(1)
        pool.pinCaller()
        var timings: [StepTiming] = []
        timings.reserveCapacity(steps.count)
        for step in steps {
            let start = DispatchTime.now().uptimeNanoseconds
            step.kernel.run(pool: pool)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            timings.append(StepTiming(label: step.label, op: step.op, node: step.node, seconds: seconds))
        }
        return timings
    }

    /// Runs like `execute`, timing each node: seconds per graph node index (0 for nodes that are views);
    /// conversions count towards the node whose output they convert.
    public func executeProfiled() throws -> [Double] {
        var seconds = [Double](repeating: 0, count: graph.nodes.count)
        for t in try executeProfiledSteps() { if let node = t.node { seconds[node] += t.seconds } }
        return seconds
    }

    /// Output `index` of the last run, in logical order (dequantized when the INT8 path computed it).
    public func output(_ index: Int = 0) throws -> OutputTensor {
        guard let arena, let plan = memoryPlan, let shapes else { throw GraphError("the session has not run") }
        let id = graph.outputs[index]
        let shape = shapes[id]
        let storage = arena.floats(at: plan.offsets[floatBuffer[id]!])
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

    /// Output `index` of the last run as int8, when an INT8 node computed it; nil otherwise.
    public func quantizedOutput(_ index: Int = 0) throws -> QuantizedOutputTensor? {
        guard let arena, let plan = memoryPlan, let shapes else { throw GraphError("the session has not run") }
        let id = graph.outputs[index]
        guard strategy.native[id] == .int8, let buffer = int8Buffer[id], let q = strategy.quantization[id] else { return nil }
        let shape = shapes[id]
        let storage = arena.int8(at: plan.offsets[buffer])
        var values = [Int8](repeating: 0, count: shape.elementCount)
        values.withUnsafeMutableBufferPointer { dst in
            if StorageOrder.isLogicalOrder(shape) {
                dst.baseAddress!.update(from: storage, count: shape.elementCount)
            } else {
                ReorderKernel<Int8>.nhwcToNCHW(storage, dst.baseAddress!, shape)
            }
        }
        return QuantizedOutputTensor(name: graph.values[id].name, shape: shape, values: values, quantization: q)
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

extension NodeExecution {
    func withKernel(_ kernel: String) -> NodeExecution {
        NodeExecution(name: name, op: op, precision: precision, kernel: kernel, reason: reason)
    }
}
