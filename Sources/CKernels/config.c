// The one place that maps CPU features to kernels (cf. XNNPACK src/configs/gemm-config.c, QNNPACK init.c).
#include <stdatomic.h>
#include <string.h>

#include "ck-config.h"

#if defined(__x86_64__) || defined(_M_X64)
  #define CK_ARCH_X86_64 1
  #include <cpuid.h>
#elif defined(__aarch64__)
  #define CK_ARCH_AARCH64 1
  #if defined(__linux__)
    #include <sys/auxv.h>
  #elif defined(__APPLE__)
    #include <sys/sysctl.h>
  #endif
#endif

#ifndef HWCAP_ASIMD
  #define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_ASIMDDP
  #define HWCAP_ASIMDDP (1UL << 20)
#endif

#define CK_X86_AVX2 UINT64_C(1)
#define CK_X86_AVX512 UINT64_C(2)       // F + BW + VL with ZMM/opmask state enabled by the OS
#define CK_X86_AVX512VNNI UINT64_C(4)

#if CK_ARCH_X86_64
static uint64_t xgetbv0(void) {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t) edx << 32) | eax;
}
#endif

uint64_t ck_cpu_feature_bits(void) {
#if CK_ARCH_X86_64
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  const int osxsave = (ecx >> 27) & 1;
  const int avx = (ecx >> 28) & 1;
  if (!osxsave || !avx) return 0;
  const uint64_t xcr0 = xgetbv0();
  const int ymm_state = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
  const int zmm_state = (xcr0 & 0xE6) == 0xE6;   // + opmask, ZMM_Hi256, Hi16_ZMM
  if (__get_cpuid_max(0, NULL) < 7) return 0;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  uint64_t bits = 0;
  if (ymm_state && ((ebx >> 5) & 1)) bits |= CK_X86_AVX2;
  const int avx512fbwvl = ((ebx >> 16) & 1) && ((ebx >> 30) & 1) && ((ebx >> 31) & 1);
  if (zmm_state && avx512fbwvl) {
    bits |= CK_X86_AVX512;
    if ((ecx >> 11) & 1) bits |= CK_X86_AVX512VNNI;
  }
  return bits;
#elif CK_ARCH_AARCH64 && defined(__linux__)
  return (uint64_t) getauxval(AT_HWCAP);
#elif CK_ARCH_AARCH64 && defined(__APPLE__)
  int dot = 0;
  size_t size = sizeof(dot);
  uint64_t bits = HWCAP_ASIMD;
  if (sysctlbyname("hw.optional.arm.FEAT_DotProd", &dot, &size, NULL, 0) == 0 && dot) bits |= HWCAP_ASIMDDP;
  return bits;
#elif CK_ARCH_AARCH64
  return HWCAP_ASIMD;
#else
  return 0;
#endif
}

uint32_t ck_isa_compiled_mask(void) {
  uint32_t mask = 1u << CK_ISA_SCALAR;
#if CK_ARCH_X86_64
  mask |= (1u << CK_ISA_AVX2) | (1u << CK_ISA_AVX512VNNI);
#elif CK_ARCH_AARCH64
  mask |= (1u << CK_ISA_NEON) | (1u << CK_ISA_NEONDOT);
#endif
  return mask;
}

static uint32_t detect_available(void) {
  uint32_t mask = 1u << CK_ISA_SCALAR;
  const uint64_t bits = ck_cpu_feature_bits();
#if CK_ARCH_X86_64
  if (bits & CK_X86_AVX2) mask |= 1u << CK_ISA_AVX2;
  if ((bits & CK_X86_AVX2) && (bits & CK_X86_AVX512) && (bits & CK_X86_AVX512VNNI)) mask |= 1u << CK_ISA_AVX512VNNI;
#elif CK_ARCH_AARCH64
  mask |= 1u << CK_ISA_NEON;  // Advanced SIMD is mandatory in AArch64
  if (bits & HWCAP_ASIMDDP) mask |= 1u << CK_ISA_NEONDOT;
#else
  (void) bits;
#endif
  return mask & ck_isa_compiled_mask();
}

static _Atomic uint32_t available_cache = 0;  // 0 = not computed yet (scalar is always set once computed)

uint32_t ck_isa_available_mask(void) {
  uint32_t mask = atomic_load_explicit(&available_cache, memory_order_relaxed);
  if (mask == 0) {
    mask = detect_available();
    atomic_store_explicit(&available_cache, mask, memory_order_relaxed);
  }
  return mask;
}

int ck_isa_is_available(ck_isa isa) {
  return (unsigned) isa < CK_ISA_COUNT && ((ck_isa_available_mask() >> isa) & 1);
}

