import CKernels
import EdgeGraph

/// Output tiles of a GEMM-shaped INT8 layer: mr rows x `columnTile` columns, enumerated column-block
/// major (a tile's packed weights are reused by every row tile that follows, and threads taking consecutive
/// tiles share them in the cache), handed to the threads one at a time (`ThreadPool.forEachChunk`). Every
/// output element is computed whole by one micro-kernel call, so any split gives the same bytes.
struct GemmTiling {
    let mr: Int
    let groups: Int
    let images: Int
    /// Rows per image (output pixels), or all rows when the layer is one plain GEMM.
    let rows: Int
    let columns: Int        // per group
    let columnTile: Int
    var rowTiles: Int { (rows + mr - 1) / mr }
    var columnTiles: Int { (columns + columnTile - 1) / columnTile }
    var count: Int { groups * columnTiles * images * rowTiles }

    /// (group, first column, image, first row) of tile `index`.
    @inline(__always) func tile(_ index: Int) -> (g: Int, n0: Int, image: Int, m0: Int) {
        let mt = index % rowTiles
        var rest = index / rowTiles
        let image = rest % images
        rest /= images
        let nt = rest % columnTiles
        return (rest / columnTiles, nt * columnTile, image, mt * mr)
    }
}

/// A quantized convolution bound to its buffers for one set of shapes (see `PackedConvolutionINT8`).
struct ConvolutionINT8Kernel: Kernel {
    let packed: PackedConvolutionINT8
    let window: ResolvedWindow
    let batch: Int
    let input: UnsafeMutablePointer<Int8>
    let output: UnsafeMutablePointer<Int8>
    /// IGEMM and depthwise: one pointer per (output pixel, tap) of image 0 (ck-indirection.h).
    let indirection: UnsafeMutablePointer<UnsafePointer<Int8>?>?
    /// im2col: per-thread rows of `im2colRowStride` bytes, `im2colRows` rows each.
    let scratch: UnsafeMutableRawPointer?
    let tiling: GemmTiling?

    static let im2colChunkTiles = 8

    /// The indirection entries this layer needs for these shapes (0 for GEMM and im2col).
    static func indirectionCount(_ packed: PackedConvolutionINT8, _ window: ResolvedWindow) -> Int {
        switch packed.mode {
        case .igemm, .depthwise: return window.outputHeight * window.outputWidth * window.window.kernelHeight * window.window.kernelWidth
        case .gemm, .im2col: return 0
        }
    }

    /// im2col scratch bytes per thread.
    static func scratchBytesPerThread(_ packed: PackedConvolutionINT8) -> Int {
        guard packed.mode == .im2col, let g = packed.gemm else { return 0 }
        return g.mr * im2colChunkTiles * rowStride(g)
    }

    static func rowStride(_ g: PackedGemmINT8) -> Int { (g.kc + 15) / 16 * 16 }

    init(packed: PackedConvolutionINT8, window: ResolvedWindow, batch: Int, input: UnsafeMutablePointer<Int8>,
         output: UnsafeMutablePointer<Int8>, indirection: UnsafeMutablePointer<UnsafePointer<Int8>?>?,
         scratch: UnsafeMutableRawPointer?, threads: Int) {
        self.packed = packed
        self.window = window
        self.batch = batch
        self.input = input
        self.output = output
        self.indirection = indirection
        self.scratch = scratch
        let pixels = window.outputHeight * window.outputWidth
        if let g = packed.gemm {
            switch packed.mode {
            case .gemm:
                tiling = GemmTiling(mr: g.mr, groups: 1, images: 1, rows: batch * pixels, columns: g.nc,
                                    columnTile: g.columnTile(rows: batch * pixels, threads: threads))
            case .im2col:
                // Tiles are chunks of rows that share one im2col fill, with every column.
                tiling = GemmTiling(mr: g.mr * Self.im2colChunkTiles, groups: 1, images: batch, rows: pixels, columns: g.nc,
                                    columnTile: (g.nc + g.nr - 1) / g.nr * g.nr)
            default:
                tiling = GemmTiling(mr: g.mr, groups: g.groups, images: batch, rows: pixels, columns: g.nc,
                                    columnTile: g.columnTile(rows: batch * pixels, threads: threads))
            }
        } else {
            tiling = nil
        }
        if let indirection {
            let w = window, win = w.window
            ck_indirection_init_conv2d(indirection, UnsafePointer(input), packed.conv.inputChannels, UnsafePointer(packed.zero.int8),
                                       w.inputHeight, w.inputWidth, w.outputHeight, w.outputWidth,
                                       win.kernelHeight, win.kernelWidth, win.strideHeight, win.strideWidth,
                                       win.dilationHeight, win.dilationWidth, w.padTop, w.padLeft)
        }
    }

    func run(pool: ThreadPool) {
        switch packed.mode {
        case .gemm: runGemm(pool)
        case .im2col: runIm2col(pool)
        case .igemm: runIgemm(pool)
        case .depthwise: runDepthwise(pool)
        }
    }

