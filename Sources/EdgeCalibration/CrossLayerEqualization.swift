import EdgeGraph

/// Cross-layer equalization (Nagel et al., "Data-Free Quantization", ICCV 2019): for a convolution A whose
/// output feeds only convolution B, through nothing or a ReLU (both commute with a positive per-channel scale),
/// output channel i of A is divided by s_i and input channel i of B multiplied by it, with
/// s_i = sqrt(r1_i / r2_i) (r1_i: max |A's weights of output channel i|, r2_i: max |B's weights of input channel i|),
/// so both become sqrt(r1_i r2_i): per-channel ranges even out and per-tensor activations lose less.
enum CrossLayerEqualization {
    /// Equalizes every such pair in place; returns the pairs as "A -> B".
    static func apply(_ graph: inout Graph) -> [String] {
        var producer = [Int?](repeating: nil, count: graph.values.count)
        for (i, n) in graph.nodes.enumerated() { producer[n.output] = i }
        let uses = graph.useCounts()
        var pairs: [String] = []
        for (bIndex, b) in graph.nodes.enumerated() {
            guard case .convolution(var convB) = b.op, convB.groups == 1,
                  let aIndex = producer[b.inputs[0]], uses[b.inputs[0]] == 1,
                  case .convolution(var convA) = graph.nodes[aIndex].op, convA.groups == 1 else { continue }
            switch convA.activation {
            case .none, .relu: break
            case .clip: continue  // ReLU6's bound does not scale
            }
            let channels = convA.outputChannels
            guard convB.inputChannelsPerGroup == channels else { continue }
            let wa = convA.floatWeights, wb = convB.floatWeights
            let perA = wa.count / channels
            let taps = convB.window.kernelHeight * convB.window.kernelWidth
            var scales = [Float](repeating: 1, count: channels)
            for i in 0..<channels {
                var r1: Float = 0, r2: Float = 0
                for j in (i * perA)..<((i + 1) * perA) { r1 = max(r1, abs(wa[j])) }
                for o in 0..<convB.outputChannels {
                    let base = (o * channels + i) * taps
                    for t in 0..<taps { r2 = max(r2, abs(wb[base + t])) }
                }
                if r1 > 0, r2 > 0 { scales[i] = (r1 / r2).squareRoot() }
            }
            var newA = wa, newB = wb
            for i in 0..<channels {
                for j in (i * perA)..<((i + 1) * perA) { newA[j] = wa[j] / scales[i] }
                convA.bias[i] /= scales[i]
                for o in 0..<convB.outputChannels {
                    let base = (o * channels + i) * taps
                    for t in 0..<taps { newB[base + t] = wb[base + t] * scales[i] }
                }
            }
            convA.weights = newA
            convA.quantized = nil
            convB.weights = newB
            convB.quantized = nil
            graph.nodes[aIndex].op = .convolution(convA)
            graph.nodes[bIndex].op = .convolution(convB)
            pairs.append("\(graph.nodes[aIndex].name) -> \(b.name)")
        }
        return pairs
    }
}
