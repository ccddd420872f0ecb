import EdgeGraph
import EdgeONNX
import EdgeRuntime
import Foundation
import Testing
import TestSupport

/// The INT8 path node by node, across kernel variants and thread counts, in mixed precision, and its errors.
@Suite struct QuantizedKernelTests {
    static let manifest = Result { try FixtureManifest.load() }

    static func fixtureInput(_ model: String) throws -> (graph: Graph, input: [Float], shape: Shape) {
        let manifest = try manifest.get()
        let c = try #require(manifest.quantized_cases?.first { $0.model == model }, "no quantized case for \(model)")
        let pre = try #require(manifest.preprocessed[c.preset]?[c.images[0]])
        let graph = try ONNXImporter.load(contentsOf: manifest.url(manifest.model(named: model).file)).graph
        return (graph, try readFloat32File(manifest.url(pre.float)), Shape(pre.float_shape))
    }

    // MARK: - One step per node

    @Test("every INT8 node of the QDQ models is within one step of its float definition on the same inputs",
          arguments: ["resnet18-qdq-u8", "reference-qdq-u8"])
    func qdqNodesWithinOneStep(_ model: String) throws {
        let (graph, input, shape) = try Self.fixtureInput(model)
        try QuantizationSupport.checkEachNodeWithinOneStep(graph, input: input, shape: shape, label: model)
    }

    /// Operator fixtures (groups, depthwise, dilation, SAME and asymmetric padding, strides, 1x1 stride 2, the
    /// 7x7 stem shape, ceil-mode and dilated max pooling, fused ReLU/Clip, Flatten/Reshape/Gemm, residual Add)
    /// quantized synthetically; operators without an INT8 kernel stay FP32 beside them (mixed precision).
    static var operatorCases: [String] { (try? OperatorTests.manifest.get().cases.map(\.name)) ?? ["fixtures missing"] }

    static func quantizedOperatorCase(_ name: String) throws -> (graph: Graph, input: [Float], shape: Shape) {
        let c = try #require(try OperatorTests.manifest.get().cases.first { $0.name == name })
        let float = try ONNXImporter.load(contentsOf: OperatorTests.directory.appendingPathComponent(c.model)).graph
        let input = try readFloat32File(OperatorTests.directory.appendingPathComponent(c.input))
        let shape = Shape(c.input_shape)
        return (try QuantizationSupport.quantized(float, calibration: input, shape: shape), input, shape)
    }

    @Test("synthetically quantized operator cases: every INT8 node within one step, same bytes for every variant and 1-3 threads",
          arguments: operatorCases)
    func operatorCase(_ name: String) throws {
        let (graph, input, shape) = try Self.quantizedOperatorCase(name)
        let probe = try InferenceSession(graph: graph, options: SessionOptions(threads: 1))
        guard probe.runsINT8 else {
            // Only operators without an INT8 kernel (AveragePool, standalone BatchNorm/activations, MatMul of two activations).
            #expect(probe.nodeExecutions.allSatisfy { $0.precision == .fp32 })
            return
        }
        try QuantizationSupport.checkEachNodeWithinOneStep(graph, input: input, shape: shape, label: name)
        let reference = try QuantizationSupport.int8Values(graph, input: input, shape: shape, options: SessionOptions(threads: 1, kernels: .scalar))
        for variant in KernelVariant.available {
            for threads in [1, 2, 3] {
                let bytes = try QuantizationSupport.int8Values(graph, input: input, shape: shape, options: SessionOptions(threads: threads, kernels: variant))
                #expect(bytes == reference, "\(name): \(variant) with \(threads) threads differs from scalar with 1 thread")
            }
        }
        // Pinned threads (the daemon's setting) change where the work runs, not what it computes.
        let affinity = CPUAffinity.allowedCPUs()
        let pinned = try QuantizationSupport.int8Values(graph, input: input, shape: shape, options: SessionOptions(threads: 2, pinThreads: true))
        CPUAffinity.bindCurrentThread(to: affinity)
        #expect(pinned == reference, "\(name): pinned threads differ from scalar with 1 thread")
        // The whole graph stays close to its float simulation (a handful of layers: rounding can add up a little).
        let int8 = try InferenceSession(graph: graph, options: SessionOptions(threads: 2)).run(input: input, shape: shape).values
        let float = try InferenceSession(graph: graph, options: SessionOptions(threads: 2, precision: .fp32)).run(input: input, shape: shape).values
        let step = try #require(probe.valueQuantization[graph.outputs[0]]).scale
        let worst = zip(int8, float).map { abs($0 - $1) / step }.max() ?? 0
        #expect(worst <= 3.001, "\(name): INT8 is \(worst) steps from the fake-quantized FP32 run")
    }

    // MARK: - Bit-exactness across variants and threads

