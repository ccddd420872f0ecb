import EdgeGraph
import EdgeRuntime
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Runs a float graph with every node's output exposed, in batches, and hands each value to a closure.
struct ValueRunner {
    let session: InferenceSession
    let graph: Graph
    let exposed: [ValueID]
    let batch: Int
    let imageShape: Shape

    init(graph: Graph, data: CalibrationData, threads: Int) throws {
        var g = graph
        var seen = Set<ValueID>()
        exposed = graph.nodes.map(\.output).filter { seen.insert($0).inserted }
        g.outputs = exposed
        self.graph = graph
        session = try InferenceSession(graph: g, options: SessionOptions(threads: threads, precision: .fp32))
        imageShape = data.imageShape
        batch = ValueRunner.batchSize(imageShape)
    }

    /// Images per run: about 1.5 M input elements (8 at 224x224x3), at most 64.
    static func batchSize(_ imageShape: Shape) -> Int {
        max(1, min(64, 1_500_000 / max(1, imageShape.elementCount)))
    }

    static func batchInput(_ samples: ArraySlice<[Float]>, imageShape: Shape) -> (values: [Float], shape: Shape) {
        var values: [Float] = []
        values.reserveCapacity(samples.count * imageShape.elementCount)
        for s in samples { values += s }
        var dims = imageShape.dims
        dims[0] = samples.count
        return (values, Shape(dims))
    }

    func forEachBatch(_ samples: [[Float]], _ body: (ValueID, UnsafeBufferPointer<Float>, Shape) throws -> Void) throws {
        var start = 0
        while start < samples.count {
            let end = min(samples.count, start + batch)
            let (input, shape) = Self.batchInput(samples[start..<end], imageShape: imageShape)
            _ = try session.run(input: input, shape: shape)
            try input.withUnsafeBufferPointer { try body(graph.inputs[0], $0, shape) }
            for (i, id) in exposed.enumerated() {
                let t = try session.output(i)
                try t.values.withUnsafeBufferPointer { try body(id, $0, t.shape) }
            }
            start = end
        }
    }
}

struct LayerAgreement: Sendable {
    /// Fraction of images whose top-1 class equals FP32's.
    var top1: Double
    /// Mean cosine similarity of the logits with FP32's.
    var cosine: Double
}

struct ValueQuality: Sendable {
    /// 10 log10(sum y^2 / sum (y - ŷ)^2), the INT8 model's value against FP32's on the same images.
    var sqnr: Double
    /// Fraction of FP32 values outside the representable range [dequantize(-128), dequantize(127)].
    var clipped: Double
}

/// Compares quantized variants of a graph with its FP32 original on a set of images.
struct SensitivityAnalysis {
    let float: Graph
    let quantized: Graph
    let plan: QuantizationPlan
    let samples: [[Float]]
    let imageShape: Shape
    let threads: Int
    let batch: Int
    /// FP32 logits per image.
    let reference: [[Float]]

    init(float: Graph, quantized: Graph, plan: QuantizationPlan, samples: [[Float]], imageShape: Shape, threads: Int) throws {
        self.float = float
        self.quantized = quantized
        self.plan = plan
        self.samples = samples
        self.imageShape = imageShape
        self.threads = threads
        batch = ValueRunner.batchSize(imageShape)
        reference = try Self.logits(float, samples: samples, imageShape: imageShape, threads: threads, batch: batch)
    }

    static func logits(_ graph: Graph, samples: [[Float]], imageShape: Shape, threads: Int, batch: Int) throws -> [[Float]] {
        let session = try InferenceSession(graph: graph, options: SessionOptions(threads: threads))
        var rows: [[Float]] = []
        var start = 0
        while start < samples.count {
            let end = min(samples.count, start + batch)
            let (input, shape) = ValueRunner.batchInput(samples[start..<end], imageShape: imageShape)
            let out = try session.run(input: input, shape: shape)
            let classes = out.values.count / (end - start)
            for r in 0..<(end - start) { rows.append(Array(out.values[(r * classes)..<((r + 1) * classes)])) }
            start = end
        }
        return rows
    }

