/// Index of a value (a tensor) in a `Graph`.
public typealias ValueID = Int

/// A tensor flowing through the graph.
public struct Value: Sendable {
    public var name: String
    /// For graph inputs: the declared dimensions, fixed or symbolic. Nil for intermediate values.
    public var declaredShape: [DeclaredDimension]?
    /// How the value is quantized on the INT8 path (from the model's QuantizeLinear/DequantizeLinear
    /// pairs or from calibration); nil where the value stays float.
    public var quantization: QuantizationParameters?

    public init(name: String, declaredShape: [DeclaredDimension]? = nil, quantization: QuantizationParameters? = nil) {
        self.name = name
        self.declaredShape = declaredShape
        self.quantization = quantization
    }
}

/// One operator application.
public struct Node: Sendable {
    /// The name given by the source model (ONNX node name), for messages and per-layer tables.
    public var name: String
    public var op: Operator
    public var inputs: [ValueID]
    public var output: ValueID

    public init(name: String, op: Operator, inputs: [ValueID], output: ValueID) {
        self.name = name
        self.op = op
        self.inputs = inputs
        self.output = output
    }
}

/// A model as a list of nodes in execution (topological) order over single-assignment values.
/// Weights live inside the operators; values are the activations only.
public struct Graph: Sendable {
    public var values: [Value] = []
    public var nodes: [Node] = []
    public var inputs: [ValueID] = []
    public var outputs: [ValueID] = []

    public init() {}

    @discardableResult
    public mutating func addValue(_ name: String, declaredShape: [DeclaredDimension]? = nil) -> ValueID {
        values.append(Value(name: name, declaredShape: declaredShape))
        return values.count - 1
    }

    public mutating func addNode(_ name: String, _ op: Operator, inputs: [ValueID], output: ValueID) {
        nodes.append(Node(name: name, op: op, inputs: inputs, output: output))
    }

    /// Checks the structural invariants every backend relies on: each value has exactly one producer
    /// (a node or a graph input), is produced before it is used, and every output is produced.
    public func validate() throws {
        var produced = [Bool](repeating: false, count: values.count)
        for id in inputs {
            guard values.indices.contains(id) else { throw GraphError("graph input #\(id) does not exist") }
            produced[id] = true
        }
        for node in nodes {
            for id in node.inputs {
                guard values.indices.contains(id), produced[id] else {
                    let name = values.indices.contains(id) ? values[id].name : "#\(id)"
                    throw GraphError("node '\(node.name)' (\(node.op.name)) reads '\(name)' before anything produces it")
                }
            }
            guard values.indices.contains(node.output), !produced[node.output] else {
                throw GraphError("node '\(node.name)' (\(node.op.name)) writes a value that is already produced")
            }
            produced[node.output] = true
        }
        for id in outputs where !(values.indices.contains(id) && produced[id]) {
            throw GraphError("graph output '\(values.indices.contains(id) ? values[id].name : "#\(id)")' is never produced")
        }
    }

    /// For every value, how many nodes read it, plus one per appearance among the graph outputs.
    public func useCounts() -> [Int] {
        var uses = [Int](repeating: 0, count: values.count)
        for node in nodes { for id in node.inputs { uses[id] += 1 } }
        for id in outputs { uses[id] += 1 }
        return uses
    }
}

/// An error in a graph's structure or shapes; the message names the node.
public struct GraphError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
