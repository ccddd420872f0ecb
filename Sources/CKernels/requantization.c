// Scale conversions shared by C and Swift (the single definition), and parameter initialisers.
#include <math.h>

#include "ck-requantization.h"
#include "ck-params.h"
#include "ck-qs8-vadd.h"
#include "ck-qs8-gavgpool.h"

ck_status ck_requant_from_scale(double scale, ck_requant* out) {
  if (out == NULL) return CK_ERROR_INVALID_ARGUMENT;
  if (!(scale >= 0.0) || !(scale < CK_REQUANT_MAX_SCALE)) {  // also rejects NaN
    return CK_ERROR_OUT_OF_RANGE;
  }
  ck_requant rq = { 0, 32 };
  if (scale >= CK_REQUANT_MIN_SCALE) {
    int e = 0;
    const double m = frexp(scale, &e);  // scale = m * 2^e, m in [0.5, 1)
    long long multiplier = llround(ldexp(m, 31));
    if (multiplier == (INT64_C(1) << 31)) {
      multiplier = INT64_C(1) << 30;
      e += 1;
    }
    const int shift = 31 - e;
    if (shift < 23) return CK_ERROR_OUT_OF_RANGE;  // rounded up to 256
    if (shift <= 62) {
      rq.multiplier = (int32_t) multiplier;
      rq.shift = (uint32_t) shift;
    }
  }
  *out = rq;
  return CK_OK;
}

int ck_requant_is_valid(ck_requant rq) {
  if (rq.multiplier == 0) return rq.shift >= 23 && rq.shift <= 62;
  return rq.multiplier >= (INT32_C(1) << 30) && rq.shift >= 23 && rq.shift <= 62;
}

double ck_requant_to_scale(ck_requant rq) {
  return ldexp((double) rq.multiplier, -(int) rq.shift);
}

static int is_s8(int32_t v) { return v >= INT8_MIN && v <= INT8_MAX; }

ck_status ck_qs8_minmax_params_init(ck_qs8_minmax_params* params, int32_t output_zero_point,
                                    int32_t output_min, int32_t output_max) {
  if (params == NULL || !is_s8(output_zero_point) || !is_s8(output_min) || !is_s8(output_max) ||
      output_min > output_max) {
    return CK_ERROR_INVALID_ARGUMENT;
  }
  params->output_zero_point = output_zero_point;
  params->output_min = output_min;
  params->output_max = output_max;
  return CK_OK;
}

ck_status ck_qs8_add_params_init(ck_qs8_add_params* params,
                                 int32_t a_zero_point, double a_scale,
                                 int32_t b_zero_point, double b_scale,
                                 int32_t output_zero_point, double output_scale,
                                 int32_t output_min, int32_t output_max) {
  if (params == NULL || !is_s8(a_zero_point) || !is_s8(b_zero_point) || !is_s8(output_zero_point) ||
      !is_s8(output_min) || !is_s8(output_max) || output_min > output_max) {
    return CK_ERROR_INVALID_ARGUMENT;
  }
  if (!(a_scale > 0.0) || !(b_scale > 0.0) || !(output_scale > 0.0) ||
      !isfinite(a_scale) || !isfinite(b_scale) || !isfinite(output_scale)) {
    return CK_ERROR_OUT_OF_RANGE;
  }
  const double ra = a_scale / output_scale;
  const double rb = b_scale / output_scale;
  const double rmax = ra > rb ? ra : rb;
  if (!(rmax >= 0x1.0p-10) || !(rmax < 256.0)) return CK_ERROR_OUT_OF_RANGE;
  int e = 0;
  (void) frexp(rmax, &e);  // rmax = m * 2^e, m in [0.5, 1), e in [-9, 8]
  const int shift = 21 - e;  // [13, 30]
  const long long am = llround(ldexp(ra, shift));  // <= 2^21
  const long long bm = llround(ldexp(rb, shift));
  params->a_multiplier = (int32_t) am;
  params->b_multiplier = (int32_t) bm;
  params->bias = -(int32_t) ((long long) a_zero_point * am + (long long) b_zero_point * bm);
  params->shift = (uint32_t) shift;
  params->output_zero_point = output_zero_point;
  params->output_min = output_min;
  params->output_max = output_max;
  return CK_OK;
}

ck_status ck_qs8_gavgpool_params_init(ck_qs8_gavgpool_params* params, size_t rows,
                                      int32_t input_zero_point, double input_scale,
                                      int32_t output_zero_point, double output_scale,
                                      int32_t output_min, int32_t output_max) {
  if (params == NULL || rows == 0 || rows > ((size_t) 1 << 23) || !is_s8(input_zero_point) ||
      !is_s8(output_zero_point) || !is_s8(output_min) || !is_s8(output_max) || output_min > output_max) {
    return CK_ERROR_INVALID_ARGUMENT;
  }
  if (!(input_scale > 0.0) || !(output_scale > 0.0) || !isfinite(input_scale) || !isfinite(output_scale)) {
    return CK_ERROR_OUT_OF_RANGE;
  }
  ck_requant rq;
  const ck_status status = ck_requant_from_scale(input_scale / (output_scale * (double) rows), &rq);
  if (status != CK_OK) return status;
  params->bias = -(int32_t) rows * input_zero_point;
  params->requant = rq;
  params->output_zero_point = output_zero_point;
  params->output_min = output_min;
  params->output_max = output_max;
  return CK_OK;
}
