import ArgumentParser
import EdgeGraph
import EdgeModelFile
import EdgeONNX
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a model's layers: operator, output shape, parameters and multiply-accumulates.")

    @Argument(help: "An ONNX model or a model file (.rem).")
    var model: String

    @Option(name: .long, help: ArgumentHelp("Input shape N,C,H,W (default: the declared shape, batch 1, 224x224 where symbolic).", valueName: "shape"))
    var input: String?

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        if ModelFile.looksLikeModelFile(URL(fileURLWithPath: model)) {
            // A model file: its sections (verified), board, provenance and quantization summary.
            print(try ModelFile.describe(URL(fileURLWithPath: model)))
            return
        }
        let imported = try ONNXImporter.load(contentsOf: URL(fileURLWithPath: model))
        let graph = imported.graph
        let shape = try inputShape(graph)
        let shapes = try graph.inferShapes(inputShapes: [shape])
        var rows: [(index: Int, node: Node, shape: Shape, params: Int, macs: Int)] = []
        for (i, node) in graph.nodes.enumerated() {
            let macs = node.op.multiplyAccumulates(inputs: node.inputs.map { shapes[$0] }, output: shapes[node.output])
            rows.append((i, node, shapes[node.output], node.op.parameterCount, macs))
        }
        let totalParams = rows.reduce(0) { $0 + $1.params }, totalMACs = rows.reduce(0) { $0 + $1.macs }
        if json {
            let layers: [[String: Any]] = rows.map { r in
                ["name": r.node.name, "op": r.node.op.name, "activation": r.node.op.fusedActivation?.description ?? "",
                 "output_shape": r.shape.dims, "parameters": r.params, "macs": r.macs]
            }
            print(jsonLine(["model": model, "input_shape": shape.dims, "opset": imported.opsetVersion, "layers": layers,
                            "total_parameters": totalParams, "total_macs": totalMACs]))
            return
        }
        print("\(model): opset \(imported.opsetVersion), \(imported.producer.isEmpty ? "unknown producer" : imported.producer), input \(shape)")
        let nameWidth = min(48, max(4, rows.map { $0.node.name.count }.max() ?? 4))
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? String(s.prefix(n)) : s + String(repeating: " ", count: n - s.count) }
        func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
        print(lpad("#", 4) + "  " + pad("node", nameWidth) + "  " + pad("op", 24) + "  " + pad("output", 20) + "  " + lpad("params", 10) + "  " + lpad("MACs", 14))
        for r in rows {
            var op = r.node.op.name
            if let a = r.node.op.fusedActivation, a != .none { op += "+" + a.description }
            print(lpad(String(r.index), 4) + "  " + pad(r.node.name, nameWidth) + "  " + pad(op, 24) + "  " + pad(r.shape.description, 20)
                  + "  " + lpad(grouped(r.params), 10) + "  " + lpad(grouped(r.macs), 14))
        }
        print(String(printf: "total: %d layers, %@ parameters (%.2f M), %@ MACs (%.3f GMAC)", rows.count, grouped(totalParams),
                     Double(totalParams) / 1e6, grouped(totalMACs), Double(totalMACs) / 1e9))
    }

    private func inputShape(_ graph: Graph) throws -> Shape {
        if let input {
            let dims = input.split(whereSeparator: { $0 == "," || $0 == "x" }).map { Int($0) }
            guard dims.count == 4, dims.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ValidationError("--input must be four positive sizes N,C,H,W, got '\(input)'")
            }
            return Shape(dims.map { $0! })
        }
        guard let declared = graph.values[graph.inputs[0]].declaredShape else { return Shape([1, 3, 224, 224]) }
        let defaults = [1, 3, 224, 224]
        return Shape(declared.enumerated().map { axis, d in
            if case .fixed(let n) = d { return n }
            return axis < defaults.count ? defaults[axis] : 1
        })
    }
}

/// 1814073344 -> "1,814,073,344".
func grouped(_ n: Int) -> String {
    let digits = String(n)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return out
}
