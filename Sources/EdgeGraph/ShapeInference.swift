extension Graph {
    /// Binds the graph inputs to concrete shapes and infers every value's shape.
    /// Symbolic input dimensions (the batch, or H and W of a fully convolutional model) take any size;
    /// fixed ones must match. Returns one shape per value, indexed by `ValueID`.
    public func inferShapes(inputShapes: [Shape]) throws -> [Shape] {
        guard inputShapes.count == inputs.count else {
            throw GraphError("the model has \(inputs.count) input(s), \(inputShapes.count) given")
        }
        var shapes = [Shape?](repeating: nil, count: values.count)
        for (id, shape) in zip(inputs, inputShapes) {
            let value = values[id]
            if let declared = value.declaredShape {
                let expected = "[" + declared.map(\.description).joined(separator: ", ") + "]"
                guard declared.count == shape.rank else {
                    throw GraphError("input '\(value.name)' expects rank \(declared.count) \(expected), got \(shape)")
                }
                for (axis, (d, n)) in zip(declared, shape.dims).enumerated() {
                    if case .fixed(let size) = d, size != n {
                        throw GraphError("input '\(value.name)' expects \(expected), got \(shape) (dimension \(axis))")
                    }
                }
            }
            guard shape.dims.allSatisfy({ $0 > 0 }) else {
                throw GraphError("input '\(value.name)' shape \(shape) has an empty dimension")
            }
            shapes[id] = shape
        }
        for node in nodes {
            let ins = try node.inputs.map { id -> Shape in
                guard let s = shapes[id] else { throw GraphError("node '\(node.name)' reads '\(values[id].name)' before it is produced") }
                return s
            }
            shapes[node.output] = try Self.outputShape(of: node, inputs: ins)
        }
        return try shapes.enumerated().map { index, shape in
            guard let shape else { throw GraphError("value '\(values[index].name)' is never produced") }
            return shape
        }
    }

    static func outputShape(of node: Node, inputs: [Shape]) throws -> Shape {
        func fail(_ why: String) -> GraphError { GraphError("node '\(node.name)' (\(node.op.name)): \(why)") }
        func requireRank(_ rank: Int, _ shape: Shape) throws {
            guard shape.rank == rank else { throw fail("expects a rank-\(rank) input, got \(shape)") }
        }
        let x = inputs[0]
        switch node.op {
        case .convolution(let conv):
            try requireRank(4, x)
            guard x[1] == conv.inputChannels else {
                throw fail("weights expect \(conv.inputChannels) input channels, the input \(x) has \(x[1])")
            }
            let r = conv.window.resolve(height: x[2], width: x[3])
            guard r.outputHeight > 0, r.outputWidth > 0 else { throw fail("input \(x) is smaller than the kernel") }
            return Shape([x[0], conv.outputChannels, r.outputHeight, r.outputWidth])
        case .maxPool(let window), .averagePool(let window, _):
            try requireRank(4, x)
            let r = window.resolve(height: x[2], width: x[3])
            guard r.outputHeight > 0, r.outputWidth > 0 else { throw fail("input \(x) is smaller than the window") }
            return Shape([x[0], x[1], r.outputHeight, r.outputWidth])
        case .globalAveragePool:
            try requireRank(4, x)
            return Shape([x[0], x[1], 1, 1])
        case .channelAffine(let scale, _, _):
            guard x.rank >= 2, x[1] == scale.count else { throw fail("expects \(scale.count) channels, got \(x)") }
            return x
        case .activation:
            return x
        case .add:
            guard inputs.count == 2, inputs[0] == inputs[1] else {
                throw fail("operands must have the same shape (no broadcasting), got \(inputs.map(\.description).joined(separator: " and "))")
            }
            return x
        case .flatten(var axis):
            if axis < 0 { axis += x.rank }
            guard axis >= 0, axis <= x.rank else { throw fail("axis \(axis) is out of range for \(x)") }
            return Shape([x.dims[..<axis].reduce(1, *), x.dims[axis...].reduce(1, *)])
        case .reshape(let target):
            var dims = [Int]()
            var inferred: Int? = nil
            for (axis, d) in target.enumerated() {
                switch d {
                case 0:
                    guard axis < x.rank else { throw fail("target dimension \(axis) is 0 but the input \(x) has no such axis") }
                    dims.append(x[axis])
                case -1:
                    guard inferred == nil else { throw fail("more than one -1 in the target shape \(target)") }
                    inferred = axis
                    dims.append(1)
                case let n where n > 0: dims.append(n)
                default: throw fail("invalid target dimension \(d)")
                }
            }
            guard let known = dims.reduce(Optional(1), { p, d in p.flatMap { let (r, o) = $0.multipliedReportingOverflow(by: d); return o ? nil : r } }) else {
                throw fail("target shape \(target) is too large")
            }
            if let axis = inferred {
                guard known > 0, x.elementCount % known == 0 else { throw fail("cannot reshape \(x) to \(target)") }
                dims[axis] = x.elementCount / known
            }
            guard dims.reduce(1, *) == x.elementCount else { throw fail("cannot reshape \(x) (\(x.elementCount) elements) to \(target)") }
            return Shape(dims)
        case .fullyConnected(let fc):
            try requireRank(2, x)
            guard x[1] == fc.inputs else { throw fail("weights expect \(fc.inputs) features, the input \(x) has \(x[1])") }
            return Shape([x[0], fc.outputs])
        case .matMul:
            guard inputs.count == 2 else { throw fail("expects two operands") }
            let b = inputs[1]
            try requireRank(2, x)
            try requireRank(2, b)
            guard x[1] == b[0] else { throw fail("inner dimensions differ: \(x) x \(b)") }
            return Shape([x[0], b[1]])
        }
    }
}
