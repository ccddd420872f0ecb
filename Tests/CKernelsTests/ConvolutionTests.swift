// 2-D convolution through IGEMM + the indirection builder (and GEMM for 1x1): strides, padding (also
// asymmetric), dilation, groups, batch, N split across "threads", ResNet-18 / MobileNetV2 layer shapes.
import CKernels
import Testing

@Suite("convolution via indirection + igemm/gemm")
struct ConvolutionTests {
    static let geometries: [(String, ConvolutionTester)] = {
        var list: [(String, ConvolutionTester)] = []
        func add(_ name: String, _ f: (inout ConvolutionTester) -> Void) {
            var t = ConvolutionTester()
            f(&t)
            t.seed = UInt64(list.count + 1)
            list.append((name, t))
        }
        add("3x3 s1 p1 (ResNet basic block)") { $0.inputHeight = 6; $0.inputWidth = 7; $0.groupInputChannels = 16; $0.groupOutputChannels = 24; $0.padTop = 1; $0.padLeft = 1; $0.padBottom = 1; $0.padRight = 1 }
        add("3x3 s2 p1 (ResNet downsample)") { $0.inputHeight = 9; $0.inputWidth = 8; $0.groupInputChannels = 8; $0.groupOutputChannels = 19; $0.strideHeight = 2; $0.strideWidth = 2; $0.padTop = 1; $0.padLeft = 1; $0.padBottom = 1; $0.padRight = 1 }
        add("7x7 s2 p3, C=3 (ResNet stem)") { $0.inputHeight = 15; $0.inputWidth = 13; $0.groupInputChannels = 3; $0.groupOutputChannels = 17; $0.kernelHeight = 7; $0.kernelWidth = 7; $0.strideHeight = 2; $0.strideWidth = 2; $0.padTop = 3; $0.padLeft = 3; $0.padBottom = 3; $0.padRight = 3 }
        add("1x1 s2 (ResNet projection shortcut)") { $0.inputHeight = 8; $0.inputWidth = 6; $0.groupInputChannels = 12; $0.groupOutputChannels = 33; $0.kernelHeight = 1; $0.kernelWidth = 1; $0.strideHeight = 2; $0.strideWidth = 2 }
        add("asymmetric padding (TF SAME, stride 2)") { $0.inputHeight = 8; $0.inputWidth = 7; $0.groupInputChannels = 5; $0.groupOutputChannels = 9; $0.strideHeight = 2; $0.strideWidth = 2; $0.padTop = 0; $0.padLeft = 1; $0.padBottom = 1; $0.padRight = 0 }
        add("lopsided padding 2/0/1/3") { $0.inputHeight = 5; $0.inputWidth = 6; $0.groupInputChannels = 4; $0.groupOutputChannels = 7; $0.kernelHeight = 2; $0.kernelWidth = 3; $0.padTop = 2; $0.padLeft = 0; $0.padBottom = 1; $0.padRight = 3 }
        add("dilation 2 and 3") { $0.inputHeight = 10; $0.inputWidth = 11; $0.groupInputChannels = 6; $0.groupOutputChannels = 10; $0.dilationHeight = 2; $0.dilationWidth = 3; $0.padTop = 2; $0.padLeft = 3; $0.padBottom = 2; $0.padRight = 3 }
        add("groups 2") { $0.inputHeight = 6; $0.inputWidth = 6; $0.groups = 2; $0.groupInputChannels = 8; $0.groupOutputChannels = 12; $0.padTop = 1; $0.padLeft = 1; $0.padBottom = 1; $0.padRight = 1 }
        add("groups 4, Cg=3, stride 2") { $0.inputHeight = 7; $0.inputWidth = 5; $0.groups = 4; $0.groupInputChannels = 3; $0.groupOutputChannels = 5; $0.strideHeight = 2; $0.strideWidth = 2; $0.padTop = 1; $0.padLeft = 1; $0.padBottom = 1; $0.padRight = 1 }
        add("batch 3, a_offset") { $0.batch = 3; $0.inputHeight = 5; $0.inputWidth = 4; $0.groupInputChannels = 9; $0.groupOutputChannels = 18; $0.padTop = 1; $0.padLeft = 1; $0.padBottom = 1; $0.padRight = 1 }
        add("batch 2 + groups 3 + N split") { $0.batch = 2; $0.inputHeight = 4; $0.inputWidth = 5; $0.groups = 3; $0.groupInputChannels = 7; $0.groupOutputChannels = 40; $0.padTop = 1; $0.padLeft = 0; $0.padBottom = 0; $0.padRight = 1; $0.columnChunkBlocks = 1 }
        add("ReLU6-like clamp, izp -128") { $0.inputHeight = 5; $0.inputWidth = 5; $0.groupInputChannels = 20; $0.groupOutputChannels = 20; $0.padTop = 1; $0.padLeft = 1; $0.padBottom = 1; $0.padRight = 1; $0.inputZeroPoint = -128; $0.outputZeroPoint = -128; $0.qmin = -128; $0.qmax = -50 }
        add("1x1 via GEMM (MobileNetV2 expand)") { $0.inputHeight = 5; $0.inputWidth = 7; $0.groupInputChannels = 24; $0.groupOutputChannels = 36; $0.kernelHeight = 1; $0.kernelWidth = 1; $0.useGemm = true }
        add("1x1 via GEMM, groups 2, batch 2, N split") { $0.batch = 2; $0.inputHeight = 3; $0.inputWidth = 5; $0.groups = 2; $0.groupInputChannels = 10; $0.groupOutputChannels = 35; $0.kernelHeight = 1; $0.kernelWidth = 1; $0.useGemm = true; $0.columnChunkBlocks = 1 }
        add("7x7 s2 p3 stem via im2col + GEMM") { $0.inputHeight = 15; $0.inputWidth = 13; $0.groupInputChannels = 3; $0.groupOutputChannels = 17; $0.kernelHeight = 7; $0.kernelWidth = 7; $0.strideHeight = 2; $0.strideWidth = 2; $0.padTop = 3; $0.padLeft = 3; $0.padBottom = 3; $0.padRight = 3; $0.useIm2col = true }
        add("im2col: groups 2, batch 2, dilation, asymmetric padding") { $0.batch = 2; $0.inputHeight = 7; $0.inputWidth = 6; $0.groups = 2; $0.groupInputChannels = 5; $0.groupOutputChannels = 9; $0.dilationHeight = 2; $0.padTop = 2; $0.padLeft = 0; $0.padBottom = 1; $0.padRight = 2; $0.useIm2col = true }
        add("kernel larger than input with padding") { $0.inputHeight = 2; $0.inputWidth = 3; $0.groupInputChannels = 4; $0.groupOutputChannels = 6; $0.kernelHeight = 5; $0.kernelWidth = 5; $0.padTop = 2; $0.padLeft = 2; $0.padBottom = 2; $0.padRight = 2 }
        return list
    }()

    @Test("geometries", arguments: ISA.available)
    func geometries(isa: ISA) {
        var failures: [String] = []
        for (name, t) in Self.geometries {
            if let f = t.check(isa) { failures.append("\(name): \(f)") }
        }
        expectNoFailures(failures)
    }

    @Test("results do not depend on how N and M are split", arguments: ISA.available)
    func splitInvariance(isa: ISA) {
        var t = ConvolutionTester()
        t.inputHeight = 7; t.inputWidth = 6; t.groupInputChannels = 11; t.groupOutputChannels = 70
        t.padTop = 1; t.padLeft = 1; t.padBottom = 1; t.padRight = 1
        let p = t.makeProblem()
        let whole = t.run(isa, p)
        for chunk in [1, 2, 3] {
            var s = t
            s.columnChunkBlocks = chunk
            #expect(s.run(isa, p) == whole, "\(isa) chunk \(chunk)")
        }
    }
}
