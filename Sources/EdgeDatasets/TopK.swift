#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The k largest entries of a score vector, highest first (ties keep the lower index first).
public func topK(_ scores: ArraySlice<Float>, k: Int) -> [Int] {
    let base = scores.startIndex
    var best: [Int] = []
    for i in scores.indices {
        let v = scores[i]
        var position = best.count
        while position > 0 && scores[base + best[position - 1]] < v { position -= 1 }
        if position < k {
            best.insert(i - base, at: position)
            if best.count > k { best.removeLast() }
        }
    }
    return best
}

/// Softmax in a numerically stable form.
public func softmax(_ logits: ArraySlice<Float>) -> [Float] {
    let m = logits.max() ?? 0
    let e = logits.map { Float(exp(Double($0 - m))) }
    let sum = e.reduce(0, +)
    return e.map { $0 / sum }
}

/// Top-1/top-5 counts over an evaluation.
public struct AccuracyCounter: Sendable {
    public private(set) var total = 0
    public private(set) var top1 = 0
    public private(set) var top5 = 0

    public init() {}

    public mutating func add(scores: ArraySlice<Float>, label: Int) {
        let best = topK(scores, k: 5)
        total += 1
        if best.first == label { top1 += 1 }
        if best.contains(label) { top5 += 1 }
    }

    public var top1Accuracy: Double { total == 0 ? 0 : Double(top1) / Double(total) }
    public var top5Accuracy: Double { total == 0 ? 0 : Double(top5) / Double(total) }
}
