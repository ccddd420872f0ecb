import EdgeGraph
import EdgeONNX
import EdgeRuntime
import Foundation
import Testing
import TestSupport

@Suite struct GraphTests {
    @Test func resnet18MultiplyAccumulatesAt224() throws {
        let manifest = try FixtureManifest.load()
        let graph = try ONNXImporter.load(contentsOf: manifest.url(manifest.model(named: "resnet18").file)).graph
        let shapes = try graph.inferShapes(inputShapes: [Shape([1, 3, 224, 224])])
        let macs = graph.nodes.reduce(0) { $0 + $1.op.multiplyAccumulates(inputs: $1.inputs.map { shapes[$0] }, output: shapes[$1.output]) }
        #expect(macs == 1_814_073_344)  // 1.814 GMAC, the published figure
        #expect(graph.nodes.filter { if case .convolution = $0.op { return true } else { return false } }.count == 20)
    }

    @Test func batchNormIsFoldedAndActivationsFused() throws {
        let manifest = try FixtureManifest.load()
        let folded = try ONNXImporter.load(contentsOf: manifest.url(manifest.model(named: "resnet18").file)).graph
        let unfolded = try ONNXImporter.load(contentsOf: manifest.url(manifest.model(named: "resnet18-bn").file)).graph
        #expect(folded.nodes.map(\.op.name) == unfolded.nodes.map(\.op.name))
        #expect(!unfolded.nodes.contains { $0.op.name == "ChannelAffine" || $0.op.name == "Relu" })
    }

    @Test func memoryPlanNeverOverlapsLiveBuffers() throws {
        let manifest = try FixtureManifest.load()
        for name in ["resnet18", "resnet50", "mobilenetv2"] {
            let graph = try ONNXImporter.load(contentsOf: manifest.url(manifest.model(named: name).file)).graph
            for shape in [Shape([1, 3, 224, 224]), Shape([4, 3, 160, 96])] {
                let shapes = try graph.inferShapes(inputShapes: [shape])
                let plan = MemoryPlan(graph: graph, shapes: shapes)
                // Live range of each storage owner, in steps.
                var first = [Int: Int](), last = [Int: Int]()
                for id in graph.inputs { first[plan.storageOwner[id]] = -1 }
                for (step, node) in graph.nodes.enumerated() {
                    let o = plan.storageOwner[node.output]
                    first[o] = min(first[o] ?? step, step)
                    for id in node.inputs + [node.output] { last[plan.storageOwner[id]] = max(last[plan.storageOwner[id]] ?? step, step) }
                }
                for id in graph.outputs { last[plan.storageOwner[id]] = graph.nodes.count }
                let owners = Array(first.keys)
                for a in owners {
                    #expect(plan.offsets[a] % MemoryPlan.alignment == 0)
                    #expect(plan.offsets[a] + plan.sizes[a] <= plan.arenaBytes)
                    for b in owners where a < b && first[a]! <= last[b]! && first[b]! <= last[a]! {
                        let disjoint = plan.offsets[a] + plan.sizes[a] <= plan.offsets[b] || plan.offsets[b] + plan.sizes[b] <= plan.offsets[a]
                        #expect(disjoint, "\(name): values \(a) and \(b) are live together but overlap")
                    }
                }
                // Reuse must actually happen: a plan without it is correct but useless on a board.
                #expect(plan.arenaBytes * 3 < plan.unsharedBytes, "\(name): arena \(plan.arenaBytes) vs \(plan.unsharedBytes) unshared")
            }
        }
    }

    @Test func windowArithmeticFollowsONNX() {
        // SAME_UPPER, stride 2, 5x5 on 17: out 9, total pad 4 -> 2 + 2; on 18: out 9, total 3 -> 1 + 2.
        let same = Window2D(kernel: (5, 5), stride: (2, 2), padding: .sameUpper)
        let r = same.resolve(height: 17, width: 18)
        let resolved: [Int] = [r.outputHeight, r.padTop, r.padBottom, r.outputWidth, r.padLeft, r.padRight]
        #expect(resolved == [9, 2, 2, 9, 1, 2])
        let lower = Window2D(kernel: (5, 5), stride: (2, 2), padding: .sameLower).resolve(height: 18, width: 18)
        let lowerPads: [Int] = [lower.padTop, lower.padBottom]
        #expect(lowerPads == [2, 1])
        // ceil mode: 2x2 stride 2 on 7 gives 4 (floor would give 3).
        let ceil = Window2D(kernel: (2, 2), stride: (2, 2), ceilMode: true).resolve(height: 7, width: 8)
        let ceilSizes: [Int] = [ceil.outputHeight, ceil.outputWidth]
        #expect(ceilSizes == [4, 4])
        // Dilation 2 on a 3x3 kernel spans 5.
        let dilated = Window2D(kernel: (3, 3), dilation: (2, 2)).resolve(height: 10, width: 10)
        #expect(dilated.outputHeight == 6)
    }

    @Test func symbolicBatchAndSizeBindToAnyShape() throws {
        let graph = try ONNXImporter.load(contentsOf: TestPaths.referenceModels.appendingPathComponent("resnet18-fashion-mnist.onnx")).graph
        for n in [1, 3, 17] {
            let shapes = try graph.inferShapes(inputShapes: [Shape([n, 3, 32, 32])])
            #expect(shapes[graph.outputs[0]] == Shape([n, 10]))
        }
    }
}
