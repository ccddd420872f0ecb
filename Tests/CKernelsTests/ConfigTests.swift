// Kernel selection: names, forcing, errors instead of SIGILL, and agreement with the CPU's own report
// (AT_HWCAP on Linux/aarch64: under qemu -cpu cortex-a72 a wrongly selected SDOT kernel would SIGILL).
import CKernels
import Foundation
import Testing

@Suite("kernel selection")
struct ConfigTests {
    @Test func namesRoundTrip() {
        for isa in ISA.all {
            var parsed = ck_isa(rawValue: 99)
            #expect(ck_isa_from_name(ck_isa_name(isa.isa), &parsed) == CK_OK)
            #expect(parsed == isa.isa)
        }
        var x = ck_isa(rawValue: 0)
        #expect(ck_isa_from_name("sse2", &x) == CK_ERROR_UNKNOWN_ISA)
        #expect(ck_isa_from_name("NEON", &x) == CK_ERROR_UNKNOWN_ISA)
        #expect(ck_isa_from_name("auto", &x) == CK_OK && x == ck_isa_best())
        #expect(ck_isa_name(ck_isa(rawValue: 42)) == nil)
    }

    @Test func scalarAlwaysAvailableAndBestIsAvailable() {
        #expect(ck_isa_is_available(CK_ISA_SCALAR) != 0)
        #expect(ck_isa_is_available(ck_isa_best()) != 0)
        #expect(ck_isa_available_mask() & ~ck_isa_compiled_mask() == 0)
        var k = ck_kernels()
        #expect(ck_kernels_select(nil, &k) == CK_OK && k.isa == ck_isa_best())
        #expect(ck_kernels_select("auto", &k) == CK_OK && k.isa == ck_isa_best())
        #expect(ck_kernels_select("bogus", &k) == CK_ERROR_UNKNOWN_ISA)
        #expect(ck_kernels_for_isa(ck_isa(rawValue: 17), &k) == CK_ERROR_UNKNOWN_ISA)
    }

    @Test("forcing a variant this CPU or binary lacks is an error, never a crash")
    func forcing() {
        for isa in ISA.all {
            var k = ck_kernels()
            k.isa = ck_isa(rawValue: 77)
            let status = ck_kernels_select(ck_isa_name(isa.isa), &k)
            if ck_isa_is_available(isa.isa) != 0 {
                #expect(status == CK_OK)
                #expect(k.isa == isa.isa)
                #expect(k.gemm.gemm != nil && k.gemm.igemm != nil && k.gemm.pack != nil)
                #expect(k.dwconv.fn != nil && k.vadd.fn != nil && k.maxpool.fn != nil && k.gavgpool.fn != nil)
                #expect(String(cString: k.gemm.gemm_name).hasPrefix("qs8-qc8w-gemm-"))
            } else {
                #expect(status == CK_ERROR_UNSUPPORTED_ISA)
                #expect(k.isa.rawValue == 77)  // untouched
            }
        }
    }

    @Test("descriptors: tiles and layouts as documented")
    func descriptors() {
        let expected: [UInt32: (UInt32, UInt32, UInt32, Int32)] = [
            CK_ISA_SCALAR.rawValue: (4, 4, 1, 0), CK_ISA_NEON.rawValue: (2, 8, 8, 0),
            CK_ISA_NEONDOT.rawValue: (4, 16, 4, 0), CK_ISA_AVX2.rawValue: (3, 8, 8, 0),
            CK_ISA_AVX512VNNI.rawValue: (8, 16, 8, 128),
        ]
        for isa in ISA.available {
            let g = isa.kernels.gemm
            let e = expected[isa.raw]!
            #expect((g.mr, g.nr, g.kr, g.input_offset) == e, "\(isa)")
        }
    }

    #if arch(arm64) && os(Linux)
    @Test("aarch64: neondot is selected exactly when AT_HWCAP has ASIMDDP")
    func hwcapDispatch() {
        // Read the aux vector independently of the C code (qemu-user emulates this file for the guest).
        let auxv = try! Data(contentsOf: URL(fileURLWithPath: "/proc/self/auxv"))
        var hwcap: UInt64 = 0
        auxv.withUnsafeBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in stride(from: 0, to: words.count - 1, by: 2) where words[i] == 16 {  // AT_HWCAP
                hwcap = words[i + 1]
            }
        }
        let asimddp = hwcap & (1 << 20) != 0
        #expect(ck_cpu_feature_bits() == hwcap)
        #expect((ck_isa_is_available(CK_ISA_NEONDOT) != 0) == asimddp)
        #expect(ck_isa_is_available(CK_ISA_NEON) != 0)
        #expect(ck_isa_best() == (asimddp ? CK_ISA_NEONDOT : CK_ISA_NEON))
        // Run the selected GEMM once: a dot-product kernel on a core without it would SIGILL here.
        var t = GemmMicrokernelTester()
        let best = ISA(raw: ck_isa_best().rawValue)
        t.m = Int(best.kernels.gemm.mr); t.n = 16; t.k = 32
        #expect(t.check(best, igemm: false) == nil)
        print("AT_HWCAP=0x\(String(hwcap, radix: 16)) ASIMDDP=\(asimddp) selected=\(best)")
    }
    #endif

    #if arch(x86_64) && os(Linux)
    @Test("x86-64: availability agrees with /proc/cpuinfo")
    func cpuinfoDispatch() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        guard let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let flags = Set(line.split(separator: " ").map(String.init))
        let avx2 = flags.contains("avx2")
        let vnni = avx2 && ["avx512f", "avx512bw", "avx512vl", "avx512_vnni"].allSatisfy(flags.contains)
        #expect((ck_isa_is_available(CK_ISA_AVX2) != 0) == avx2)
        #expect((ck_isa_is_available(CK_ISA_AVX512VNNI) != 0) == vnni)
        #expect(ck_isa_best() == (vnni ? CK_ISA_AVX512VNNI : avx2 ? CK_ISA_AVX2 : CK_ISA_SCALAR))
        #expect(ck_isa_is_available(CK_ISA_NEON) == 0 && ck_isa_is_available(CK_ISA_NEONDOT) == 0)
    }
    #endif
}
