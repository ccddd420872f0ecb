import EdgeGraph

/// Where every activation of one graph lives for one set of input shapes: offsets into a single arena.
///
/// Values whose lifetimes do not overlap share memory. Offsets are assigned greedily, largest buffer
/// first, each at the lowest offset that does not collide with an already placed buffer whose
/// lifetime overlaps (the "greedy by size" strategy of TFLite's arena planner). Reshapes that do not
/// reorder elements are views: they share their input's buffer.
public struct MemoryPlan: Sendable {
    public static let alignment = 64

    /// Byte offset of each value's buffer in the arena, indexed by ValueID.
    public let offsets: [Int]
    /// Size in bytes of each value's buffer.
    public let sizes: [Int]
    /// For each value, the value whose storage it shares (itself unless it is a view).
    public let storageOwner: [ValueID]
    public let arenaBytes: Int
    /// What the arena would need without any reuse, for reports.
    public let unsharedBytes: Int

    public init(graph: Graph, shapes: [Shape], elementSize: Int = MemoryLayout<Float>.size) {
        let count = graph.values.count
        var owner = Array(0..<count)
        for node in graph.nodes where Self.isView(node, shapes: shapes) {
            owner[node.output] = owner[node.inputs[0]]
        }
        // Lifetime of each owner's storage, in node steps: graph inputs are born before step 0,
        // graph outputs live past the last step.
        let end = graph.nodes.count
        var first = [Int](repeating: Int.max, count: count), last = [Int](repeating: -1, count: count)
        for id in graph.inputs { first[owner[id]] = -1; last[owner[id]] = max(last[owner[id]], -1) }
        for (step, node) in graph.nodes.enumerated() {
            let o = owner[node.output]
            first[o] = min(first[o], step)
            last[o] = max(last[o], step)
            for id in node.inputs { last[owner[id]] = max(last[owner[id]], step) }
        }
        for id in graph.outputs { last[owner[id]] = end }

        let sizes = shapes.map { Self.align($0.elementCount * elementSize) }
        var offsets = [Int](repeating: 0, count: count)
        var placed: [(offset: Int, size: Int, first: Int, last: Int)] = []
        var arena = 0, unshared = 0
        let owners = (0..<count).filter { owner[$0] == $0 && last[$0] >= first[$0] }
        for id in owners.sorted(by: { sizes[$0] != sizes[$1] ? sizes[$0] > sizes[$1] : $0 < $1 }) {
            unshared += sizes[id]
            var offset = 0
            for p in placed.filter({ $0.first <= last[id] && first[id] <= $0.last }).sorted(by: { $0.offset < $1.offset }) {
                if offset + sizes[id] <= p.offset { break }
                offset = max(offset, p.offset + p.size)
            }
            offsets[id] = offset
            placed.append((offset, sizes[id], first[id], last[id]))
            arena = max(arena, offset + sizes[id])
        }
        for id in 0..<count { offsets[id] = offsets[owner[id]] }
        self.offsets = offsets
        self.sizes = sizes
        self.storageOwner = owner
        self.arenaBytes = max(arena, Self.alignment)
        self.unsharedBytes = unshared
    }

    /// A Flatten or Reshape is free when neither side's storage order differs from its logical order.
    public static func isView(_ node: Node, shapes: [Shape]) -> Bool {
        switch node.op {
        case .flatten, .reshape:
            return StorageOrder.isLogicalOrder(shapes[node.inputs[0]]) && StorageOrder.isLogicalOrder(shapes[node.output])
        default:
            return false
        }
    }

    static func align(_ bytes: Int) -> Int { (bytes + alignment - 1) / alignment * alignment }
}
