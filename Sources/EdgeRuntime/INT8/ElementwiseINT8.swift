import CKernels
import EdgeGraph

/// The residual Add on int8 tensors with their own scales (qs8-vadd), fused clamp; stays int8.
struct AddINT8Kernel: Kernel {
    let function: ck_qs8_vadd_fn
    let params: UnsafeMutablePointer<ck_qs8_add_params>
    let count: Int
    let a: UnsafeMutablePointer<Int8>, b: UnsafeMutablePointer<Int8>
    let output: UnsafeMutablePointer<Int8>

    /// The parameters for a node, checked once per session.
    static func parameters(_ node: Node, activation: Activation, a: QuantizationParameters, b: QuantizationParameters,
                           output: QuantizationParameters) throws -> ck_qs8_add_params {
        try checkZeroPoint(node, a, "first input")
        try checkZeroPoint(node, b, "second input")
        try checkZeroPoint(node, output, "output")
        let bounds = int8Bounds(activation, output)
        var params = ck_qs8_add_params()
        let status = ck_qs8_add_params_init(&params, a.zeroPoint, Double(a.scale), b.zeroPoint, Double(b.scale),
                                            output.zeroPoint, Double(output.scale), bounds.min, bounds.max)
        guard status == CK_OK else {
            throw int8Error(node, "the input/output scale ratios \(Double(a.scale) / Double(output.scale)) and \(Double(b.scale) / Double(output.scale)) are outside what qs8-vadd represents (the larger must be in [2^-10, 256))")
        }
        return params
    }

    func run(pool: ThreadPool) {
        let function = self.function, params = UnsafePointer(self.params)
        let a = self.a, b = self.b, output = self.output
        // Blocks of 64 elements: whole vectors for every variant; any split gives the same bytes.
        pool.parallelFor(count, grain: 16384, multipleOf: 64) { range in
            function(range.count, a + range.lowerBound, b + range.lowerBound, output + range.lowerBound, params)
        }
    }
}

/// Max pooling on int8 (s8-maxpool over an indirection buffer padded with -128); same parameters in and out.
struct MaxPoolINT8Kernel: Kernel {
    let function: ck_s8_maxpool_fn
    let window: ResolvedWindow
    let batch: Int, channels: Int
    let input: UnsafeMutablePointer<Int8>, output: UnsafeMutablePointer<Int8>
    let indirection: UnsafeMutablePointer<UnsafePointer<Int8>?>
    let pad: UnsafePointer<Int8>

    init(function: ck_s8_maxpool_fn, window: ResolvedWindow, batch: Int, channels: Int, input: UnsafeMutablePointer<Int8>,
         output: UnsafeMutablePointer<Int8>, indirection: UnsafeMutablePointer<UnsafePointer<Int8>?>, pad: UnsafePointer<Int8>) {
        self.function = function
        self.window = window
        self.batch = batch
        self.channels = channels
        self.input = input
        self.output = output
        self.indirection = indirection
        self.pad = pad
        let w = window, win = w.window
        ck_indirection_init_conv2d(indirection, UnsafePointer(input), channels, pad, w.inputHeight, w.inputWidth,
                                   w.outputHeight, w.outputWidth, win.kernelHeight, win.kernelWidth,
                                   win.strideHeight, win.strideWidth, win.dilationHeight, win.dilationWidth, w.padTop, w.padLeft)
    }

    static func indirectionCount(_ window: ResolvedWindow) -> Int {
        window.outputHeight * window.outputWidth * window.window.kernelHeight * window.window.kernelWidth
    }

    func run(pool: ThreadPool) {
        let w = window, ks = w.window.kernelHeight * w.window.kernelWidth
        let pixels = w.outputHeight * w.outputWidth, channels = self.channels
        let imageBytes = w.inputHeight * w.inputWidth * channels
        let chunk = max(1, min(pixels, 8192 / max(channels, 1)))
        let chunks = (pixels + chunk - 1) / chunk
        let function = self.function, indirection = self.indirection, output = self.output, pad = self.pad
        pool.forEachChunk(batch * chunks) { _, range in
            for index in range {
                let image = index / chunks, p0 = (index % chunks) * chunk
                function(channels, min(chunk, pixels - p0), ks, indirection + p0 * ks, image * imageBytes, pad,
                         output + (image * pixels + p0) * channels, channels, -128, 127)
            }
        }
    }
}

/// Global average pooling on int8 with requantization to the output's parameters (qs8-gavgpool).
struct GlobalAveragePoolINT8Kernel: Kernel {
    let function: ck_qs8_gavgpool_fn
    let params: ck_qs8_gavgpool_params
    let batch: Int, pixels: Int, channels: Int
    let input: UnsafeMutablePointer<Int8>, output: UnsafeMutablePointer<Int8>

    init(node: Node, function: ck_qs8_gavgpool_fn, batch: Int, pixels: Int, channels: Int, inputQuantization: QuantizationParameters,
         outputQuantization: QuantizationParameters, input: UnsafeMutablePointer<Int8>, output: UnsafeMutablePointer<Int8>) throws {
        try checkZeroPoint(node, inputQuantization, "input")
        try checkZeroPoint(node, outputQuantization, "output")
        var params = ck_qs8_gavgpool_params()
        let status = ck_qs8_gavgpool_params_init(&params, pixels, inputQuantization.zeroPoint, Double(inputQuantization.scale),
                                                 outputQuantization.zeroPoint, Double(outputQuantization.scale), -128, 127)
        guard status == CK_OK else {
            throw int8Error(node, pixels > 1 << 23 ? "\(pixels) pixels per channel exceed the kernel's 2^23"
                            : "the requantization scale \(Double(inputQuantization.scale) / (Double(outputQuantization.scale) * Double(pixels))) is outside [0, 256)")
        }
        self.function = function
        self.params = params
        self.batch = batch
        self.pixels = pixels
        self.channels = channels
        self.input = input
        self.output = output
    }

