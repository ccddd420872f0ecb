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
        let scale = self.scale, shift = self.shift
        pool.parallelFor(count, grain: 16384) { range in
            if let scale, let shift {
                scale.withUnsafeBufferPointer { s in
                    shift.withUnsafeBufferPointer { b in
                        for i in range {
                            let c = (i / channelStride) % channels
                            output[i] = clamp(input[i] * s[c] + b[c])
                        }
                    }
                }
            } else {
                for i in range { output[i] = clamp(input[i]) }
            }
        }
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
