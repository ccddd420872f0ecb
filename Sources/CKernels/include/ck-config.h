// Kernel selection from CPU features (one place, like XNNPACK's src/configs/): getauxval(AT_HWCAP)
// HWCAP_ASIMDDP on Linux/aarch64, cpuid + xgetbv on x86-64. A caller may force a variant by name;
// forcing one this binary or CPU cannot run returns CK_ERROR_UNSUPPORTED_ISA, never a SIGILL.
#pragma once

#include "ck-common.h"
#include "ck-qs8-qc8w-gemm.h"
#include "ck-qs8-qc8w-dwconv.h"
#include "ck-qs8-vadd.h"
#include "ck-s8-maxpool.h"
#include "ck-qs8-gavgpool.h"
#include "ck-pack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ck_qs8_qc8w_gemm_ukernel {
  const char* gemm_name;        // e.g. "qs8-qc8w-gemm-2x8c8-minmax-rndnu-neon-mlal"
  const char* igemm_name;
  ck_isa isa;
  uint32_t mr, nr, kr;
  int32_t input_offset;         // what the packer adds to the input zero point (128 for VNNI)
  ck_qs8_qc8w_gemm_fn gemm;
  ck_qs8_qc8w_igemm_fn igemm;
  ck_pack_qs8_qc8w_gemm_fn pack;  // = ck_pack_qs8_qc8w_gemm(nr, kr, input_offset, ...)
} ck_qs8_qc8w_gemm_ukernel;

typedef struct ck_qs8_qc8w_dwconv_ukernel {
  const char* name;
  ck_isa isa;
  uint32_t cr;                  // channel tile; pack with ck_pack_qs8_qc8w_dwconv(cr, ...)
  ck_qs8_qc8w_dwconv_fn fn;
} ck_qs8_qc8w_dwconv_ukernel;

typedef struct ck_qs8_vadd_ukernel { const char* name; ck_isa isa; ck_qs8_vadd_fn fn; } ck_qs8_vadd_ukernel;
typedef struct ck_s8_maxpool_ukernel { const char* name; ck_isa isa; ck_s8_maxpool_fn fn; } ck_s8_maxpool_ukernel;
typedef struct ck_qs8_gavgpool_ukernel { const char* name; ck_isa isa; ck_qs8_gavgpool_fn fn; } ck_qs8_gavgpool_ukernel;

// Everything one ISA level provides. Families without a dedicated kernel at that level use the next
// lower one (neondot -> neon for depthwise/add/pool, avx512vnni -> avx2).
typedef struct ck_kernels {
  ck_isa isa;
  const char* isa_name;
  ck_qs8_qc8w_gemm_ukernel gemm;
  ck_qs8_qc8w_dwconv_ukernel dwconv;
  ck_qs8_vadd_ukernel vadd;
  ck_s8_maxpool_ukernel maxpool;
  ck_qs8_gavgpool_ukernel gavgpool;
} ck_kernels;

// Bit i set: ISA i is compiled into this binary (scalar always).
uint32_t ck_isa_compiled_mask(void);
// Bit i set: ISA i is compiled in AND this CPU/OS supports it (cached after the first call; thread-safe).
uint32_t ck_isa_available_mask(void);
int ck_isa_is_available(ck_isa isa);
// The best available: avx512vnni > avx2 > scalar on x86-64; neondot > neon on aarch64.
ck_isa ck_isa_best(void);
// "scalar", "neon", "neondot", "avx2", "avx512vnni" (NULL for an invalid value).
const char* ck_isa_name(ck_isa isa);
// Parses one of the names above, or "auto" (= ck_isa_best()). Case-sensitive.
ck_status ck_isa_from_name(const char* name, ck_isa* isa);

// Fills `kernels` for `isa`; CK_ERROR_UNSUPPORTED_ISA if it is not available (out is left untouched).
ck_status ck_kernels_for_isa(ck_isa isa, ck_kernels* kernels);
// name NULL or "auto": the best available; otherwise forces that variant (errors as above).
ck_status ck_kernels_select(const char* name, ck_kernels* kernels);

// The weight layouts an ISA level's kernels read (GEMM/IGEMM nr, kr, input_offset; depthwise cr), on any
// build and CPU: a model file packed on an x86 host for a Cortex-A72 board asks this, never the kernels.
// Kept equal to ck_kernels_for_isa's descriptors (a test checks every available ISA).
typedef struct ck_weight_layout {
  uint32_t gemm_nr, gemm_kr;
  int32_t gemm_input_offset;
  uint32_t dwconv_cr;
} ck_weight_layout;
ck_status ck_weight_layout_for_isa(ck_isa isa, ck_weight_layout* layout);

// Raw feature words, for diagnostics and tests: AT_HWCAP on Linux/aarch64; on x86-64 bit 0 = AVX2
// usable, bit 1 = AVX-512 F/BW/VL usable, bit 2 = AVX512_VNNI (cpuid and OS state via xgetbv).
uint64_t ck_cpu_feature_bits(void);

#ifdef __cplusplus
}
#endif
