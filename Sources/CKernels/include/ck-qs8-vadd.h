// qs8-vadd: y = a + b for int8 tensors with their own (scale, zero point), integer-only, fused clamp.
// ResNet's residual add (ReLU after the add = output_min set to the output zero point).
//
// Definition (exact; every variant reproduces it for all int8 inputs):
//   acc = bias + a * a_multiplier + b * b_multiplier                     (int32, never overflows)
//   y   = clamp( floor((acc + 2^(shift-1)) / 2^shift) + output_zero_point, output_min, output_max )
// with, from ck_qs8_add_params_init (ra = a_scale / y_scale, rb = b_scale / y_scale):
//   max(ra, rb) = m * 2^e, m in [0.5, 1), required 2^-10 <= max(ra, rb) < 256  (else CK_ERROR_OUT_OF_RANGE)
//   shift = 21 - e  (in [13, 30]);  a_multiplier = llround(ra * 2^shift), b_multiplier likewise (<= 2^21)
//   bias = -(a_zero_point * a_multiplier + b_zero_point * b_multiplier)
// so |a * a_multiplier + b * b_multiplier| <= 2^29, |bias| <= 2^29, |acc| + 2^(shift-1) < 2^31.
// The multipliers carry 20-21 significant bits (relative error <= 2^-21 per term).
#pragma once

#include "ck-common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ck_qs8_add_params {
  int32_t bias;
  int32_t a_multiplier;
  int32_t b_multiplier;
  uint32_t shift;
  int32_t output_zero_point;
  int32_t output_min;
  int32_t output_max;
} ck_qs8_add_params;

ck_status ck_qs8_add_params_init(ck_qs8_add_params* params,
                                 int32_t a_zero_point, double a_scale,
                                 int32_t b_zero_point, double b_scale,
                                 int32_t output_zero_point, double output_scale,
                                 int32_t output_min, int32_t output_max);

// The definition above for one element (what the scalar kernel computes).
static inline int8_t ck_qs8_add_scalar(int8_t a, int8_t b, const ck_qs8_add_params* p) {
  const int32_t acc = p->bias + (int32_t) a * p->a_multiplier + (int32_t) b * p->b_multiplier;
  int32_t y = ((acc + (INT32_C(1) << (p->shift - 1))) >> p->shift) + p->output_zero_point;
  if (y < p->output_min) y = p->output_min;
  if (y > p->output_max) y = p->output_max;
  return (int8_t) y;
}

// n elements; y may alias a or b exactly (in-place), not partially.
typedef void (*ck_qs8_vadd_fn)(size_t n, const int8_t* a, const int8_t* b, int8_t* y, const ck_qs8_add_params* params);

void ck_qs8_vadd_minmax_ukernel__scalar_u1(size_t n, const int8_t* a, const int8_t* b, int8_t* y, const ck_qs8_add_params* params);
#if defined(__aarch64__)
void ck_qs8_vadd_minmax_ukernel__neon_u16(size_t n, const int8_t* a, const int8_t* b, int8_t* y, const ck_qs8_add_params* params);
#endif
#if defined(__x86_64__) || defined(_M_X64)
void ck_qs8_vadd_minmax_ukernel__avx2_u16(size_t n, const int8_t* a, const int8_t* b, int8_t* y, const ck_qs8_add_params* params);
#endif

#ifdef __cplusplus
}
#endif
