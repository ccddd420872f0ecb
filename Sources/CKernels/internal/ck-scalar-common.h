// Private helpers for the scalar kernels.
#pragma once

#include <string.h>

#include "../include/ck-requantization.h"

static inline int32_t ck_load_i32(const void* p) {
  int32_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

// Requantizes with the packed per-channel parameters at index j of a block with `n` channels.
static inline int8_t ck_requantize_packed(int32_t acc, const uint8_t* rq, size_t n, size_t j,
                                          int32_t zero_point, int32_t qmin, int32_t qmax) {
  ck_requant_packed p;
  p.multiplier = ck_load_i32(rq + (0 * n + j) * sizeof(int32_t));
  p.left_shift = ck_load_i32(rq + (1 * n + j) * sizeof(int32_t));
  p.right_shift = ck_load_i32(rq + (2 * n + j) * sizeof(int32_t));
  return ck_requantize_rndnu(acc, ck_requant_unpack(p), zero_point, qmin, qmax);
}
