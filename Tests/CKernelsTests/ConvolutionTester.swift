// End-to-end 2-D convolution through the public API, the way the runtime drives it: indirection buffer
// (ck_indirection_init_conv2d) for image 0, IGEMM tiles over pixels with a_offset for the batch image and
// the group's channel slice, weights packed per group, N split into nr-aligned chunks (as threads would),
// or GEMM with a row stride for 1x1 stride-1 unpadded layers. Checked against a direct convolution.
import CKernels

struct ConvolutionTester {
    var batch = 1
    var inputHeight = 5
    var inputWidth = 5
    var groups = 1
    var groupInputChannels = 3
    var groupOutputChannels = 4
    var kernelHeight = 3
    var kernelWidth = 3
    var strideHeight = 1
    var strideWidth = 1
    var dilationHeight = 1
    var dilationWidth = 1
    var padTop = 0
    var padLeft = 0
    var padBottom = 0
    var padRight = 0
    var inputZeroPoint: Int32 = -3
    var outputZeroPoint: Int32 = 5
    var qmin: Int32 = -128
    var qmax: Int32 = 127
    var useGemm = false          // 1x1, stride 1, no padding only
    var useIm2col = false        // im2col (ck_im2col_conv2d) + GEMM with K = KH*KW*Cg, per group
    var columnChunkBlocks = 0    // 0: whole N per call; else N is split into chunks of this many nr blocks
    var seed: UInt64 = 1

    var outputHeight: Int {
        ck_conv_output_size(inputHeight, kernelHeight, strideHeight, dilationHeight, padTop, padBottom)
    }
    var outputWidth: Int {
        ck_conv_output_size(inputWidth, kernelWidth, strideWidth, dilationWidth, padLeft, padRight)
    }

    struct Problem {
        var input: [Int8]        // [batch][H][W][groups * Cg]
        var weights: [Int8]      // [groups][Cout_g][KH][KW][Cg]
        var bias: [Int32]
        var requant: [ck_requant]
    }

    func makeProblem() -> Problem {
        var rng = Rng(seed: seed)
        let c = groups * groupInputChannels
        let input = (0..<(batch * inputHeight * inputWidth * c)).map { _ in rng.int8() }
        let ks = kernelHeight * kernelWidth
        let weights = (0..<(groups * groupOutputChannels * ks * groupInputChannels)).map { _ in rng.int8(-127...127) }
        let bias = (0..<(groups * groupOutputChannels)).map { _ in Int32(rng.int(-20000...20000)) }
        let requant = makeScales(&rng, count: groups * groupOutputChannels, depth: ks * groupInputChannels,
                                 mode: .typical).map { CKernelsTests.requant($0) }
        return Problem(input: input, weights: weights, bias: bias, requant: requant)
    }