    static func compare(_ a: [[Float]], _ b: [[Float]]) -> LayerAgreement {
        var same = 0
        var cosine: Double = 0
        for (x, y) in zip(a, b) {
            if argmax(x) == argmax(y) { same += 1 }
            var dot: Double = 0, nx: Double = 0, ny: Double = 0
            for (u, v) in zip(x, y) {
                dot += Double(u) * Double(v)
                nx += Double(u) * Double(u)
                ny += Double(v) * Double(v)
            }
            cosine += nx > 0 && ny > 0 ? dot / (nx.squareRoot() * ny.squareRoot()) : (nx == ny ? 1 : 0)
        }
        let n = Double(max(1, a.count))
        return LayerAgreement(top1: Double(same) / n, cosine: cosine / n)
    }

    static func argmax(_ x: [Float]) -> Int {
        var best = 0
        for i in x.indices where x[i] > x[best] { best = i }
        return best
    }

    /// Top-1 agreement and logit cosine of `graph` (run as a session would: INT8 where quantized) with FP32.
    func agreement(of graph: Graph) throws -> LayerAgreement {
        Self.compare(try Self.logits(graph, samples: samples, imageShape: imageShape, threads: threads, batch: batch), reference)
    }

    /// The FP32 graph with only node `index` quantized (its int8 weights and the parameters of its inputs and output).
    func agreementQuantizingOnly(_ index: Int) throws -> LayerAgreement {
        var g = float
        let node = quantized.nodes[index]
        g.nodes[index].op = node.op
        // Parameters live on the origin of a MaxPool/Flatten/Reshape chain (see QuantizationPlan).
        for id in node.inputs + [node.output] {
            let v = plan.origin[id]
            g.values[v].quantization = quantized.values[v].quantization
        }
        return try agreement(of: g)
    }

    /// SQNR and clipping of every quantized value of the full INT8 model against FP32 on the same images.
    func valueQuality() throws -> [ValueID: ValueQuality] {
        func exposing(_ graph: Graph) -> Graph {
            var g = graph
            var seen = Set<ValueID>()
            g.outputs = graph.nodes.map(\.output).filter { seen.insert($0).inserted }
            return g
        }
        let f = try InferenceSession(graph: exposing(float), options: SessionOptions(threads: threads))
        let q = try InferenceSession(graph: exposing(quantized), options: SessionOptions(threads: threads))
        let ids = exposing(float).outputs
        var signal = [Double](repeating: 0, count: ids.count), noise = signal, clipped = signal, count = signal
        var start = 0
        while start < samples.count {
            let end = min(samples.count, start + batch)
            let (input, shape) = ValueRunner.batchInput(samples[start..<end], imageShape: imageShape)
            _ = try f.run(input: input, shape: shape)
            _ = try q.run(input: input, shape: shape)
            for (i, id) in ids.enumerated() {
                let y = try f.output(i).values, yq = try q.output(i).values
                let params = q.valueQuantization[id]
                let lo = params.map { $0.dequantize(-128) } ?? -.infinity, hi = params.map { $0.dequantize(127) } ?? .infinity
                for (a, b) in zip(y, yq) {
                    signal[i] += Double(a) * Double(a)
                    noise[i] += Double(a - b) * Double(a - b)
                    if a < lo || a > hi { clipped[i] += 1 }
                }
                count[i] += Double(y.count)
            }
            start = end
        }
        var result: [ValueID: ValueQuality] = [:]
        for (i, id) in ids.enumerated() {
            let sqnr = noise[i] > 0 ? 10 * log10(signal[i] / noise[i]) : Double.infinity
            result[id] = ValueQuality(sqnr: sqnr, clipped: count[i] > 0 ? clipped[i] / count[i] : 0)
        }
        return result
    }
}
