import EdgeGraph

/// Max or average pooling over NHWC, one output row per task; channels are the inner loop.
struct PoolingFP32Kernel: Kernel {
    enum Mode { case max, average(countIncludePad: Bool) }
    let mode: Mode
    let window: ResolvedWindow
    let batch: Int, channels: Int
    let input: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>

    func run(pool: ThreadPool) {
        let w = window, win = w.window, channels = self.channels, mode = self.mode
        let input = self.input, output = self.output
        pool.parallelFor(batch * w.outputHeight) { range in
            for row in range {
                let n = row / w.outputHeight, oy = row % w.outputHeight
                for ox in 0..<w.outputWidth {
                    let out = output + ((n * w.outputHeight + oy) * w.outputWidth + ox) * channels
                    switch mode {
                    case .max: out.update(repeating: -.infinity, count: channels)
                    case .average: out.update(repeating: 0, count: channels)
                    }
                    var valid = 0, padded = 0
                    for ky in 0..<win.kernelHeight {
                        let iy = oy * win.strideHeight - w.padTop + ky * win.dilationHeight
                        for kx in 0..<win.kernelWidth {
                            let ix = ox * win.strideWidth - w.padLeft + kx * win.dilationWidth
                            // count_include_pad counts the explicit padding, not what ceil mode hangs past it.
                            if iy < w.inputHeight + w.padBottom && ix < w.inputWidth + w.padRight { padded += 1 }
                            guard iy >= 0 && iy < w.inputHeight && ix >= 0 && ix < w.inputWidth else { continue }
                            valid += 1
                            let src = input + ((n * w.inputHeight + iy) * w.inputWidth + ix) * channels
                            switch mode {
                            case .max: for c in 0..<channels { out[c] = Swift.max(out[c], src[c]) }
                            case .average: for c in 0..<channels { out[c] += src[c] }
                            }
                        }
                    }
                    if case .average(let includePad) = mode {
                        let divisor = Float(includePad ? padded : Swift.max(valid, 1))
                        for c in 0..<channels { out[c] /= divisor }
                    }
                }
            }
        }
    }
}

/// Mean over all pixels of each image and channel: NHWC [N, HW, C] -> [N, C].
struct GlobalAveragePoolFP32Kernel: Kernel {
    let batch: Int, pixels: Int, channels: Int
    let input: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>

    func run(pool: ThreadPool) {
        let pixels = self.pixels, channels = self.channels, input = self.input, output = self.output
        let scale = 1 / Float(pixels)
        pool.parallelFor(batch) { range in
            for n in range {
                let out = output + n * channels
                out.update(repeating: 0, count: channels)
                for p in 0..<pixels {
                    let src = input + (n * pixels + p) * channels
                    for c in 0..<channels { out[c] += src[c] }
                }
                for c in 0..<channels { out[c] *= scale }
            }
        }
    }
}
