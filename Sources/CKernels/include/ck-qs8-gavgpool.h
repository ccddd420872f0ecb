// qs8-gavgpool: global average pooling with requantization from the input to the output scale,
// integer-only.
//
//   acc[c] = bias + sum_{r<rows} x[r][c]        bias = -rows * input_zero_point
//   out[c] = ck_requantize_rndnu(acc[c], requant, output_zero_point, output_min, output_max)
//   requant = ck_requant_from_scale(input_scale / (output_scale * rows))
// rows <= 2^23 keeps |acc| <= 255 * rows < 2^31. Row r starts at input + r * input_stride (bytes).
#pragma once

#include "ck-common.h"
#include "ck-requantization.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ck_qs8_gavgpool_params {
  int32_t bias;
  ck_requant requant;
  int32_t output_zero_point;
  int32_t output_min;
  int32_t output_max;
} ck_qs8_gavgpool_params;

ck_status ck_qs8_gavgpool_params_init(ck_qs8_gavgpool_params* params, size_t rows,
                                      int32_t input_zero_point, double input_scale,
                                      int32_t output_zero_point, double output_scale,
                                      int32_t output_min, int32_t output_max);

typedef void (*ck_qs8_gavgpool_fn)(size_t rows, size_t channels, const int8_t* input, size_t input_stride,
                                   int8_t* output, const ck_qs8_gavgpool_params* params);

void ck_qs8_gavgpool_minmax_rndnu_ukernel_1c__scalar(size_t rows, size_t channels, const int8_t* input, size_t input_stride,
                                                     int8_t* output, const ck_qs8_gavgpool_params* params);
#if defined(__aarch64__)
void ck_qs8_gavgpool_minmax_rndnu_ukernel_16c__neon(size_t rows, size_t channels, const int8_t* input, size_t input_stride,
                                                    int8_t* output, const ck_qs8_gavgpool_params* params);
#endif
#if defined(__x86_64__) || defined(_M_X64)
void ck_qs8_gavgpool_minmax_rndnu_ukernel_16c__avx2(size_t rows, size_t channels, const int8_t* input, size_t input_stride,
                                                    int8_t* output, const ck_qs8_gavgpool_params* params);
#endif

#ifdef __cplusplus
}
#endif
