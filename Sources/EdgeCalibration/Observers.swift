#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// How an activation's quantization range is chosen from the calibration data.
///
/// - `minmax`: the smallest and largest value seen (onnxruntime's MinMax, PyTorch's MinMaxObserver).
/// - `movingAverage`: per batch min and max, averaged with weight 0.01 per new batch (PyTorch's
///   MovingAverageMinMaxObserver; the first batch sets them).
/// - `entropy`: the clip threshold whose 8-bit quantized histogram is closest to the real one in KL divergence
///   (TensorRT's entropy calibrator, ncnn2table's `kl`), searched on a 2048-bin histogram of |x|.
/// - `mse`: the range [lo, hi] that minimises the expected squared quantization error (rounding inside, clipping
///   outside) over a 2048-bin histogram (PyTorch's HistogramObserver search), found by shrinking either end greedily.
/// - `percentile`: the 0.01 % and 99.99 % quantiles (onnxruntime's Percentile, 99.99 by default).
public enum ObserverKind: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    case minmax
    case movingAverage = "moving-average"
    case entropy
    case mse
    case percentile

    public var description: String { rawValue }

    /// Histogram observers need a first pass for the range the histogram spans.
    var needsHistogram: Bool {
        switch self {
        case .entropy, .mse, .percentile: return true
        case .minmax, .movingAverage: return false
        }
    }
}

/// Running statistics of one tensor over the calibration batches (first pass): min, max, the moving-average
/// min/max, per-channel means (for bias correction) and the value count.
struct TensorStatistics {
    var minimum = Float.infinity
    var maximum = -Float.infinity
    var movingMinimum: Float?
    var movingMaximum: Float?
    var count = 0
    /// Per channel (dimension 1) sum of values, for channel means.
    var channelSums: [Double] = []
    var channelCounts: [Int] = []

    static let averagingConstant: Float = 0.01

    /// `values` in logical NCHW order with `channels` channels of `spatial` elements per image.
    mutating func observe(_ values: UnsafeBufferPointer<Float>, channels: Int, spatial: Int) {
        var lo = Float.infinity, hi = -Float.infinity
        for v in values {
            lo = min(lo, v)
            hi = max(hi, v)
        }
        guard !values.isEmpty else { return }
        minimum = min(minimum, lo)
        maximum = max(maximum, hi)
        if let m = movingMinimum, let M = movingMaximum {
            movingMinimum = m + Self.averagingConstant * (lo - m)
            movingMaximum = M + Self.averagingConstant * (hi - M)
        } else {
            movingMinimum = lo
            movingMaximum = hi
        }
        count += values.count
        if channelSums.isEmpty {
            channelSums = [Double](repeating: 0, count: channels)
            channelCounts = [Int](repeating: 0, count: channels)
        }
        let perImage = channels * spatial
        guard perImage > 0, channelSums.count == channels else { return }
        let images = values.count / perImage
        for n in 0..<images {
            for c in 0..<channels {
                let base = n * perImage + c * spatial
                var s: Double = 0
                for i in 0..<spatial { s += Double(values[base + i]) }
                channelSums[c] += s
                channelCounts[c] += spatial
            }
        }
    }

    var channelMeans: [Float] {
        zip(channelSums, channelCounts).map { $1 > 0 ? Float($0 / Double($1)) : 0 }
    }
}

/// A histogram of one tensor's values over a fixed range [lower, upper] (second pass).
struct Histogram {
    static let binCount = 2048
    let lower: Float
    let upper: Float
    var bins: [Double]

    init(lower: Float, upper: Float) {
        self.lower = lower
        self.upper = upper > lower ? upper : lower + 1e-6
        bins = [Double](repeating: 0, count: Self.binCount)
    }

    var binWidth: Float { (upper - lower) / Float(Self.binCount) }

    mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        let scale = Float(Self.binCount) / (upper - lower)
        let last = Self.binCount - 1
        for v in values {
            let i = Int(((v - lower) * scale).rounded(.down))
            bins[min(max(i, 0), last)] += 1
        }
    }

    var total: Double { bins.reduce(0, +) }

    /// The value below which `fraction` of the mass lies (linear inside a bin).
    func quantile(_ fraction: Double) -> Float {
        let target = fraction * total
        var cumulative: Double = 0
        for (i, count) in bins.enumerated() {
            if cumulative + count >= target {
                let inside = count > 0 ? (target - cumulative) / count : 0
                return lower + binWidth * (Float(i) + Float(inside))
            }
            cumulative += count
        }
        return upper
    }

    /// Expected squared error of quantizing the histogram's mass with `levels` levels over [lo, hi]: values
    /// inside round to the nearest level (error ~ step^2 / 12 per value), values outside clip to the ends.
    func quantizationError(lo: Float, hi: Float, levels: Int = 256) -> Double {
        let step = Double(hi - lo) / Double(levels - 1)
        let width = Double(binWidth)
        var error: Double = 0
        let rounding = step * step / 12
        for (i, count) in bins.enumerated() where count > 0 {
            let center = Double(lower) + width * (Double(i) + 0.5)
            if center < Double(lo) {
                let d = Double(lo) - center
                error += count * d * d
            } else if center > Double(hi) {
                let d = center - Double(hi)
                error += count * d * d
            } else {
                error += count * rounding
            }
        }
        return error
    }

    /// The MSE-optimal range: start from the full range and shrink the end whose move lowers the error more, by
    /// 1/128 of the span at a time (both ends stay on the side of 0 they started on: 0 must stay representable).
    func mseRange() -> (Float, Float) {
        var lo = lower, hi = upper
        let stride = (upper - lower) / 512
        var best = quantizationError(lo: lo, hi: hi)
        while hi - lo > 4 * stride {
            var candidates: [(Float, Float)] = []
            if lo < 0 { candidates.append((min(lo + stride, 0), hi)) }
            if hi > 0 { candidates.append((lo, max(hi - stride, 0))) }
            var improved = false
            for (l, h) in candidates {
                let e = quantizationError(lo: l, hi: h)
                if e < best {
                    best = e
                    lo = l
                    hi = h
                    improved = true
                }
            }
            if !improved { break }
        }
        return (lo, hi)
    }

    /// The KL-optimal clip threshold of a histogram of |x| over [0, upper] (lower must be 0): TensorRT's entropy
    /// calibration with 128 target levels (the magnitude half of 8 bits), thresholds from bin 128 to the end.
    func entropyThreshold(targetBins: Int = 128) -> Float {
        let n = bins.count
        guard total > 0 else { return upper }
        var bestKL = Double.infinity
        var bestI = n
        var i = targetBins
        while i <= n {
            // P: the first i bins, with everything beyond folded into the last one.
            var p = Array(bins[0..<i])
            p[i - 1] += bins[i...].reduce(0, +)
            // Q: P's first i bins merged into targetBins levels, each level spread evenly over its non-empty bins.
            var q = [Double](repeating: 0, count: i)
            let perLevel = Double(i) / Double(targetBins)
            for level in 0..<targetBins {
                let start = Int((Double(level) * perLevel).rounded(.down))
                let end = level == targetBins - 1 ? i : Int((Double(level + 1) * perLevel).rounded(.down))
                guard end > start else { continue }
                var sum: Double = 0, nonEmpty = 0
                for j in start..<end where bins[j] > 0 { sum += bins[j]; nonEmpty += 1 }
                guard nonEmpty > 0 else { continue }
                let share = sum / Double(nonEmpty)
                for j in start..<end where bins[j] > 0 { q[j] = share }
            }
            let pSum = p.reduce(0, +), qSum = q.reduce(0, +)
            var kl: Double = 0
            if pSum > 0, qSum > 0 {
                for j in 0..<i where p[j] > 0 {
                    let pj = p[j] / pSum
                    let qj = q[j] / qSum
                    kl += qj > 0 ? pj * log(pj / qj) : pj * log(pj / 1e-12)
                }
            }
            if kl < bestKL {
                bestKL = kl
                bestI = i
            }
            i += 16
        }
        return lower + binWidth * Float(bestI)
    }
}
