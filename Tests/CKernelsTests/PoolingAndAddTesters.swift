// Testers for s8-maxpool, qs8-gavgpool and qs8-vadd: each variant against the definition.
import CKernels
import Foundation

struct MaxPoolTester {
    var inputHeight = 7
    var inputWidth = 7
    var channels = 16
    var kernelHeight = 3
    var kernelWidth = 3
    var strideHeight = 2
    var strideWidth = 2
    var dilationHeight = 1
    var dilationWidth = 1
    var padTop = 1
    var padLeft = 1
    var padBottom = 1
    var padRight = 1
    var qmin: Int8 = -128
    var qmax: Int8 = 127
    var seed: UInt64 = 1

    func check(_ isa: ISA) -> String? {
        var rng = Rng(seed: seed &+ UInt64(channels))
        let oh = ck_conv_output_size(inputHeight, kernelHeight, strideHeight, dilationHeight, padTop, padBottom)
        let ow = ck_conv_output_size(inputWidth, kernelWidth, strideWidth, dilationWidth, padLeft, padRight)
        let ks = kernelHeight * kernelWidth
        // Mostly negative inputs, so a padding value other than "ignored" (e.g. 0) would show.
        let input = (0..<(inputHeight * inputWidth * channels)).map { _ in rng.bool(0.8) ? rng.int8(-128 ... -1) : rng.int8() }
        var expected = [Int8](repeating: 0, count: oh * ow * channels)
        for oy in 0..<oh {
            for ox in 0..<ow {
                for c in 0..<channels {
                    var m: Int8? = nil
                    for ky in 0..<kernelHeight {
                        let iy = oy * strideHeight + ky * dilationHeight - padTop
                        guard iy >= 0 && iy < inputHeight else { continue }
                        for kx in 0..<kernelWidth {
                            let ix = ox * strideWidth + kx * dilationWidth - padLeft
                            guard ix >= 0 && ix < inputWidth else { continue }
                            let v = input[(iy * inputWidth + ix) * channels + c]
                            m = max(m ?? v, v)
                        }
                    }
                    expected[(oy * ow + ox) * channels + c] = min(max(m ?? -128, qmin), qmax)
                }
            }
        }
        let inBuf = GuardedBuffer(input)
        let pad = GuardedBuffer([Int8](repeating: -128, count: channels))
        let output = GuardedBuffer(count: oh * ow * channels)
        var ind = [UnsafePointer<Int8>?](repeating: nil, count: oh * ow * ks)
        ind.withUnsafeMutableBufferPointer {
            ck_indirection_init_conv2d($0.baseAddress, UnsafePointer(inBuf.pointer), channels, UnsafePointer(pad.pointer),
                                       inputHeight, inputWidth, oh, ow, kernelHeight, kernelWidth,
                                       strideHeight, strideWidth, dilationHeight, dilationWidth, padTop, padLeft)
        }
        let uk = isa.kernels.maxpool
        ind.withUnsafeBufferPointer { ip in
            uk.fn!(channels, oh * ow, ks, ip.baseAddress, 0, UnsafePointer(pad.pointer), output.pointer, channels, qmin, qmax)
        }
        withExtendedLifetime((inBuf, pad)) {}
        if let diff = firstMismatch(output.bytes, expected) { return "\(isa) \(self): \(diff)" }
        return nil
    }
}

struct GlobalAveragePoolTester {
    var rows = 49
    var channels = 16
    var inputStride = 0        // 0: channels
    var inputZeroPoint: Int32 = -5
    var inputScale = 0.05
    var outputZeroPoint: Int32 = 3
    var outputScale = 0.02
    var qmin: Int32 = -128
    var qmax: Int32 = 127
    var extremes = false
    var seed: UInt64 = 1