ck_isa ck_isa_best(void) {
  static const ck_isa order[] = { CK_ISA_AVX512VNNI, CK_ISA_AVX2, CK_ISA_NEONDOT, CK_ISA_NEON };
  for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
    if (ck_isa_is_available(order[i])) return order[i];
  }
  return CK_ISA_SCALAR;
}

static const char* const isa_names[CK_ISA_COUNT] = { "scalar", "neon", "neondot", "avx2", "avx512vnni" };

const char* ck_isa_name(ck_isa isa) {
  return (unsigned) isa < CK_ISA_COUNT ? isa_names[isa] : NULL;
}

ck_status ck_isa_from_name(const char* name, ck_isa* isa) {
  if (name == NULL || isa == NULL) return CK_ERROR_INVALID_ARGUMENT;
  if (strcmp(name, "auto") == 0) {
    *isa = ck_isa_best();
    return CK_OK;
  }
  for (int i = 0; i < CK_ISA_COUNT; i++) {
    if (strcmp(name, isa_names[i]) == 0) {
      *isa = (ck_isa) i;
      return CK_OK;
    }
  }
  return CK_ERROR_UNKNOWN_ISA;
}

#define GEMM_UKERNEL(ISA, MR, NR, KR, OFFSET, TILE, SUFFIX, PACK)                              \
  (ck_qs8_qc8w_gemm_ukernel) {                                                                \
    .gemm_name = "qs8-qc8w-gemm-" TILE "-minmax-rndnu-" SUFFIX,                               \
    .igemm_name = "qs8-qc8w-igemm-" TILE "-minmax-rndnu-" SUFFIX,                             \
    .isa = ISA, .mr = MR, .nr = NR, .kr = KR, .input_offset = OFFSET,                         \
    .pack = PACK,                                                                             \
  }

static void scalar_kernels(ck_kernels* k) {
  k->gemm = GEMM_UKERNEL(CK_ISA_SCALAR, 4, 4, 1, 0, "4x4", "scalar", ck_pack_qs8_qc8w_gemm_nr4_kr1);
  k->gemm.gemm = ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_4x4__scalar;
  k->gemm.igemm = ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_4x4__scalar;
  k->dwconv = (ck_qs8_qc8w_dwconv_ukernel) { "qs8-qc8w-dwconv-1c-minmax-rndnu-scalar", CK_ISA_SCALAR, 1,
                                             ck_qs8_qc8w_dwconv_minmax_rndnu_ukernel_1c__scalar };
  k->vadd = (ck_qs8_vadd_ukernel) { "qs8-vadd-minmax-scalar-u1", CK_ISA_SCALAR, ck_qs8_vadd_minmax_ukernel__scalar_u1 };
  k->maxpool = (ck_s8_maxpool_ukernel) { "s8-maxpool-minmax-scalar-1c", CK_ISA_SCALAR,
                                         ck_s8_maxpool_minmax_ukernel_1c__scalar };
  k->gavgpool = (ck_qs8_gavgpool_ukernel) { "qs8-gavgpool-minmax-rndnu-scalar-1c", CK_ISA_SCALAR,
                                            ck_qs8_gavgpool_minmax_rndnu_ukernel_1c__scalar };
}

