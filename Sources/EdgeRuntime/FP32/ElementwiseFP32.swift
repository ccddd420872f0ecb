import EdgeGraph

/// out = clamp(a + b) for the residual connection; the shapes and storage orders are equal.
struct AddFP32Kernel: Kernel {
    let count: Int
    let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let activation: Activation

    func run(pool: ThreadPool) {
        let a = self.a, b = self.b, output = self.output, clamp = Clamp(activation)
        pool.parallelFor(count, grain: 16384) { range in
            if clamp.isIdentity {
                for i in range { output[i] = a[i] + b[i] }
            } else {
                for i in range { output[i] = clamp(a[i] + b[i]) }
            }
        }
    }
}

/// out = clamp(x * scale[c] + shift[c]); also a standalone activation (scale 1, shift 0).
///
/// Vectorised (SIMD8<Float>: two NEON or one AVX2 register per step). NHWC (channel stride 1): whole pixels per
/// thread, each a run of `channels` values against the per-channel vectors. Other layouts (channel stride > 1, the
/// logical order of rank-3+ values): runs of `channelStride` values share one channel's scale and shift.
/// The arithmetic is the scalar loop's (one multiply, one add, each rounded: no fused multiply-add), so the result is
/// the same bit for bit.
struct ChannelAffineFP32Kernel: Kernel {
    let count: Int
    let channels: Int
    /// Elements between consecutive channels: 1 for NHWC and [N, C]; H*W... for logical rank-3+ layouts.
    let channelStride: Int
    let scale: [Float]?, shift: [Float]?
    let input: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let activation: Activation

    func run(pool: ThreadPool) {
        let input = self.input, output = self.output, clamp = Clamp(activation)
        let channels = self.channels, channelStride = self.channelStride
        guard let scale, let shift else {
            pool.parallelFor(count, grain: 16384) { range in
                Self.clampRun(input + range.lowerBound, output + range.lowerBound, range.count, clamp)
            }
            return
        }
        scale.withUnsafeBufferPointer { s in
            shift.withUnsafeBufferPointer { b in
                let s = s.baseAddress!, b = b.baseAddress!
                if channelStride == 1 {
                    let pixels = count / channels
                    pool.parallelFor(pixels, grain: max(1, 16384 / channels)) { range in
                        for p in range {
                            let offset = p * channels
                            Self.affineRow(input + offset, output + offset, channels, s, b, clamp)
                        }
                    }
                } else {
                    // Runs of channelStride values of one channel.
                    let runs = count / channelStride
                    pool.parallelFor(runs, grain: max(1, 16384 / channelStride)) { range in
                        for r in range {
                            let c = r % channels, offset = r * channelStride
                            Self.affineRun(input + offset, output + offset, channelStride, s[c], b[c], clamp)
                        }
                    }
                }
            }
        }
    }

    /// y[i] = clamp(x[i] * s[i] + b[i]) for i < n.
    @inline(__always)
    static func affineRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                          _ s: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ clamp: Clamp) {
        let lo = SIMD8<Float>(repeating: clamp.lower), hi = SIMD8<Float>(repeating: clamp.upper)
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let sv = UnsafeRawPointer(s + i).loadUnaligned(as: SIMD8<Float>.self)
            let bv = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            var r = v * sv
            r = r + bv
            r = r.replacing(with: lo, where: r .< lo).replacing(with: hi, where: r .> hi)
            UnsafeMutableRawPointer(y + i).storeBytes(of: r, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            let r = x[i] * s[i]
            y[i] = clamp(r + b[i])
            i += 1
        }
    }

    /// y[i] = clamp(x[i] * s + b) for i < n.
    @inline(__always)
    static func affineRun(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ s: Float, _ b: Float, _ clamp: Clamp) {
        let lo = SIMD8<Float>(repeating: clamp.lower), hi = SIMD8<Float>(repeating: clamp.upper)
        let sv = SIMD8<Float>(repeating: s), bv = SIMD8<Float>(repeating: b)
        var i = 0
        while i + 8 <= n {
            var r = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) * sv
            r = r + bv
            r = r.replacing(with: lo, where: r .< lo).replacing(with: hi, where: r .> hi)
            UnsafeMutableRawPointer(y + i).storeBytes(of: r, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            let r = x[i] * s
            y[i] = clamp(r + b)
            i += 1
        }
    }

    @inline(__always)
    static func clampRun(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ clamp: Clamp) {
        let lo = SIMD8<Float>(repeating: clamp.lower), hi = SIMD8<Float>(repeating: clamp.upper)
        var i = 0
        while i + 8 <= n {
            var r = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            r = r.replacing(with: lo, where: r .< lo).replacing(with: hi, where: r .> hi)
            UnsafeMutableRawPointer(y + i).storeBytes(of: r, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { y[i] = clamp(x[i]); i += 1 }
    }
}

/// Copies a tensor whose storage order differs from its logical order (NHWC rank-4) into a
/// logical-order buffer, or back: what a Flatten or Reshape of a feature map costs (float or int8).
struct ReorderKernel<Element>: Kernel {
    let inputShape: Shape, outputShape: Shape
    let input: UnsafeMutablePointer<Element>
    let output: UnsafeMutablePointer<Element>
    let scratch: UnsafeMutablePointer<Element>

    func run(pool: ThreadPool) {
        let inLogical = StorageOrder.isLogicalOrder(inputShape), outLogical = StorageOrder.isLogicalOrder(outputShape)
        switch (inLogical, outLogical) {
        case (false, false):
            Self.nhwcToNCHW(input, scratch, inputShape)
            Self.nchwToNHWC(scratch, output, outputShape)
        case (false, true): Self.nhwcToNCHW(input, output, inputShape)
        case (true, false): Self.nchwToNHWC(input, output, outputShape)
        case (true, true): output.update(from: input, count: inputShape.elementCount)
        }
    }

    static func nhwcToNCHW(_ src: UnsafePointer<Element>, _ dst: UnsafeMutablePointer<Element>, _ shape: Shape) {
        let (n, c, hw) = (shape[0], shape[1], shape[2] * shape[3])
        for i in 0..<n { for p in 0..<hw { for ch in 0..<c { dst[(i * c + ch) * hw + p] = src[(i * hw + p) * c + ch] } } }
    }

    static func nchwToNHWC(_ src: UnsafePointer<Element>, _ dst: UnsafeMutablePointer<Element>, _ shape: Shape) {
        let (n, c, hw) = (shape[0], shape[1], shape[2] * shape[3])
        for i in 0..<n { for ch in 0..<c { for p in 0..<hw { dst[(i * hw + p) * c + ch] = src[(i * c + ch) * hw + p] } } }
    }
}

typealias ReorderFP32Kernel = ReorderKernel<Float>
