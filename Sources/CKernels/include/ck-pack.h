// Weight packing: one layout per (nr, kr, input_offset); the kernel descriptor (ck-config.h) names its
// layout and packer.
//
// GEMM/IGEMM layout (ck_pack_qs8_qc8w_gemm). Input: weights[groups][nc][ks][kc] (int8 in [-127, 127];
// for a convolution ks = KH*KW taps in (ky, kx) order, kc = input channels per group: OHWI per group),
// bias[groups][nc] (int32, NULL = 0), requant[groups][nc] (from ck_requant_from_scale). Output, per group,
// per block of nr output channels (the last block padded with zero weights, zero bias):
//   int32 bias'[nr]                  bias - (input_zero_point + input_offset) * sum_{t,k} w   (mod 2^32)
//   int8  w[ks][ceil(kc/kr)][nr][kr] the kr consecutive k of one column are adjacent; k >= kc padded with 0
//   int32 multiplier[nr], left_shift[nr], right_shift[nr]      (ck_requant_packed, struct of arrays)
// Blocks are ck_pack_qs8_qc8w_gemm_block_size bytes apart; a group is ceil(nc/nr) blocks. So the kernel
// pointer for group g, first column n0 (a multiple of nr) is
//   packed + (g * ceil(nc/nr) + n0/nr) * block_size.
// input_offset is 128 for the AVX-512 VNNI kernel (it feeds a ^ 0x80 = a + 128 as u8), else 0.
// Weights equal to -128 are rejected (CK_ERROR_OUT_OF_RANGE): the SMULL+SMLAL pair sums rely on it.
//
// Depthwise layout (ck_pack_qs8_qc8w_dwconv). Input: weights[channels][ks] (ONNX [C][1][KH][KW]),
// bias[channels], requant[channels]. Output per block of cr channels:
//   int32 bias'[cr]  (bias - input_zero_point * sum_t w),  int8 w[ks][cr] (padded to a multiple of 4
//   bytes),  int32 multiplier[cr], left_shift[cr], right_shift[cr].
#pragma once

#include "ck-common.h"
#include "ck-requantization.h"

#ifdef __cplusplus
extern "C" {
#endif

size_t ck_pack_qs8_qc8w_gemm_block_size(uint32_t nr, uint32_t kr, size_t ks, size_t kc);
size_t ck_pack_qs8_qc8w_gemm_size(uint32_t nr, uint32_t kr, size_t groups, size_t nc, size_t ks, size_t kc);

ck_status ck_pack_qs8_qc8w_gemm(uint32_t nr, uint32_t kr, int32_t input_offset,
                                size_t groups, size_t nc, size_t ks, size_t kc,
                                int32_t input_zero_point,
                                const int8_t* weights, const int32_t* bias, const ck_requant* requant,
                                void* packed);

// A layout's packer (what a kernel descriptor points at).
typedef ck_status (*ck_pack_qs8_qc8w_gemm_fn)(size_t groups, size_t nc, size_t ks, size_t kc,
                                              int32_t input_zero_point,
                                              const int8_t* weights, const int32_t* bias, const ck_requant* requant,
                                              void* packed);

#define CK_DECLARE_PACK_QS8_QC8W_GEMM(name) \
  ck_status name(size_t groups, size_t nc, size_t ks, size_t kc, int32_t input_zero_point, \
                 const int8_t* weights, const int32_t* bias, const ck_requant* requant, void* packed);

CK_DECLARE_PACK_QS8_QC8W_GEMM(ck_pack_qs8_qc8w_gemm_nr4_kr1)       // scalar 4x4
CK_DECLARE_PACK_QS8_QC8W_GEMM(ck_pack_qs8_qc8w_gemm_nr8_kr8)       // neon 2x8c8, avx2 3x8c8
CK_DECLARE_PACK_QS8_QC8W_GEMM(ck_pack_qs8_qc8w_gemm_nr16_kr4)      // neondot 4x16c4
CK_DECLARE_PACK_QS8_QC8W_GEMM(ck_pack_qs8_qc8w_gemm_nr16_kr8_x80)  // avx512vnni 8x16c8 (input_offset 128)

size_t ck_pack_qs8_qc8w_dwconv_block_size(uint32_t cr, size_t ks);
size_t ck_pack_qs8_qc8w_dwconv_size(uint32_t cr, size_t channels, size_t ks);

ck_status ck_pack_qs8_qc8w_dwconv(uint32_t cr, size_t channels, size_t ks, int32_t input_zero_point,
                                  const int8_t* weights, const int32_t* bias, const ck_requant* requant,
                                  void* packed);

#ifdef __cplusplus
}
#endif
