// qs8-qc8w-gemm and qs8-qc8w-igemm: int8 activations (per-tensor zero point) x per-output-channel
// symmetric int8 weights in [-127, 127], int32 accumulation, fused rndnu requantization + clamp.
//
// GEMM (1x1 stride-1 convolution, fully connected):
//   C[m][n] = requant_n( packed_bias[n] + sum_k A[m][k] * W[n][k] )   for m < mr, n < nc
//   A row m starts at a + m * a_stride (bytes); C row m at c + m * cm_stride; columns are contiguous.
//
// IGEMM (indirect convolution, QNNPACK's algorithm): per output row m (= output pixel) an indirection
// buffer holds ks row pointers (one per kernel tap, see ck-indirection.h):
//   C[m][n] = requant_n( packed_bias[n] + sum_{t<ks} sum_{k<kc} P(m,t)[k] * W[n][t][k] )
//   P(m,t) = a[m * ks + t] + a_offset, except pointers equal to `zero`, which are used as they are.
//   `zero` must hold at least kc bytes equal to the input zero point (padding contributes izp * w,
//   which the packed bias cancels). a_offset selects the image in a batch and the group's channel slice.
//
// Both kernels compute one tile of mr (1..MR) rows and nc (>= 1) columns; columns are walked in blocks
// of NR inside the kernel. `w` points at the packed block holding column 0 of the tile (the tile's first
// column must be a multiple of NR; see ck_pack_qs8_qc8w_gemm_block_size). Results do not depend on how
// the caller splits M and N over threads. Kernels read exactly the A bytes [0, kc) of each row (no
// over-read) and write exactly the mr x nc outputs.
#pragma once

#include "ck-common.h"
#include "ck-params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*ck_qs8_qc8w_gemm_fn)(
    size_t mr, size_t nc, size_t kc,
    const int8_t* a, size_t a_stride,
    const void* w,
    int8_t* c, size_t cm_stride,
    const ck_qs8_minmax_params* params);

typedef void (*ck_qs8_qc8w_igemm_fn)(
    size_t mr, size_t nc, size_t kc, size_t ks,
    const int8_t* const* a,
    const void* w,
    int8_t* c, size_t cm_stride,
    size_t a_offset, const int8_t* zero,
    const ck_qs8_minmax_params* params);

#define CK_DECLARE_QS8_QC8W_GEMM(name) \
  void name(size_t mr, size_t nc, size_t kc, const int8_t* a, size_t a_stride, const void* w, \
            int8_t* c, size_t cm_stride, const ck_qs8_minmax_params* params);
#define CK_DECLARE_QS8_QC8W_IGEMM(name) \
  void name(size_t mr, size_t nc, size_t kc, size_t ks, const int8_t* const* a, const void* w, \
            int8_t* c, size_t cm_stride, size_t a_offset, const int8_t* zero, const ck_qs8_minmax_params* params);

// scalar: mr=4 nr=4 kr=1
CK_DECLARE_QS8_QC8W_GEMM(ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_4x4__scalar)
CK_DECLARE_QS8_QC8W_IGEMM(ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_4x4__scalar)

#if defined(__aarch64__)
// neon: mr=2 nr=8 kr=8 (SMULL + SMLAL pairs, SADALP), XNNPACK's Cortex-A72 choice
CK_DECLARE_QS8_QC8W_GEMM(ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_2x8c8__neon_mlal)
CK_DECLARE_QS8_QC8W_IGEMM(ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_2x8c8__neon_mlal)
// neondot: mr=4 nr=16 kr=4 (SDOT by lane)
CK_DECLARE_QS8_QC8W_GEMM(ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_4x16c4__neondot)
CK_DECLARE_QS8_QC8W_IGEMM(ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_4x16c4__neondot)
#endif

#if defined(__x86_64__) || defined(_M_X64)
// avx2: mr=3 nr=8 kr=8 (VPMADDWD on sign-extended int16: exact, no VPMADDUBSW saturation)
CK_DECLARE_QS8_QC8W_GEMM(ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_3x8c8__avx2)
CK_DECLARE_QS8_QC8W_IGEMM(ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_3x8c8__avx2)
// avx512vnni: mr=8 nr=16 kr=8 (VPDPBUSD on 64-bit A broadcasts; activations ^ 0x80, 128 * sum(w) folded into the bias)
CK_DECLARE_QS8_QC8W_GEMM(ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_8x16c8__avx512vnni)
CK_DECLARE_QS8_QC8W_IGEMM(ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_8x16c8__avx512vnni)
#endif

#ifdef __cplusplus
}
#endif
