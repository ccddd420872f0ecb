// qs8-qc8w-dwconv: depthwise convolution (depth multiplier 1), any kernel size / stride / padding /
// dilation through the same indirection buffer as IGEMM (ck-indirection.h), NHWC.
//
//   out[p][c] = requant_c( packed_bias[c] + sum_{t<ks} P(p,t)[c] * W[c][t] )    p < output_pixels, c < channels
//   P(p,t) = input[p * ks + t] + input_offset, except pointers equal to `zero` (>= channels bytes of izp).
//   Output pixel p is written at output + p * output_pixel_stride (bytes), channels contiguous.
// `weights` is packed by ck_pack_qs8_qc8w_dwconv for the kernel's channel tile (cr). Reads exactly
// `channels` bytes per input row; writes exactly `channels` bytes per output pixel.
#pragma once

#include "ck-common.h"
#include "ck-params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*ck_qs8_qc8w_dwconv_fn)(
    size_t channels, size_t output_pixels, size_t ks,
    const int8_t* const* input, size_t input_offset, const int8_t* zero,
    const void* weights,
    int8_t* output, size_t output_pixel_stride,
    const ck_qs8_minmax_params* params);

#define CK_DECLARE_QS8_QC8W_DWCONV(name) \
  void name(size_t channels, size_t output_pixels, size_t ks, const int8_t* const* input, size_t input_offset, \
            const int8_t* zero, const void* weights, int8_t* output, size_t output_pixel_stride, \
            const ck_qs8_minmax_params* params);

CK_DECLARE_QS8_QC8W_DWCONV(ck_qs8_qc8w_dwconv_minmax_rndnu_ukernel_1c__scalar)
#if defined(__aarch64__)
CK_DECLARE_QS8_QC8W_DWCONV(ck_qs8_qc8w_dwconv_minmax_rndnu_ukernel_16c__neon_mla8)
#endif
#if defined(__x86_64__) || defined(_M_X64)
CK_DECLARE_QS8_QC8W_DWCONV(ck_qs8_qc8w_dwconv_minmax_rndnu_ukernel_16c__avx2)
#endif

#ifdef __cplusplus
}
#endif
