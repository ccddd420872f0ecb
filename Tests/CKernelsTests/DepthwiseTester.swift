// Reusable tester for qs8-qc8w-dwconv: a depthwise convolution (depth multiplier 1) through the
// indirection builder, called the way the runtime would (whole rows of output pixels per call),
// checked against a direct depthwise convolution. Input and zero buffer end at guard pages.
import CKernels

struct DepthwiseTester {
    var batch = 1
    var inputHeight = 6
    var inputWidth = 6
    var channels = 16
    var kernelHeight = 3
    var kernelWidth = 3
    var strideHeight = 1
    var strideWidth = 1
    var dilationHeight = 1
    var dilationWidth = 1
    var padTop = 1
    var padLeft = 1
    var padBottom = 1
    var padRight = 1
    var inputZeroPoint: Int32 = 7
    var outputZeroPoint: Int32 = -9
    var qmin: Int32 = -128
    var qmax: Int32 = 127
    var outputPixelStride = 0      // 0: channels
    var extremes = false
    var scales = ScaleMode.typical
    var seed: UInt64 = 1

    var outputHeight: Int { ck_conv_output_size(inputHeight, kernelHeight, strideHeight, dilationHeight, padTop, padBottom) }
    var outputWidth: Int { ck_conv_output_size(inputWidth, kernelWidth, strideWidth, dilationWidth, padLeft, padRight) }
    var stride: Int { outputPixelStride == 0 ? channels : outputPixelStride }

    func check(_ isa: ISA) -> String? {
        var rng = Rng(seed: seed &+ UInt64(channels * 131 + kernelHeight))
        let ks = kernelHeight * kernelWidth
        let input = (0..<(batch * inputHeight * inputWidth * channels)).map { _ in
            extremes ? (rng.bool() ? Int8(127) : Int8(-128)) : rng.int8()
        }
        let weights = (0..<(channels * ks)).map { _ in extremes ? (rng.bool() ? Int8(127) : Int8(-127)) : rng.int8(-127...127) }
        let bias = (0..<channels).map { _ in Int32(rng.int(-30000...30000)) }
        let requant = makeScales(&rng, count: channels, depth: ks, mode: scales).map { CKernelsTests.requant($0) }
        let oh = outputHeight, ow = outputWidth, os = stride

        // Reference.
        var expected = [Int8](repeating: 0, count: batch * oh * ow * channels)
        for b in 0..<batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for c in 0..<channels {
                        var acc = bias[c]
                        for ky in 0..<kernelHeight {
                            let iy = oy * strideHeight + ky * dilationHeight - padTop
                            guard iy >= 0 && iy < inputHeight else { continue }
                            for kx in 0..<kernelWidth {
                                let ix = ox * strideWidth + kx * dilationWidth - padLeft
                                guard ix >= 0 && ix < inputWidth else { continue }
                                let x = Int32(input[((b * inputHeight + iy) * inputWidth + ix) * channels + c])
                                acc = acc &+ (x - inputZeroPoint) &* Int32(weights[c * ks + ky * kernelWidth + kx])
                            }
                        }
                        expected[((b * oh + oy) * ow + ox) * channels + c] =
                            referenceRequantize(acc, requant[c], zeroPoint: outputZeroPoint, min: qmin, max: qmax)
                    }
                }
            }
        }

        // Kernel.
        let uk = isa.kernels.dwconv
        let packedSize = ck_pack_qs8_qc8w_dwconv_size(uk.cr, channels, ks)
        let packed = GuardedBuffer(count: packedSize)
        let status = weights.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { bb in
                requant.withUnsafeBufferPointer { r in
                    ck_pack_qs8_qc8w_dwconv(uk.cr, channels, ks, inputZeroPoint, w.baseAddress, bb.baseAddress,
                                            r.baseAddress, UnsafeMutableRawPointer(packed.pointer))
                }
            }
        }
        guard status == CK_OK else { return "\(isa): pack failed \(status)" }
        let inputBuffer = GuardedBuffer(input)
        let zero = GuardedBuffer([Int8](repeating: Int8(inputZeroPoint), count: channels))
        let outCount = (batch * oh * ow - 1) * os + channels
        let output = GuardedBuffer(count: outCount)
        for i in 0..<outCount { output[i] = 0x55 }
        var params = makeParams(zeroPoint: outputZeroPoint, min: qmin, max: qmax)
        var ind = [UnsafePointer<Int8>?](repeating: nil, count: oh * ow * ks)
        ind.withUnsafeMutableBufferPointer {
            ck_indirection_init_conv2d($0.baseAddress, UnsafePointer(inputBuffer.pointer), channels,
                                       UnsafePointer(zero.pointer), inputHeight, inputWidth, oh, ow,
                                       kernelHeight, kernelWidth, strideHeight, strideWidth,
                                       dilationHeight, dilationWidth, padTop, padLeft)
        }
        ind.withUnsafeBufferPointer { ip in
            for b in 0..<batch {
                for oy in 0..<oh {  // one call per output row
                    uk.fn!(channels, ow, ks, ip.baseAddress! + oy * ow * ks, b * inputHeight * inputWidth * channels,
                           UnsafePointer(zero.pointer), UnsafeRawPointer(packed.pointer),
                           output.pointer + (b * oh + oy) * ow * os, os, &params)
                }
            }
        }
        var got = [Int8](repeating: 0, count: expected.count)
        for p in 0..<(batch * oh * ow) {
            for c in 0..<channels { got[p * channels + c] = output[p * os + c] }
            if p + 1 < batch * oh * ow {
                for c in channels..<os where output[p * os + c] != 0x55 {
                    return "\(isa) \(self): wrote outside pixel \(p) at channel \(c)"
                }
            }
        }
        withExtendedLifetime((inputBuffer, zero, packed)) {}
        if let diff = firstMismatch(got, expected) { return "\(isa) \(self): \(diff)" }
        return nil
    }
}
