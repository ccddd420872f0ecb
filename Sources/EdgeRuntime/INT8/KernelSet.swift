import CKernels
import EdgeGraph

extension KernelVariant {
    /// The variants this binary and CPU can run, scalar first (never `.auto`).
    public static var available: [KernelVariant] {
        allCases.filter { $0 != .auto && $0.isa.map { ck_isa_is_available($0) != 0 } == true }
    }

    /// What `.auto` resolves to here.
    public static var best: KernelVariant {
        KernelVariant(rawValue: String(cString: ck_isa_name(ck_isa_best()))) ?? .scalar
    }

    var isa: ck_isa? {
        var isa = CK_ISA_SCALAR
        let status = rawValue.withCString { ck_isa_from_name($0, &isa) }
        return status == CK_OK ? isa : nil
    }
}

/// The INT8 micro-kernels of one ISA level, as CKernels' config.c selects them (one descriptor per family).
struct KernelSet {
    let variant: KernelVariant
    let kernels: ck_kernels

    init(_ requested: KernelVariant) throws {
        let variant = requested == .auto ? KernelVariant.best : requested
        var kernels = ck_kernels()
        let status = variant.rawValue.withCString { ck_kernels_select($0, &kernels) }
        guard status == CK_OK else {
            let available = KernelVariant.available.map(\.rawValue).joined(separator: ", ")
            let why = ck_isa_compiled_mask() & (1 << (variant.isa?.rawValue ?? 31)) == 0
                ? "is not compiled into this binary (\(Self.architecture))" : "is not supported by this CPU"
            throw GraphError("INT8 kernel variant '\(variant)' \(why); available here: \(available)")
        }
        self.variant = variant
        self.kernels = kernels
    }

    var gemm: ck_qs8_qc8w_gemm_ukernel { kernels.gemm }
    var gemmName: String { String(cString: kernels.gemm.gemm_name) }
    var igemmName: String { String(cString: kernels.gemm.igemm_name) }
    var dwconvName: String { String(cString: kernels.dwconv.name) }
    var vaddName: String { String(cString: kernels.vadd.name) }
    var maxpoolName: String { String(cString: kernels.maxpool.name) }
    var gavgpoolName: String { String(cString: kernels.gavgpool.name) }

    static var architecture: String {
        #if arch(x86_64)
        return "x86-64"
        #elseif arch(arm64)
        return "aarch64"
        #else
        return "this architecture"
        #endif
    }
}

/// The weight layouts a kernel variant reads: what a model file is pre-packed for. Known for every variant on
/// every build (an x86 host packs for a Cortex-A72 board), from CKernels' `ck_weight_layout_for_isa`.
public struct WeightLayout: Hashable, Codable, Sendable, CustomStringConvertible {
    public var gemmNR: Int
    public var gemmKR: Int
    /// Added to the input zero point when the bias is folded (128 for the VNNI kernel's u8 x s8 trick).
    public var gemmInputOffset: Int
    public var depthwiseCR: Int

    public init(gemmNR: Int, gemmKR: Int, gemmInputOffset: Int, depthwiseCR: Int) {
        (self.gemmNR, self.gemmKR, self.gemmInputOffset, self.depthwiseCR) = (gemmNR, gemmKR, gemmInputOffset, depthwiseCR)
    }

    /// The layout of `variant` (`.auto`: the best variant of this CPU).
    public init(_ variant: KernelVariant) {
        let resolved = variant == .auto ? KernelVariant.best : variant
        var layout = ck_weight_layout()
        let status = ck_weight_layout_for_isa(resolved.isa ?? CK_ISA_SCALAR, &layout)
        precondition(status == CK_OK, "no weight layout for \(resolved)")
        self.init(gemmNR: Int(layout.gemm_nr), gemmKR: Int(layout.gemm_kr), gemmInputOffset: Int(layout.gemm_input_offset),
                  depthwiseCR: Int(layout.dwconv_cr))
    }

    public var description: String {
        "gemm nr\(gemmNR) kr\(gemmKR)" + (gemmInputOffset != 0 ? " input offset \(gemmInputOffset)" : "") + ", depthwise cr\(depthwiseCR)"
    }
}

extension KernelSet {
    var weightLayout: WeightLayout {
        WeightLayout(gemmNR: Int(kernels.gemm.nr), gemmKR: Int(kernels.gemm.kr), gemmInputOffset: Int(kernels.gemm.input_offset),
                     depthwiseCR: Int(kernels.dwconv.cr))
    }
}