    @Test("the same int8 bytes with every kernel variant on this CPU and with 1 or 2 threads, batch 1 and 2",
          arguments: ["resnet18-qdq-u8", "reference-qdq-u8"])
    func bitExactAcrossVariantsAndThreads(_ model: String) throws {
        let (graph, one, shape1) = try Self.fixtureInput(model)
        // Batch 2: the photo and its mirror image, so the second image differs.
        let (n, c, h, w) = (shape1[0], shape1[1], shape1[2], shape1[3])
        var mirrored = one
        for ch in 0..<(n * c) { for y in 0..<h { for x in 0..<w { mirrored[(ch * h + y) * w + x] = one[(ch * h + y) * w + (w - 1 - x)] } } }
        let variants = KernelVariant.available
        #expect(variants.first == .scalar)
        for (input, shape) in [(one, shape1), (one + mirrored, Shape([2, c, h, w]))] {
            var reference: (label: String, bytes: [Int8])?
            for variant in variants {
                for threads in [1, 2] {
                    let session = try InferenceSession(graph: graph, options: SessionOptions(threads: threads, kernels: variant))
                    #expect(session.kernelVariant == variant)
                    _ = try session.run(input: input, shape: shape)
                    let logits = try #require(try session.quantizedOutput(), "\(model): the logits are not computed in INT8")
                    let label = "\(variant) \(threads) thread(s) batch \(shape[0])"
                    if let reference {
                        #expect(logits.values == reference.bytes, "\(model): \(label) differs from \(reference.label)")
                    } else {
                        reference = (label, logits.values)
                    }
                }
            }
            print("int8-bit-exact \(model) batch \(shape[0]): \(variants.map(\.rawValue).joined(separator: ", ")) x 1, 2 threads")
        }
    }

    // MARK: - Kernel choice

