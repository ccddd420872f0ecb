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

    init(_ original: Convolution) {
        var conv = original
        conv.weights = original.floatWeights
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

/// Convolution over NHWC with single-threaded OpenBLAS SGEMMs on tiles that our own pool distributes.
///
/// Rows of the GEMM are output pixels (M = N*OH*OW), columns output channels, K = KH*KW*Cin/g.
/// - Many rows (the common case): each task takes a block of row tiles; per tile it builds the im2col rows
///   in its own scratch (contiguous channel runs copied from NHWC; none for a stride-1 pointwise
///   convolution, which reads the input directly), multiplies, and applies bias and activation while the
///   tile is still in cache.
/// - Few rows (late layers at batch 1) or groups: im2col of the whole batch chunk, then each task
///   multiplies a block of output columns.
/// OpenBLAS runs single-threaded: its own worker threads spin after each call and would fight ours.
struct ConvolutionFP32Kernel: Kernel {
    let packed: PackedConvolutionFP32
    let window: ResolvedWindow
    let batch: Int, inputChannels: Int
    let input: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>
    let plan: Plan

    enum Strategy { case rowTiles, columnBlocks }

    struct Plan {
        let strategy: Strategy
        let tileRows: Int
        /// Column-block path: how many images' im2col rows fit the scratch at once.
        let imagesPerChunk: Int
        let scratchFloats: Int
    }

    /// Target bytes of one im2col tile: about half of a 1 MiB L2.
    static let tileBytes = 512 * 1024
    /// Column-block path: bound on the whole-batch im2col buffer.
    static let chunkBytes = 64 << 20

    static func plan(_ conv: Convolution, _ window: ResolvedWindow, batch: Int, threads: Int) -> Plan {
        let pixels = window.outputHeight * window.outputWidth
        let rows = batch * pixels
        let k = conv.window.kernelHeight * conv.window.kernelWidth * conv.inputChannelsPerGroup
        let direct = window.isPointwise && conv.groups == 1
        if conv.groups == 1 && rows >= 64 * threads {
            let tileRows = max(16, min(rows / threads, tileBytes / (4 * k)))
            return Plan(strategy: .rowTiles, tileRows: tileRows, imagesPerChunk: 0, scratchFloats: direct ? 0 : threads * tileRows * k)
        }
        let perImage = direct ? 0 : pixels * k
        let images = perImage == 0 ? batch : max(1, min(batch, chunkBytes / 4 / perImage))
        return Plan(strategy: .columnBlocks, tileRows: 0, imagesPerChunk: images, scratchFloats: images * perImage)
    }

    func run(pool: ThreadPool) {
        switch plan.strategy {
        case .rowTiles: runRowTiles(pool: pool)
        case .columnBlocks: runColumnBlocks(pool: pool)
        }
    }

    private var isDirect: Bool { window.isPointwise && packed.conv.groups == 1 }

    private func runRowTiles(pool: ThreadPool) {
        let rows = batch * window.outputHeight * window.outputWidth
        let k = packed.reductionSize, cout = packed.conv.outputChannels, tileRows = plan.tileRows
        let tiles = (rows + tileRows - 1) / tileRows
        let clamp = Clamp(packed.conv.activation)
        pool.forEachChunk(tiles) { thread, range in
            let taskScratch = scratch + thread * tileRows * k
            for tile in range {
                let r0 = tile * tileRows, count = min(tileRows, rows - r0)
                let a: UnsafePointer<Float>
                if isDirect {
                    a = UnsafePointer(input + r0 * inputChannels)
                } else {
                    im2col(rows: r0..<(r0 + count), group: 0, into: taskScratch)
                    a = UnsafePointer(taskScratch)
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(count), Int32(cout), Int32(k),
                            1, a, Int32(k), packed.weights, Int32(cout), 0, output + r0 * cout, Int32(cout))
                addBiasAndClamp(output + r0 * cout, rows: count, columns: cout, stride: cout, bias: packed.bias, clamp: clamp)
            }
        }
    }

    private func runColumnBlocks(pool: ThreadPool) {
        let conv = packed.conv
        let pixels = window.outputHeight * window.outputWidth
        let k = packed.reductionSize, cog = packed.outputsPerGroup, cout = conv.outputChannels
        let tasks = min(pool.threadCount, max(1, cog / 16))
        var image = 0
        while image < batch {
            let images = min(plan.imagesPerChunk, batch - image)
            let rows = images * pixels
            for g in 0..<conv.groups {
                let a: UnsafePointer<Float>, lda: Int
                if isDirect {
                    (a, lda) = (UnsafePointer(input + image * pixels * inputChannels), inputChannels)
                } else {
                    let first = image * pixels
                    pool.parallelFor(rows, grain: 16) { range in
                        im2col(rows: (first + range.lowerBound)..<(first + range.upperBound), group: g,
                               into: scratch + range.lowerBound * k)
                    }
                    (a, lda) = (UnsafePointer(scratch), k)
                }
                pool.runTasks(tasks) { task in
                    // Column blocks in multiples of 16 so each SGEMM keeps full-width vector stores.
                    let c0 = (cog * task / tasks) / 16 * 16, c1 = task == tasks - 1 ? cog : (cog * (task + 1) / tasks) / 16 * 16
                    guard c1 > c0 else { return }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(c1 - c0), Int32(k),
                                1, a, Int32(lda), packed.weights + g * k * cog + c0, Int32(cog),
                                0, output + image * pixels * cout + g * cog + c0, Int32(cout))
                }
            }
            image += images
        }
        let clamp = Clamp(conv.activation)
        pool.parallelFor(batch * pixels, grain: max(1, 4096 / cout)) { range in
            addBiasAndClamp(output + range.lowerBound * cout, rows: range.count, columns: cout, stride: cout, bias: packed.bias, clamp: clamp)
        }
    }

    /// Writes the im2col rows for output pixels `rows` (global row indices over the batch) to `dst`.
    private func im2col(rows: Range<Int>, group: Int, into dst: UnsafeMutablePointer<Float>) {
        let w = window, win = w.window
        let cig = packed.conv.inputChannelsPerGroup, cin = inputChannels
        let pixels = w.outputHeight * w.outputWidth
        var out = dst
        for row in rows {
            let n = row / pixels, pixel = row % pixels
            let oy = pixel / w.outputWidth, ox = pixel % w.outputWidth
            let ix0 = ox * win.strideWidth - w.padLeft
            // Without groups or horizontal dilation, a kernel row that lies inside the image is one
            // contiguous run of KW*Cin floats in NHWC: copy it at once.
            let wholeRows = cig == cin && win.dilationWidth == 1 && ix0 >= 0 && ix0 + win.kernelWidth <= w.inputWidth
            for ky in 0..<win.kernelHeight {
                let iy = oy * win.strideHeight - w.padTop + ky * win.dilationHeight
                if wholeRows {
                    if iy >= 0 && iy < w.inputHeight {
                        out.update(from: input + ((n * w.inputHeight + iy) * w.inputWidth + ix0) * cin, count: win.kernelWidth * cin)
                    } else {
                        out.update(repeating: 0, count: win.kernelWidth * cin)
                    }
                    out += win.kernelWidth * cin
                    continue
                }
                for kx in 0..<win.kernelWidth {
                    let ix = ox * win.strideWidth - w.padLeft + kx * win.dilationWidth
                    if iy >= 0 && iy < w.inputHeight && ix >= 0 && ix < w.inputWidth {
                        out.update(from: input + ((n * w.inputHeight + iy) * w.inputWidth + ix) * cin + group * cig, count: cig)
                    } else {
                        out.update(repeating: 0, count: cig)
                    }
                    out += cig
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