    func run(pool: ThreadPool) {
        let function = self.function, pixels = self.pixels, channels = self.channels
        let input = self.input, output = self.output
        withUnsafePointer(to: params) { params in
            // Channel blocks are independent reductions: split them (and images), never the pixels.
            let blocks = (channels + 63) / 64
            let work = pool.threadCount > 1 && pixels * channels * batch >= 32768 ? batch * blocks : batch
            pool.forEachChunk(work) { _, range in
                for index in range {
                    if work == batch {
                        function(pixels, channels, input + index * pixels * channels, channels, output + index * channels, params)
                    } else {
                        let n = index / blocks, c0 = (index % blocks) * 64, c1 = min(channels, c0 + 64)
                        function(pixels, c1 - c0, input + n * pixels * channels + c0, channels, output + n * channels + c0, params)
                    }
                }
            }
        }
    }
}

/// float -> int8 as onnxruntime's QuantizeLinear: round half to even, saturate. With `fakeQuantize`, the
/// float buffer is also overwritten with the dequantized values (what FP32 consumers of a quantized value read).
struct QuantizeKernel: Kernel {
    let count: Int
    let parameters: QuantizationParameters
    let input: UnsafeMutablePointer<Float>
    /// Nil: only fake-quantize `input` in place.
    let output: UnsafeMutablePointer<Int8>?
    let fakeQuantize: Bool

    func run(pool: ThreadPool) {
        let scale = parameters.scale, zeroPoint = parameters.zeroPoint
        let input = self.input, output = self.output, fake = fakeQuantize
        pool.parallelFor(count, grain: 65536, multipleOf: 256) { range in
            let begin = range.lowerBound, end = range.upperBound
            if let output {
                Self.quantize(input + begin, output + begin, end - begin, scale: scale, zeroPoint: zeroPoint)
                if fake { Self.dequantize(output + begin, input + begin, end - begin, scale: scale, zeroPoint: zeroPoint) }
            } else {
                Self.fakeQuantize(input + begin, end - begin, scale: scale, zeroPoint: zeroPoint)
            }
        }
    }

    /// Equal to `QuantizationParameters.quantize` element by element: x / scale, rounded half to even by the
    /// 1.5 * 2^23 trick (exact for |v| <= 2^22; v is clamped to +-512 first, beyond which both saturate), then
    /// + zero point, saturated. NaN saturates to -128. Written so the loop vectorises.
    @inline(__always)
    static func quantize(_ x: UnsafePointer<Float>, _ q: UnsafeMutablePointer<Int8>, _ n: Int, scale: Float, zeroPoint: Int32) {
        // v + 1.5 * 2^23 rounds v to an integer (half to even) held in the low mantissa bits: its bit
        // pattern minus that of 1.5 * 2^23 is the integer, with no float-to-int conversion to trap.
        let magic: Float = 12_582_912
        let bias = Int32(bitPattern: magic.bitPattern) - zeroPoint
        for i in 0..<n {
            var v = x[i] / scale
            v = v > -512 ? v : -512
            v = v < 512 ? v : 512
            let r = Int32(bitPattern: (v + magic).bitPattern) &- bias
            q[i] = Int8(truncatingIfNeeded: Swift.min(Swift.max(r, -128), 127))
        }
    }

    /// scale * (q - zero point), 16 at a time (the plain loop was not vectorised: 0.7 ns an element); exact, as
    /// (q - zero point) is a small integer and there is one rounding, the multiply's.
    @inline(__always)
    static func dequantize(_ q: UnsafePointer<Int8>, _ x: UnsafeMutablePointer<Float>, _ n: Int, scale: Float, zeroPoint: Int32) {
        let sv = SIMD16<Float>(repeating: scale), zv = SIMD16<Int32>(repeating: zeroPoint)
        var i = 0
        while i + 16 <= n {
            let v = SIMD16<Int32>(truncatingIfNeeded: UnsafeRawPointer(q + i).loadUnaligned(as: SIMD16<Int8>.self)) &- zv
            UnsafeMutableRawPointer(x + i).storeBytes(of: sv * SIMD16<Float>(v), as: SIMD16<Float>.self)
            i += 16
        }
        while i < n { x[i] = scale * Float(Int32(q[i]) - zeroPoint); i += 1 }
    }

    static func fakeQuantize(_ x: UnsafeMutablePointer<Float>, _ n: Int, scale: Float, zeroPoint: Int32) {
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { tmp in
            var i = 0
            while i < n {
                let m = Swift.min(256, n - i)
                quantize(x + i, tmp.baseAddress!, m, scale: scale, zeroPoint: zeroPoint)
                dequantize(tmp.baseAddress!, x + i, m, scale: scale, zeroPoint: zeroPoint)
                i += m
            }
        }
    }
}

/// int8 -> float: scale * (q - zero point), as DequantizeLinear.
struct DequantizeKernel: Kernel {
    let count: Int
    let parameters: QuantizationParameters
    let input: UnsafeMutablePointer<Int8>
    let output: UnsafeMutablePointer<Float>

    func run(pool: ThreadPool) {
        let scale = parameters.scale, zeroPoint = parameters.zeroPoint, input = self.input, output = self.output
        pool.parallelFor(count, grain: 65536) { range in
            QuantizeKernel.dequantize(input + range.lowerBound, output + range.lowerBound, range.count, scale: scale, zeroPoint: zeroPoint)
        }
    }
}
