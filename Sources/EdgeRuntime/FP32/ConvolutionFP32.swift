import COpenBLAS
import EdgeGraph

/// Convolution weights packed once per session for the SGEMM path: per group a row-major
/// [K][Cout/groups] matrix with K ordered (ky, kx, ci), matching an NHWC im2col row.
final class PackedConvolutionFP32 {
    let conv: Convolution
    let weights: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>
    let reductionSize: Int      // K = KH * KW * Cin/groups
    let outputsPerGroup: Int

    init(_ conv: Convolution) {
        self.conv = conv
        let kh = conv.window.kernelHeight, kw = conv.window.kernelWidth, cig = conv.inputChannelsPerGroup
        let cog = conv.outputChannels / conv.groups
        reductionSize = kh * kw * cig
        outputsPerGroup = cog
        weights = .allocate(capacity: conv.weights.count)
        bias = .allocate(capacity: conv.outputChannels)
        bias.initialize(from: conv.bias, count: conv.outputChannels)
        if conv.isDepthwise {
            // Depthwise: [KH*KW][C], so the inner loop runs over contiguous channels.
            for c in 0..<conv.outputChannels {
                for k in 0..<(kh * kw) { weights[k * conv.outputChannels + c] = conv.weights[c * kh * kw + k] }
            }
        } else {
            for g in 0..<conv.groups {
                let groupBase = weights + g * reductionSize * cog
                for o in 0..<cog {
                    let oc = g * cog + o
                    for ci in 0..<cig {
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let src = ((oc * cig + ci) * kh + ky) * kw + kx
                                groupBase[((ky * kw + kx) * cig + ci) * cog + o] = conv.weights[src]
                            }
                        }
                    }
                }
            }
        }
    }

    deinit {
        weights.deallocate()
        bias.deallocate()
    }
}

/// Convolution over NHWC through OpenBLAS SGEMM: a pointwise convolution is one GEMM over all pixels
/// of the batch; anything else is im2col (one row of K = KH*KW*Cin/g values per output pixel,
/// contiguous channel runs copied straight from NHWC) followed by one GEMM per group.
struct ConvolutionFP32Kernel: Kernel {
    let packed: PackedConvolutionFP32
    let window: ResolvedWindow
    let batch: Int, inputChannels: Int
    let input: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>
    /// How many images' im2col rows fit in the scratch buffer at once.
    let imagesPerChunk: Int

    /// Scratch floats for one image's im2col matrix (0 when the convolution needs none).
    static func scratchPerImage(_ conv: Convolution, _ window: ResolvedWindow) -> Int {
        if window.isPointwise && conv.groups == 1 || conv.isDepthwise { return 0 }
        return window.outputHeight * window.outputWidth * conv.window.kernelHeight * conv.window.kernelWidth * conv.inputChannelsPerGroup
    }

    func run(pool: ThreadPool) {
        let conv = packed.conv
        let cout = conv.outputChannels
        let pixels = window.outputHeight * window.outputWidth
        let clamp = Clamp(conv.activation)
        if window.isPointwise && conv.groups == 1 {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(batch * pixels), Int32(cout), Int32(inputChannels),
                        1, input, Int32(inputChannels), packed.weights, Int32(cout), 0, output, Int32(cout))
        } else {
            let k = packed.reductionSize, cog = packed.outputsPerGroup
            var image = 0
            while image < batch {
                let images = min(imagesPerChunk, batch - image)
                for g in 0..<conv.groups {
                    im2col(firstImage: image, images: images, group: g, pool: pool)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(images * pixels), Int32(cog), Int32(k),
                                1, scratch, Int32(k), packed.weights + g * k * cog, Int32(cog),
                                0, output + image * pixels * cout + g * cog, Int32(cout))
                }
                image += images
            }
        }
        addBiasAndClamp(output, rows: batch * pixels, columns: cout, stride: cout, bias: packed.bias, clamp: clamp, pool: pool)
    }

    private func im2col(firstImage: Int, images: Int, group: Int, pool: ThreadPool) {
        let w = window, win = w.window
        let cig = packed.conv.inputChannelsPerGroup, cin = inputChannels
        let k = packed.reductionSize
        let rows = images * w.outputHeight * w.outputWidth
        let input = self.input, scratch = self.scratch
        pool.parallelFor(rows, grain: 16) { range in
            for row in range {
                let n = firstImage + row / (w.outputHeight * w.outputWidth)
                let pixel = row % (w.outputHeight * w.outputWidth)
                let oy = pixel / w.outputWidth, ox = pixel % w.outputWidth
                var dst = scratch + row * k
                for ky in 0..<win.kernelHeight {
                    let iy = oy * win.strideHeight - w.padTop + ky * win.dilationHeight
                    for kx in 0..<win.kernelWidth {
                        let ix = ox * win.strideWidth - w.padLeft + kx * win.dilationWidth
                        if iy >= 0 && iy < w.inputHeight && ix >= 0 && ix < w.inputWidth {
                            dst.update(from: input + ((n * w.inputHeight + iy) * w.inputWidth + ix) * cin + group * cig, count: cig)
                        } else {
                            dst.update(repeating: 0, count: cig)
                        }
                        dst += cig
                    }
                }
            }
        }
    }
}

/// Depthwise convolution computed directly over NHWC: each output pixel accumulates KH*KW
/// contiguous channel vectors, which the compiler vectorises; a GEMM per channel would be all overhead.
struct DepthwiseConvolutionFP32Kernel: Kernel {
    let packed: PackedConvolutionFP32
    let window: ResolvedWindow
    let batch: Int
    let input: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>

    func run(pool: ThreadPool) {
        let w = window, win = w.window
        let channels = packed.conv.outputChannels
        let weights = packed.weights, bias = packed.bias
        let clamp = Clamp(packed.conv.activation)
        let input = self.input, output = self.output
        pool.parallelFor(batch * w.outputHeight) { range in
            for row in range {
                let n = row / w.outputHeight, oy = row % w.outputHeight
                for ox in 0..<w.outputWidth {
                    let acc = output + ((n * w.outputHeight + oy) * w.outputWidth + ox) * channels
                    acc.update(from: bias, count: channels)
                    for ky in 0..<win.kernelHeight {
                        let iy = oy * win.strideHeight - w.padTop + ky * win.dilationHeight
                        guard iy >= 0 && iy < w.inputHeight else { continue }
                        for kx in 0..<win.kernelWidth {
                            let ix = ox * win.strideWidth - w.padLeft + kx * win.dilationWidth
                            guard ix >= 0 && ix < w.inputWidth else { continue }
                            let src = input + ((n * w.inputHeight + iy) * w.inputWidth + ix) * channels
                            let wk = weights + (ky * win.kernelWidth + kx) * channels
                            for c in 0..<channels { acc[c] += src[c] * wk[c] }
                        }
                    }
                    if !clamp.isIdentity { for c in 0..<channels { acc[c] = clamp(acc[c]) } }
                }
            }
        }
    }
}
