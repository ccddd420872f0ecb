import EdgeGraph

/// Where every buffer of one execution plan lives for one set of input shapes: offsets into a single arena.
///
/// Buffers whose lifetimes do not overlap share memory. Offsets are assigned greedily, largest buffer
/// first, each at the lowest offset that does not collide with an already placed buffer whose
/// lifetime overlaps (the "greedy by size" strategy of TFLite's arena planner). Reshapes that do not
/// reorder elements are views: they share their input's buffer.
///
/// The FP32 plan has one float buffer per graph value (`init(graph:shapes:elementSize:)`, indexed by
/// `ValueID`). The session's mixed plan has, per value, an int8 buffer (1 byte per element), a float
/// buffer (4 bytes), or both where a conversion sits between an INT8 and an FP32 node; it is built from
/// `Step`s over buffer indices.
public struct MemoryPlan: Sendable {
    public static let alignment = 64

    /// Byte offset of each buffer in the arena (for the FP32 plan: indexed by ValueID).
    public let offsets: [Int]
    /// Size in bytes of each buffer.
    public let sizes: [Int]
    /// For each buffer, the buffer whose storage it shares (itself unless it is a view).
    public let storageOwner: [Int]
    public let arenaBytes: Int
    /// What the arena would need without any reuse, for reports.
    public let unsharedBytes: Int

    /// One step of execution: the buffers it reads and writes.
    public struct Step: Sendable {
        public var reads: [Int]
        public var writes: [Int]
        public init(reads: [Int], writes: [Int]) {
            self.reads = reads
            self.writes = writes
        }
    }

    /// The FP32 plan: one buffer per value, `elementSize` bytes per element.
    public init(graph: Graph, shapes: [Shape], elementSize: Int = MemoryLayout<Float>.size) {
        var owner = Array(0..<graph.values.count)
        for node in graph.nodes where Self.isView(node, shapes: shapes) {
            owner[node.output] = owner[node.inputs[0]]
        }
        self.init(byteSizes: shapes.map { $0.elementCount * elementSize }, owner: owner,
                  steps: graph.nodes.map { Step(reads: $0.inputs, writes: [$0.output]) },
                  liveIn: graph.inputs, liveOut: graph.outputs)
    }

    /// A plan over arbitrary buffers: `owner[b]` is the buffer whose storage `b` shares (views point at an
    /// owner that is not itself a view); `liveIn` buffers exist before the first step, `liveOut` after the last.
    public init(byteSizes: [Int], owner: [Int], steps: [Step], liveIn: [Int], liveOut: [Int]) {
        let count = byteSizes.count
        // Lifetime of each owner's storage, in steps: live-in buffers are born before step 0,
        // live-out buffers live past the last step.
        let end = steps.count
        var first = [Int](repeating: Int.max, count: count), last = [Int](repeating: -1, count: count)
        for id in liveIn { first[owner[id]] = -1; last[owner[id]] = max(last[owner[id]], -1) }
        for (index, step) in steps.enumerated() {
            for id in step.writes {
                first[owner[id]] = min(first[owner[id]], index)
                last[owner[id]] = max(last[owner[id]], index)
            }
            for id in step.reads { last[owner[id]] = max(last[owner[id]], index) }
        }
        for id in liveOut { last[owner[id]] = end }

        let sizes = byteSizes.map(Self.align)
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
