import EdgeGraph
import EdgeONNX
import Foundation

/// libFuzzer entry point: any byte string given to the ONNX reader must end in a model or an
/// ONNXImportError, never a crash, a hang or unbounded memory. Graphs that import are also shape-checked
/// at a small input size, which exercises the operator attributes the importer accepted.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNXReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    guard let model = try? ONNXImporter.load(data: bytes) else { return 0 }
    let inputs = model.graph.inputs.map { id -> Shape in
        let declared = model.graph.values[id].declaredShape ?? []
        return Shape(declared.map { d -> Int in
            if case .fixed(let n) = d { return min(n, 64) }
            return 1
        })
    }
    _ = try? model.graph.inferShapes(inputShapes: inputs)
    return 0
}