    private func runGemm(_ pool: ThreadPool) {
        let g = packed.gemm!, t = tiling!
        let cin = packed.conv.inputChannels, cout = packed.conv.outputChannels
        let input = self.input, output = self.output
        pool.forEachChunk(t.count) { _, range in
            for index in range {
                let (_, n0, _, m0) = t.tile(index)
                g.gemm(min(g.mr, t.rows - m0), min(t.columnTile, g.nc - n0), g.kc, input + m0 * cin, cin,
                       g.weights(group: 0, column: n0), output + m0 * cout + n0, cout, g.params)
            }
        }
    }

    private func runIgemm(_ pool: ThreadPool) {
        let g = packed.gemm!, t = tiling!
        let cin = packed.conv.inputChannels, cout = packed.conv.outputChannels
        let imageBytes = window.inputHeight * window.inputWidth * cin
        let pixels = t.rows
        let indirection = self.indirection!, output = self.output, zero = UnsafePointer(packed.zero.int8)
        pool.forEachChunk(t.count) { _, range in
            for index in range {
                let (group, n0, image, m0) = t.tile(index)
                g.igemm(min(g.mr, pixels - m0), min(t.columnTile, g.nc - n0), g.kc, g.ks,
                        indirection + m0 * g.ks, g.weights(group: group, column: n0),
                        output + (image * pixels + m0) * cout + group * g.nc + n0, cout,
                        image * imageBytes + group * g.kc, zero, g.params)
            }
        }
    }

    private func runIm2col(_ pool: ThreadPool) {
        let g = packed.gemm!, t = tiling!
        let w = window, win = w.window
        let cin = packed.conv.inputChannels, cout = packed.conv.outputChannels
        let imageBytes = w.inputHeight * w.inputWidth * cin
        let stride = Self.rowStride(g), chunk = t.mr, pixels = t.rows
        let perThread = Self.scratchBytesPerThread(packed)
        let input = self.input, output = self.output, scratch = self.scratch!
        // The GEMM runs K rounded up to its kr: the packer zero-filled those weights, so whatever the row's
        // spare bytes hold adds 0, and the kernel takes its full-width loads instead of the partial-k tail.
        let kc = min((g.kc + g.kr - 1) / g.kr * g.kr, stride)
        pool.forEachChunk(t.count) { thread, range in
            let rows = (scratch + thread * perThread).assumingMemoryBound(to: Int8.self)
            for index in range {
                let (_, _, image, p0) = t.tile(index)
                let p1 = min(p0 + chunk, pixels)
                // Rows are written at (p - p0) * stride: shift the base so pixel p0 lands on row 0.
                ck_im2col_conv2d(rows - p0 * stride, stride, UnsafePointer(input + image * imageBytes), cin, cin, g.inputZeroPoint,
                                 w.inputHeight, w.inputWidth, w.outputHeight, w.outputWidth,
                                 win.kernelHeight, win.kernelWidth, win.strideHeight, win.strideWidth,
                                 win.dilationHeight, win.dilationWidth, w.padTop, w.padLeft, p0, p1)
                var m = p0
                while m < p1 {
                    g.gemm(min(g.mr, p1 - m), g.nc, kc, UnsafePointer(rows + (m - p0) * stride), stride,
                           g.weights(group: 0, column: 0), output + (image * pixels + m) * cout, cout, g.params)
                    m += g.mr
                }
            }
        }
    }

    private func runDepthwise(_ pool: ThreadPool) {
        let d = packed.depthwise!
        let w = window
        let channels = d.channels, ks = d.ks
        let pixels = w.outputHeight * w.outputWidth
        let imageBytes = w.inputHeight * w.inputWidth * channels
        let chunk = max(1, min(pixels, 4096 / max(channels, 1)))
        let chunks = (pixels + chunk - 1) / chunk
        let indirection = self.indirection!, output = self.output, zero = UnsafePointer(packed.zero.int8)
        let weights = d.pointer
        pool.forEachChunk(batch * chunks) { _, range in
            for index in range {
                let image = index / chunks, p0 = (index % chunks) * chunk
                let count = min(chunk, pixels - p0)
                d.function(channels, count, ks, indirection + p0 * ks, image * imageBytes, zero, weights,
                           output + (image * pixels + p0) * channels, channels, d.params)
            }
        }
    }
}

/// A quantized fully connected layer: one GEMM over the batch rows, tiled over output columns.
struct FullyConnectedINT8Kernel: Kernel {
    let packed: PackedGemmINT8
    let rows: Int
    let input: UnsafeMutablePointer<Int8>
    let output: UnsafeMutablePointer<Int8>
    let tiling: GemmTiling

    init(packed: PackedGemmINT8, rows: Int, input: UnsafeMutablePointer<Int8>, output: UnsafeMutablePointer<Int8>, threads: Int) {
        self.packed = packed
        self.rows = rows
        self.input = input
        self.output = output
        tiling = GemmTiling(mr: packed.mr, groups: 1, images: 1, rows: rows, columns: packed.nc,
                            columnTile: packed.columnTile(rows: rows, threads: threads))
    }

    func run(pool: ThreadPool) {
        let g = packed, t = tiling, k = g.kc, n = g.nc
        let input = self.input, output = self.output
        pool.forEachChunk(t.count) { _, range in
            for index in range {
                let (_, n0, _, m0) = t.tile(index)
                g.gemm(min(g.mr, t.rows - m0), min(t.columnTile, n - n0), k, input + m0 * k, k,
                       g.weights(group: 0, column: n0), output + m0 * n + n0, n, g.params)
            }
        }
    }
}
