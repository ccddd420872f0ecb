// s8-maxpool: KxK max pooling (any stride, padding, dilation) over NHWC through an indirection buffer
// built by ck_indirection_init_conv2d with `zero` = a padding buffer of >= channels bytes of -128
// (INT8_MIN, the identity of max: padding is ignored, i.e. behaves as -inf). Same scale and zero point
// in and out, so no requantization; the output is clamped to [output_min, output_max] (fused ReLU).
//
//   out[p][c] = clamp( max_{t<ks} P(p,t)[c], output_min, output_max )
//   P(p,t) = input[p * ks + t] + input_offset, except pointers equal to `pad`, used as they are.
// A window made only of padding yields clamp(-128) (cannot happen when padding < kernel extent).
#pragma once

#include "ck-common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*ck_s8_maxpool_fn)(
    size_t channels, size_t output_pixels, size_t ks,
    const int8_t* const* input, size_t input_offset, const int8_t* pad,
    int8_t* output, size_t output_pixel_stride,
    int8_t output_min, int8_t output_max);

#define CK_DECLARE_S8_MAXPOOL(name) \
  void name(size_t channels, size_t output_pixels, size_t ks, const int8_t* const* input, size_t input_offset, \
            const int8_t* pad, int8_t* output, size_t output_pixel_stride, int8_t output_min, int8_t output_max);

CK_DECLARE_S8_MAXPOOL(ck_s8_maxpool_minmax_ukernel_1c__scalar)
#if defined(__aarch64__)
CK_DECLARE_S8_MAXPOOL(ck_s8_maxpool_minmax_ukernel_16c__neon)
#endif
#if defined(__x86_64__) || defined(_M_X64)
CK_DECLARE_S8_MAXPOOL(ck_s8_maxpool_minmax_ukernel_32c__avx2)
#endif

#ifdef __cplusplus
}
#endif