ck_status ck_kernels_for_isa(ck_isa isa, ck_kernels* kernels) {
  if (kernels == NULL) return CK_ERROR_INVALID_ARGUMENT;
  if ((unsigned) isa >= CK_ISA_COUNT) return CK_ERROR_UNKNOWN_ISA;
  if (!ck_isa_is_available(isa)) return CK_ERROR_UNSUPPORTED_ISA;
  ck_kernels k;
  memset(&k, 0, sizeof(k));
  scalar_kernels(&k);
  switch (isa) {
    case CK_ISA_SCALAR:
      break;
#if CK_ARCH_AARCH64
    case CK_ISA_NEON:
    case CK_ISA_NEONDOT:
      k.dwconv = (ck_qs8_qc8w_dwconv_ukernel) { "qs8-qc8w-dwconv-16c-minmax-rndnu-neon-mla8", CK_ISA_NEON, 16,
                                                ck_qs8_qc8w_dwconv_minmax_rndnu_ukernel_16c__neon_mla8 };
      k.vadd = (ck_qs8_vadd_ukernel) { "qs8-vadd-minmax-neon-u16", CK_ISA_NEON, ck_qs8_vadd_minmax_ukernel__neon_u16 };
      k.maxpool = (ck_s8_maxpool_ukernel) { "s8-maxpool-minmax-neon-16c", CK_ISA_NEON,
                                            ck_s8_maxpool_minmax_ukernel_16c__neon };
      k.gavgpool = (ck_qs8_gavgpool_ukernel) { "qs8-gavgpool-minmax-rndnu-neon-16c", CK_ISA_NEON,
                                               ck_qs8_gavgpool_minmax_rndnu_ukernel_16c__neon };
      if (isa == CK_ISA_NEONDOT) {
        k.gemm = GEMM_UKERNEL(CK_ISA_NEONDOT, 4, 16, 4, 0, "4x16c4", "neondot", ck_pack_qs8_qc8w_gemm_nr16_kr4);
        k.gemm.gemm = ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_4x16c4__neondot;
        k.gemm.igemm = ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_4x16c4__neondot;
      } else {
        k.gemm = GEMM_UKERNEL(CK_ISA_NEON, 2, 8, 8, 0, "2x8c8", "neon-mlal", ck_pack_qs8_qc8w_gemm_nr8_kr8);
        k.gemm.gemm = ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_2x8c8__neon_mlal;
        k.gemm.igemm = ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_2x8c8__neon_mlal;
      }
      break;
#endif
#if CK_ARCH_X86_64
    case CK_ISA_AVX2:
    case CK_ISA_AVX512VNNI:
      k.dwconv = (ck_qs8_qc8w_dwconv_ukernel) { "qs8-qc8w-dwconv-16c-minmax-rndnu-avx2", CK_ISA_AVX2, 16,
                                                ck_qs8_qc8w_dwconv_minmax_rndnu_ukernel_16c__avx2 };
      k.vadd = (ck_qs8_vadd_ukernel) { "qs8-vadd-minmax-avx2-u16", CK_ISA_AVX2, ck_qs8_vadd_minmax_ukernel__avx2_u16 };
      k.maxpool = (ck_s8_maxpool_ukernel) { "s8-maxpool-minmax-avx2-32c", CK_ISA_AVX2,
                                            ck_s8_maxpool_minmax_ukernel_32c__avx2 };
      k.gavgpool = (ck_qs8_gavgpool_ukernel) { "qs8-gavgpool-minmax-rndnu-avx2-16c", CK_ISA_AVX2,
                                               ck_qs8_gavgpool_minmax_rndnu_ukernel_16c__avx2 };
      if (isa == CK_ISA_AVX512VNNI) {
        k.gemm = GEMM_UKERNEL(CK_ISA_AVX512VNNI, 8, 16, 8, 128, "8x16c8", "avx512vnni",
                              ck_pack_qs8_qc8w_gemm_nr16_kr8_x80);
        k.gemm.gemm = ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_8x16c8__avx512vnni;
        k.gemm.igemm = ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_8x16c8__avx512vnni;
      } else {
        k.gemm = GEMM_UKERNEL(CK_ISA_AVX2, 3, 8, 8, 0, "3x8c8", "avx2", ck_pack_qs8_qc8w_gemm_nr8_kr8);
        k.gemm.gemm = ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_3x8c8__avx2;
        k.gemm.igemm = ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_3x8c8__avx2;
      }
      break;
#endif
    default:
      return CK_ERROR_UNSUPPORTED_ISA;
  }
  k.isa = isa;
  k.isa_name = ck_isa_name(isa);
  *kernels = k;
  return CK_OK;
}

ck_status ck_kernels_select(const char* name, ck_kernels* kernels) {
  ck_isa isa = CK_ISA_SCALAR;
  if (name == NULL) {
    isa = ck_isa_best();
  } else {
    const ck_status status = ck_isa_from_name(name, &isa);
    if (status != CK_OK) return status;
  }
  return ck_kernels_for_isa(isa, kernels);
}

ck_status ck_weight_layout_for_isa(ck_isa isa, ck_weight_layout* layout) {
  if (layout == NULL) return CK_ERROR_INVALID_ARGUMENT;
  switch (isa) {
    case CK_ISA_SCALAR: *layout = (ck_weight_layout) { 4, 1, 0, 1 }; return CK_OK;
    case CK_ISA_NEON: *layout = (ck_weight_layout) { 8, 8, 0, 16 }; return CK_OK;
    case CK_ISA_NEONDOT: *layout = (ck_weight_layout) { 16, 4, 0, 16 }; return CK_OK;
    case CK_ISA_AVX2: *layout = (ck_weight_layout) { 8, 8, 0, 16 }; return CK_OK;
    case CK_ISA_AVX512VNNI: *layout = (ck_weight_layout) { 16, 8, 128, 16 }; return CK_OK;
    default: return CK_ERROR_UNKNOWN_ISA;
  }
}