    func check(_ isa: ISA) -> String? {
        var rng = Rng(seed: seed &+ UInt64(rows * 1000 + channels))
        let stride = inputStride == 0 ? channels : inputStride
        let count = (rows - 1) * stride + channels
        let input = (0..<count).map { _ in extremes ? (rng.bool() ? Int8(127) : Int8(-128)) : rng.int8() }
        var params = ck_qs8_gavgpool_params()
        let status = ck_qs8_gavgpool_params_init(&params, rows, inputZeroPoint, inputScale, outputZeroPoint,
                                                 outputScale, qmin, qmax)
        guard status == CK_OK else { return "params rejected: \(status)" }
        var expected = [Int8](repeating: 0, count: channels)
        for c in 0..<channels {
            var acc = -Int32(rows) * inputZeroPoint
            for r in 0..<rows { acc += Int32(input[r * stride + c]) }
            expected[c] = referenceRequantize(acc, params.requant, zeroPoint: outputZeroPoint, min: qmin, max: qmax)
            // The integer result is within 1 of the real-valued average (scale rounding included).
            let real = Double(acc) * inputScale / (outputScale * Double(rows)) + Double(outputZeroPoint)
            let clamped = min(max(real.rounded(), Double(qmin)), Double(qmax))
            if abs(Double(expected[c]) - clamped) > 1 { return "definition drifts from the real average: \(expected[c]) vs \(real)" }
        }
        let inBuf = GuardedBuffer(input)
        let output = GuardedBuffer(count: channels)
        isa.kernels.gavgpool.fn!(rows, channels, UnsafePointer(inBuf.pointer), stride, output.pointer, &params)
        withExtendedLifetime(inBuf) {}
        if let diff = firstMismatch(output.bytes, expected) { return "\(isa) \(self): \(diff)" }
        return nil
    }
}

struct AddTester {
    var n = 16
    var aZeroPoint: Int32 = -3
    var aScale = 0.04
    var bZeroPoint: Int32 = 10
    var bScale = 0.07
    var outputZeroPoint: Int32 = -20
    var outputScale = 0.09
    var qmin: Int32 = -128
    var qmax: Int32 = 127
    var inPlace = false
    var extremes = false
    var seed: UInt64 = 1

    func check(_ isa: ISA) -> String? {
        var rng = Rng(seed: seed &+ UInt64(n))
        let a = (0..<n).map { _ in extremes ? (rng.bool() ? Int8(127) : Int8(-128)) : rng.int8() }
        let b = (0..<n).map { _ in extremes ? (rng.bool() ? Int8(127) : Int8(-128)) : rng.int8() }
        var params = ck_qs8_add_params()
        let status = ck_qs8_add_params_init(&params, aZeroPoint, aScale, bZeroPoint, bScale, outputZeroPoint,
                                            outputScale, qmin, qmax)
        guard status == CK_OK else { return "params rejected: \(status)" }
        var expected = [Int8](repeating: 0, count: n)
        for i in 0..<n {
            // The definition, restated.
            let acc = Int64(params.bias) + Int64(a[i]) * Int64(params.a_multiplier) + Int64(b[i]) * Int64(params.b_multiplier)
            let y = ((acc + (Int64(1) << (Int64(params.shift) - 1))) >> Int64(params.shift)) + Int64(outputZeroPoint)
            expected[i] = Int8(min(max(y, Int64(qmin)), Int64(qmax)))
            let real = (aScale * Double(Int32(a[i]) - aZeroPoint) + bScale * Double(Int32(b[i]) - bZeroPoint)) / outputScale
                + Double(outputZeroPoint)
            let clamped = min(max(real.rounded(), Double(qmin)), Double(qmax))
            if abs(Double(expected[i]) - clamped) > 1 { return "definition drifts from the real sum: \(expected[i]) vs \(real)" }
        }
        let aBuf = GuardedBuffer(a), bBuf = GuardedBuffer(b)
        let fn = isa.kernels.vadd.fn!
        let got: [Int8]
        if inPlace {
            fn(n, UnsafePointer(aBuf.pointer), UnsafePointer(bBuf.pointer), aBuf.pointer, &params)
            got = aBuf.bytes
        } else {
            let y = GuardedBuffer(count: n)
            fn(n, UnsafePointer(aBuf.pointer), UnsafePointer(bBuf.pointer), y.pointer, &params)
            got = y.bytes
        }
        if let diff = firstMismatch(got, expected) { return "\(isa) \(self): \(diff)" }
        return nil
    }
}
