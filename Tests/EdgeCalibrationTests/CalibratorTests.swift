import EdgeBoards
@testable import EdgeCalibration
import EdgeGraph
import EdgeRuntime
import Foundation
import Testing
import TestSupport

/// The calibrator's parts on small graphs and the reference model: the scheme each board gets, cross-layer
/// equalization, bias correction, the budget, the report, and the runtime reading pre-packed weights.
@Suite struct CalibratorTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            return z ^ (z >> 31)
        }
    }

    static func gaussian(_ count: Int, mean: Float = 0, std: Float = 1, seed: UInt64) -> [Float] {
        var g = Generator(state: seed)
        return (0..<count).map { _ in
            let u1 = max(Float.random(in: 0..<1, using: &g), 1e-7), u2 = Float.random(in: 0..<1, using: &g)
            return mean + std * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        }
    }

    /// input [1, 16, 12, 12] -> conv 3x3 16->32 + ReLU -> conv 3x3 32->8 -> global average pool -> flatten -> fc 8->5.
    static func twoConvolutions(seed: UInt64, scaleSpread: Bool = false) -> Graph {
        var g = Graph()
        let x = g.addValue("input", declaredShape: [.symbolic("N"), .fixed(16), .fixed(12), .fixed(12)])
        g.inputs = [x]
        var w1 = gaussian(32 * 16 * 9, std: 0.1, seed: seed)
        if scaleSpread {  // output channels of very different ranges: what equalization is for
            for o in 0..<32 { for i in 0..<(16 * 9) { w1[o * 144 + i] *= Float(1 << (o % 6)) / 8 } }
        }
        let a = g.addValue("a")
        g.addNode("conv1", .convolution(Convolution(window: Window2D(kernel: (3, 3), padding: .explicit(top: 1, left: 1, bottom: 1, right: 1)),
                                                    groups: 1, outputChannels: 32, inputChannelsPerGroup: 16, weights: w1,
                                                    bias: gaussian(32, std: 0.1, seed: seed + 1), activation: .relu)), inputs: [x], output: a)
        let b = g.addValue("b")
        g.addNode("conv2", .convolution(Convolution(window: Window2D(kernel: (3, 3), padding: .explicit(top: 1, left: 1, bottom: 1, right: 1)),
                                                    groups: 1, outputChannels: 8, inputChannelsPerGroup: 32,
                                                    weights: gaussian(8 * 32 * 9, std: 0.05, seed: seed + 2), bias: gaussian(8, std: 0.1, seed: seed + 3))),
                  inputs: [a], output: b)
        let p = g.addValue("pooled"), f = g.addValue("features"), y = g.addValue("logits")
        g.addNode("pool", .globalAveragePool, inputs: [b], output: p)
        g.addNode("flatten", .flatten(axis: 1), inputs: [p], output: f)
        g.addNode("fc", .fullyConnected(FullyConnected(inputs: 8, outputs: 5, weights: gaussian(40, std: 0.5, seed: seed + 4),
                                                       bias: gaussian(5, seed: seed + 5))), inputs: [f], output: y)
        g.outputs = [y]
        return g
    }

    static func data(_ count: Int, mean: Float = 0.5, seed: UInt64) -> CalibrationData {
        CalibrationData(samples: (0..<count).map { gaussian(16 * 12 * 12, mean: mean, seed: seed + UInt64($0) * 7919) },
                        imageShape: Shape([1, 16, 12, 12]))
    }

    @Test("each board's scheme: its kernels, their weight layout, per-channel weights in [-127, 127], no reduced range")
    func schemePerBoard() throws {
        let catalog = BoardCatalog.builtin()
        let expected = ["rpi4": ("neon", 8, 8), "jetson-nano": ("neon", 8, 8), "qemu-a72": ("neon", 8, 8),
                        "rpi5": ("neondot", 16, 4), "jetson-orin-nano": ("neondot", 16, 4), "qemu-a76": ("neondot", 16, 4)]
        for (board, (kernels, nr, kr)) in expected {
            let scheme = try QuantizationScheme(board: catalog.profile(named: board))
            #expect(scheme.kernels == kernels, "\(board)")
            #expect(scheme.layout.gemmNR == nr && scheme.layout.gemmKR == kr && scheme.layout.gemmInputOffset == 0, "\(board): \(scheme.layout)")
            #expect(scheme.perChannelWeights && scheme.weightMinimum == -127 && scheme.weightMaximum == 127 && !scheme.reduceRange)
        }
        // The layout table agrees with the kernels this CPU can select.
        for variant in KernelVariant.available {
            let session = try InferenceSession(graph: Self.twoConvolutions(seed: 1), options: SessionOptions(threads: 1, kernels: variant))
            _ = session
            let layout = WeightLayout(variant)
            #expect(layout.gemmNR > 0 && layout.depthwiseCR > 0)
        }
    }

    @Test("cross-layer equalization keeps the FP32 function and evens out the paired channel ranges")
    func equalization() throws {
        let graph = Self.twoConvolutions(seed: 11, scaleSpread: true)
        var equalized = graph
        let pairs = CrossLayerEqualization.apply(&equalized)
        #expect(pairs == ["conv1 -> conv2"])
        let input = Self.data(1, seed: 5).samples[0]
        let before = try InferenceSession(graph: graph).run(input: input, shape: Shape([1, 16, 12, 12])).values
        let after = try InferenceSession(graph: equalized).run(input: input, shape: Shape([1, 16, 12, 12])).values
        let scale = before.map { abs($0) }.max()!
        #expect(zip(before, after).map { abs($0 - $1) }.max()! <= 1e-4 * scale)
        guard case .convolution(let c1) = equalized.nodes[0].op, case .convolution(let c2) = equalized.nodes[1].op else { return }
        for i in 0..<32 {
            let r1 = c1.weights[(i * 144)..<((i + 1) * 144)].map { abs($0) }.max()!
            var r2: Float = 0
            for o in 0..<8 { for t in 0..<9 { r2 = max(r2, abs(c2.weights[(o * 32 + i) * 9 + t])) } }
            #expect(abs(r1 - r2) <= 1e-5 * max(r1, r2), "channel \(i): \(r1) vs \(r2)")
        }
    }

    @Test("bias correction removes the mean output error that weight rounding adds")
    func biasCorrection() throws {
        let graph = Self.twoConvolutions(seed: 21)
        let data = Self.data(32, mean: 1.5, seed: 9)
        let scheme = QuantizationScheme(boardName: "test", variant: .scalar)
        func meanError(_ correct: Bool) throws -> Double {
            var options = CalibrationOptions()
            options.biasCorrection = correct
            options.observer = .minmax
            options.sensitivity = false
            options.perChannelWeights = false  // per-tensor weights round coarsely: a clear mean error to correct
            let q = try Calibrator.calibrate(graph: graph, data: data, scheme: scheme, options: options).graph
            // Compare conv2's output (exposed), FP32 vs INT8, averaged per channel over all images and pixels.
            var exposeF = graph, exposeQ = q
            exposeF.outputs = [graph.nodes[1].output]
            exposeQ.outputs = [graph.nodes[1].output]
            let f = try InferenceSession(graph: exposeF), i = try InferenceSession(graph: exposeQ)
            var sums = [Double](repeating: 0, count: 8)
            for x in data.samples {
                let a = try f.run(input: x, shape: data.imageShape).values, b = try i.run(input: x, shape: data.imageShape).values
                for c in 0..<8 { for p in 0..<144 { sums[c] += Double(b[c * 144 + p] - a[c * 144 + p]) } }
            }
            return sums.map { abs($0) / Double(144 * data.samples.count) }.reduce(0, +) / 8
        }
        let without = try meanError(false), with = try meanError(true)
        print("bias-correction mean |E[int8 - fp32]| per channel: without \(without), with \(with)")
        #expect(with < 0.5 * without)
    }

    @Test("the budget keeps the most sensitive layers in FP32 until the measured drop fits; the report says so")
    func budgetKeepsSensitiveLayers() throws {
        let (model, data, _, _) = try FashionMNISTCalibrationTests.shared.get()
        var options = CalibrationOptions()
        // Entropy loses a few points on this model (see FashionMNISTCalibrationTests): a drop the budget must win back,
        // even on the subset's few evaluation images.
        options.observer = .entropy
        options.threads = 2
        options.evaluationSamples = TestSubset.isActive ? 40 : 150
        let scheme = try QuantizationScheme(board: BoardCatalog.builtin().profile(named: "rpi4"))
        let plain = try Calibrator.calibrate(graph: model.graph, data: data, scheme: scheme, options: options)
        let drop = 100 * (1 - plain.report.agreementTop1)
        try #require(drop > 0, "the all-INT8 model already agrees on every evaluation image; nothing to budget")
        options.budget = drop / 2
        let budgeted = try Calibrator.calibrate(graph: model.graph, data: data, scheme: scheme, options: options)
        let report = budgeted.report
        print("budget \(options.budget!) points: kept \(report.keptInHigherPrecision), agreement \(plain.report.agreementTop1) -> \(report.agreementTop1)")
        print(report.table)
        #expect(!report.keptInHigherPrecision.isEmpty)
        #expect(100 * (1 - report.agreementTop1) <= options.budget! + 1e-9 || report.keptInHigherPrecision.count == report.layers.filter { $0.aloneTop1 != nil }.count)
        let session = try InferenceSession(graph: budgeted.graph)
        #expect(Set(session.fp32Nodes) == Set(report.keptInHigherPrecision))
        // The first layer kept is one of the most sensitive alone.
        let weighted = report.layers.filter { $0.aloneTop1 != nil }
        let worst = weighted.map { $0.aloneTop1! }.min()!
        let first = try #require(weighted.first { $0.node == report.keptInHigherPrecision[0] })
        #expect(first.aloneTop1 == worst)
        #expect(report.layers.filter { $0.precision == "fp32" }.map(\.node).sorted() == report.keptInHigherPrecision.sorted())
        // Every quantized layer has its row: scale, zero point, clipping, SQNR.
        #expect(report.layers.count >= 21)
        #expect(report.layers.allSatisfy { $0.outputScale > 0 && (-128...127).contains($0.outputZeroPoint) && $0.clippedFraction >= 0 })
        let json = try JSONSerialization.jsonObject(with: report.json()) as? [String: Any]
        #expect((json?["layers"] as? [Any])?.count == report.layers.count)
        #expect(report.table.contains("SQNR dB") && report.table.contains("kept in fp32"))
    }

    @Test("a session reads pre-packed weights in place and gives the bytes it computes packing them itself")
    func prepackedWeights() throws {
        let graph = try Calibrator.calibrate(graph: Self.twoConvolutions(seed: 31), data: Self.data(8, seed: 3),
                                             scheme: QuantizationScheme(boardName: "host", variant: .auto),
                                             options: { var o = CalibrationOptions(); o.sensitivity = false; return o }()).graph
        let input = Self.data(1, seed: 77).samples[0]
        let own = try InferenceSession(graph: graph, options: SessionOptions(threads: 2))
        let expected = try own.run(input: input, shape: Shape([1, 16, 12, 12])).values
        for variant in KernelVariant.available {
            let packed = try InferenceSession.packWeights(graph: graph, layout: WeightLayout(variant))
            #expect(packed.map(\.node) == ["conv1", "conv2", "fc"])
            let storage = packed.map { blob -> UnsafeMutableRawBufferPointer in
                let p = UnsafeMutableRawBufferPointer.allocate(byteCount: blob.bytes.count, alignment: 64)
                p.copyBytes(from: blob.bytes)
                return p
            }
            defer { storage.forEach { $0.deallocate() } }
            var blobs: [String: PrepackedWeights.Blob] = [:]
            for (blob, p) in zip(packed, storage) { blobs[blob.node] = PrepackedWeights.Blob(geometry: blob.geometry, bytes: UnsafeRawBufferPointer(p)) }
            let session = try InferenceSession(graph: graph, options: SessionOptions(threads: 2, kernels: variant),
                                               prepacked: PrepackedWeights(blobs: blobs, owner: nil))
            #expect(session.prepackedNodes == ["conv1", "conv2", "fc"], "\(variant)")
            #expect(try session.run(input: input, shape: Shape([1, 16, 12, 12])).values == expected, "\(variant)")
            // Another layout's blobs are not used in place (the session packs for itself) and change nothing.
            let other = try InferenceSession.packWeights(graph: graph, layout: WeightLayout(gemmNR: 4, gemmKR: 1, gemmInputOffset: 0, depthwiseCR: 1))
            if variant != .scalar {
                var wrong: [String: PrepackedWeights.Blob] = [:]
                let keep = other.map { Data($0.bytes) }
                for (blob, data) in zip(other, keep) {
                    data.withUnsafeBytes { wrong[blob.node] = PrepackedWeights.Blob(geometry: blob.geometry, bytes: $0) }
                }
                let s2 = try InferenceSession(graph: graph, options: SessionOptions(threads: 2, kernels: variant),
                                              prepacked: PrepackedWeights(blobs: wrong, owner: nil))
                #expect(s2.prepackedNodes.isEmpty)
            }
        }
    }
}