    @Test func kernelChoiceAndReport() throws {
        let (graph, _, _) = try Self.fixtureInput("reference-qdq-u8")
        let best = try InferenceSession(graph: graph, options: SessionOptions(threads: 1))
        #expect(best.kernelVariant == KernelVariant.best)
        #expect(best.kernelNames.contains { $0.hasPrefix("qs8-qc8w-igemm-") })
        #expect(best.kernelNames.contains { $0.hasPrefix("qs8-vadd-") })
        #expect(best.fp32Nodes.isEmpty)
        for variant in KernelVariant.allCases where variant != .auto && !KernelVariant.available.contains(variant) {
            #expect {
                _ = try InferenceSession(graph: graph, options: SessionOptions(threads: 1, kernels: variant))
            } throws: { error in
                let text = "\(error)"
                return text.contains("'\(variant)'") && text.contains("available here: scalar")
            }
        }
    }

    // MARK: - Mixed precision

    /// Drops one convolution's int8 weights: it runs FP32 between a dequantize and a quantize step, and the
    /// model still matches onnxruntime (within the bounds of QuantizedOracleTests).
    @Test("one convolution forced to FP32: the session reports it and still matches onnxruntime",
          arguments: ["reference-qdq-u8", "resnet18-qdq-u8"])
    func oneConvolutionInFP32(_ model: String) throws {
        let manifest = try Self.manifest.get()
        var (graph, _, _) = try Self.fixtureInput(model)
        let index = try #require(graph.nodes.indices.filter {
            if case .convolution = graph.nodes[$0].op { return true } else { return false }
        }.dropFirst(2).first)
        guard case .convolution(var conv) = graph.nodes[index].op else { return }
        conv.quantized = nil
        graph.nodes[index].op = .convolution(conv)
        let session = try InferenceSession(graph: graph, options: SessionOptions(threads: 2))
        #expect(session.fp32Nodes == [graph.nodes[index].name])
        #expect(session.nodeExecutions[index].precision == .fp32)
        #expect(session.nodeExecutions[index].reason == "its weights are not quantized")
        let step = try #require(session.valueQuantization[graph.outputs[0]]).scale
        let allowed = QuantizedOracleTests.allowedSteps[model]!
        for c in QuantizedOracleTests.cases(manifest, model: model) {
            let (input, shape) = try QuantizedOracleTests.input(manifest, c)
            let output = try session.run(input: input, shape: shape)
            _ = try QuantizedOracleTests.compare(output.values, try readFloat32File(manifest.url(c.output)), step: step, rows: 1,
                                                 images: c.images, label: "mixed " + model, allowed: allowed)
        }
    }

    /// A value without parameters in the middle of the network: its producer and consumer both run FP32
    /// (the float value is not quantized), everything else INT8, with conversions where they meet. This is no
    /// longer the model onnxruntime ran (its quantizer dropped the ReLU after that convolution, which the
    /// Q/DQ pair's clamp at zero implemented): the reference is the float simulation of the modified graph.
    @Test func valueWithoutQuantization() throws {
        let manifest = try Self.manifest.get()
        let model = "reference-qdq-u8"
        var (graph, _, _) = try Self.fixtureInput(model)
        let convs = graph.nodes.indices.filter { if case .convolution = graph.nodes[$0].op { return true } else { return false } }
        let producer = convs[1]
        let value = graph.nodes[producer].output
        graph.values[value].quantization = nil
        let consumers = graph.nodes.indices.filter { graph.nodes[$0].inputs.contains(value) }
        let session = try InferenceSession(graph: graph, options: SessionOptions(threads: 2))
        #expect(Set(session.fp32Nodes) == Set(([producer] + consumers).map { graph.nodes[$0].name }))
        #expect(session.nodeExecutions[producer].reason?.contains("has no quantization parameters") == true)
        let simulation = try InferenceSession(graph: graph, options: SessionOptions(threads: 2, precision: .fp32))
        let step = try #require(session.valueQuantization[graph.outputs[0]]).scale
        for c in QuantizedOracleTests.cases(manifest, model: model) {
            let (input, shape) = try QuantizedOracleTests.input(manifest, c)
            let output = try session.run(input: input, shape: shape).values
            let reference = try simulation.run(input: input, shape: shape).values
            let worst = zip(output, reference).map { abs($0 - $1) / step }.max()!
            print("int8-mixed-vs-simulation \(model) \(c.images[0]) \(worst) steps")
            #expect(worst <= 1.001, "\(c.images[0]): \(worst) steps from the float simulation")
            #expect(argmax(output[...]) == argmax(reference[...]))
        }
    }

    // MARK: - Errors

    @Test func weightOfMinus128IsAnErrorNamingTheNode() throws {
        var (graph, _, _) = try Self.fixtureInput("reference-qdq-u8")
        let index = try #require(graph.nodes.indices.first { if case .convolution = graph.nodes[$0].op { return true } else { return false } })
        guard case .convolution(var conv) = graph.nodes[index].op else { return }
        conv.quantized!.values[5] = -128
        graph.nodes[index].op = .convolution(conv)
        let name = graph.nodes[index].name
        #expect {
            _ = try InferenceSession(graph: graph, options: SessionOptions(threads: 1))
        } throws: { error in
            let text = "\(error)"
            return text.contains("node '\(name)' (Conv)") && text.contains("-128") && text.contains("[-127, 127]")
        }
        // FP32 with fake quantization does not use the int8 weights: it still runs.
        _ = try InferenceSession(graph: graph, options: SessionOptions(threads: 1, precision: .fp32))
    }

    @Test func unrepresentableScalesAreErrorsNamingTheNode() throws {
        let (base, _, _) = try Self.fixtureInput("reference-qdq-u8")
        // A convolution whose output scale is so small that input x weight / output scale >= 256.
        var graph = base
        let conv = try #require(graph.nodes.first { if case .convolution = $0.op { return true } else { return false } })
        graph.values[conv.output].quantization!.scale = 1e-12
        #expect {
            _ = try InferenceSession(graph: graph, options: SessionOptions(threads: 1))
        } throws: { error in
            let text = "\(error)"
            return text.contains("node '\(conv.name)' (Conv)") && text.contains("requantization scale") && text.contains("256")
        }
        // An Add whose inputs' scales are far beyond its output's.
        graph = base
        let add = try #require(graph.nodes.first { if case .add = $0.op { return true } else { return false } })
        graph.values[add.output].quantization!.scale = 1e-9
        #expect {
            _ = try InferenceSession(graph: graph, options: SessionOptions(threads: 1))
        } throws: { error in
            let text = "\(error)"
            return text.contains("node '\(add.name)' (Add)") && text.contains("qs8-vadd")
        }
    }
}

/// `SessionOptions.int8Input`: preprocessing writes the quantized input itself (the daemon's one-pass path).
@Suite struct Int8InputTests {
    @Test("an int8 input written directly gives the bytes of the float input quantized by the session")
    func int8InputEqualsQuantizedFloatInput() throws {
        let (graph, input, shape) = try QuantizedKernelTests.fixtureInput("reference-qdq-u8")
        let float = try InferenceSession(graph: graph, options: SessionOptions(threads: 2))
        let expected = try float.run(input: input, shape: shape).values
        #expect(try float.prepare(inputShape: shape) == () && float.int8InputBuffer() == nil)
        let session = try InferenceSession(graph: graph, options: SessionOptions(threads: 2, int8Input: true))
        try session.prepare(inputShape: shape)
        let (pointer, q) = try #require(try session.int8InputBuffer())
        #expect(q == session.valueQuantization[graph.inputs[0]]!)
        #expect(throws: GraphError.self) { try session.inputBuffer() }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        for b in 0..<n { for y in 0..<h { for x in 0..<w { for ch in 0..<c {
            pointer[((b * h + y) * w + x) * c + ch] = q.quantize(input[((b * c + ch) * h + y) * w + x])
        } } } }
        try session.execute()
        #expect(try session.output().values == expected)
        // No quantize step: the first step is the first node.
        #expect(try session.executeProfiledSteps().first?.op != "Quantize")
    }
}