    func reference(_ p: Problem) -> [Int8] {
        let oh = outputHeight, ow = outputWidth
        let cin = groups * groupInputChannels, cout = groups * groupOutputChannels
        var out = [Int8](repeating: 0, count: batch * oh * ow * cout)
        for b in 0..<batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for g in 0..<groups {
                        for oc in 0..<groupOutputChannels {
                            let n = g * groupOutputChannels + oc
                            var acc = p.bias[n]
                            for ky in 0..<kernelHeight {
                                let iy = oy * strideHeight + ky * dilationHeight - padTop
                                guard iy >= 0 && iy < inputHeight else { continue }
                                for kx in 0..<kernelWidth {
                                    let ix = ox * strideWidth + kx * dilationWidth - padLeft
                                    guard ix >= 0 && ix < inputWidth else { continue }
                                    let inBase = ((b * inputHeight + iy) * inputWidth + ix) * cin + g * groupInputChannels
                                    let wBase = ((n * kernelHeight + ky) * kernelWidth + kx) * groupInputChannels
                                    for ic in 0..<groupInputChannels {
                                        acc = acc &+ (Int32(p.input[inBase + ic]) - inputZeroPoint) &* Int32(p.weights[wBase + ic])
                                    }
                                }
                            }
                            out[((b * oh + oy) * ow + ox) * cout + n] =
                                referenceRequantize(acc, p.requant[n], zeroPoint: outputZeroPoint, min: qmin, max: qmax)
                        }
                    }
                }
            }
        }
        return out
    }

    func run(_ isa: ISA, _ p: Problem) -> [Int8] {
        let uk = isa.kernels.gemm
        let mr = Int(uk.mr), nr = Int(uk.nr)
        let oh = outputHeight, ow = outputWidth, pixels = oh * ow
        let ks = kernelHeight * kernelWidth
        let cin = groups * groupInputChannels, cout = groups * groupOutputChannels
        let kc = groupInputChannels, nc = groupOutputChannels
        if useIm2col { return runIm2col(isa, p) }
        let packed = packGemm(uk, groups: groups, n: nc, ks: ks, k: kc, inputZeroPoint: inputZeroPoint,
                              weights: p.weights, bias: p.bias, requant: p.requant)
        let blockSize = ck_pack_qs8_qc8w_gemm_block_size(uk.nr, uk.kr, ks, kc)
        let groupStride = (nc + nr - 1) / nr * blockSize
        let input = GuardedBuffer(p.input)
        let zero = GuardedBuffer([Int8](repeating: Int8(inputZeroPoint), count: kc))
        let output = GuardedBuffer(count: batch * pixels * cout)
        var params = makeParams(zeroPoint: outputZeroPoint, min: qmin, max: qmax)
        var indirection = [UnsafePointer<Int8>?](repeating: nil, count: pixels * ks)
        indirection.withUnsafeMutableBufferPointer { ind in
            ck_indirection_init_conv2d(ind.baseAddress, UnsafePointer(input.pointer), cin, UnsafePointer(zero.pointer),
                                       inputHeight, inputWidth, oh, ow, kernelHeight, kernelWidth,
                                       strideHeight, strideWidth, dilationHeight, dilationWidth, padTop, padLeft)
        }
        let chunk = columnChunkBlocks == 0 ? nc : columnChunkBlocks * nr
        indirection.withUnsafeBufferPointer { ind in
            for b in 0..<batch {
                for g in 0..<groups {
                    let aOffset = b * inputHeight * inputWidth * cin + g * kc
                    for n0 in stride(from: 0, to: nc, by: chunk) {
                        let w = UnsafeRawPointer(packed.pointer) + g * groupStride + (n0 / nr) * blockSize
                        for p0 in stride(from: 0, to: pixels, by: mr) {
                            let m = min(mr, pixels - p0)
                            let c = output.pointer + (b * pixels + p0) * cout + g * nc + n0
                            if useGemm {
                                let a = UnsafePointer(input.pointer) + aOffset + p0 * cin
                                uk.gemm!(m, min(chunk, nc - n0), kc, a, cin, w, c, cout, &params)
                            } else {
                                uk.igemm!(m, min(chunk, nc - n0), kc, ks, ind.baseAddress! + p0 * ks, w, c, cout,
                                          aOffset, UnsafePointer(zero.pointer), &params)
                            }
                        }
                    }
                }
            }
        }
        withExtendedLifetime((input, zero, packed)) {}
        return output.bytes
    }

    /// The stem path: one im2col row per output pixel (filled in two ranges, as two threads would), then GEMM.
    func runIm2col(_ isa: ISA, _ p: Problem) -> [Int8] {
        let uk = isa.kernels.gemm
        let mr = Int(uk.mr)
        let oh = outputHeight, ow = outputWidth, pixels = oh * ow
        let ks = kernelHeight * kernelWidth
        let cin = groups * groupInputChannels, cout = groups * groupOutputChannels
        let kc = ks * groupInputChannels, nc = groupOutputChannels
        let packed = packGemm(uk, groups: groups, n: nc, ks: 1, k: kc, inputZeroPoint: inputZeroPoint,
                              weights: p.weights, bias: p.bias, requant: p.requant)
        let groupStride = (nc + Int(uk.nr) - 1) / Int(uk.nr) * ck_pack_qs8_qc8w_gemm_block_size(uk.nr, uk.kr, 1, kc)
        let input = GuardedBuffer(p.input)
        let rowStride = kc + 5
        let matrix = GuardedBuffer(count: (pixels - 1) * rowStride + kc)
        let output = GuardedBuffer(count: batch * pixels * cout)
        var params = makeParams(zeroPoint: outputZeroPoint, min: qmin, max: qmax)
        for b in 0..<batch {
            for g in 0..<groups {
                let image = UnsafePointer(input.pointer) + b * inputHeight * inputWidth * cin + g * groupInputChannels
                for (start, end) in [(0, pixels / 2), (pixels / 2, pixels)] {
                    ck_im2col_conv2d(matrix.pointer, rowStride, image, cin, groupInputChannels, Int8(inputZeroPoint),
                                     inputHeight, inputWidth, oh, ow, kernelHeight, kernelWidth, strideHeight, strideWidth,
                                     dilationHeight, dilationWidth, padTop, padLeft, start, end)
                }
                for p0 in stride(from: 0, to: pixels, by: mr) {
                    uk.gemm!(min(mr, pixels - p0), nc, kc, UnsafePointer(matrix.pointer) + p0 * rowStride, rowStride,
                             UnsafeRawPointer(packed.pointer) + g * groupStride,
                             output.pointer + (b * pixels + p0) * cout + g * nc, cout, &params)
                }
            }
        }
        withExtendedLifetime((input, matrix, packed)) {}
        return output.bytes
    }

    func check(_ isa: ISA) -> String? {
        let p = makeProblem()
        if let diff = firstMismatch(run(isa, p), reference(p)) {
            return "\(isa) \(self): \(diff)"
        }
        return nil
    }
}
