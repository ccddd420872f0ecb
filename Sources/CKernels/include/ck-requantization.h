// Requantization: int32 accumulator -> int8, bit-exact across every kernel variant.
//
// ---------------------------------------------------------------------------------------------
// Scheme "rndnu" (round to nearest, ties up), exact 64-bit integer definition
// ---------------------------------------------------------------------------------------------
// A real scale S (e.g. input_scale * weight_scale[c] / output_scale) is represented as
//
//     S ~= multiplier * 2^-shift,   multiplier in [2^30, 2^31)  (or 0),  shift in [23, 62]
//
// and an int32 accumulator `acc` becomes
//
//     y = clamp( floor( (acc * multiplier + 2^(shift-1)) / 2^shift ) + zero_point,  qmin, qmax )
//
// evaluated in exact integer arithmetic (|acc * multiplier| < 2^62, so int64 suffices). That is
// acc * S rounded to the nearest integer with ties toward +infinity, plus the output zero point,
// clamped to [qmin, qmax] (int8; ReLU is qmin = zero_point, ReLU6 is qmax = zero_point + round(6/scale)).
// ck_requantize_rndnu() below is this definition, and the scalar kernels call it.
//
// It holds for EVERY int32 acc (INT32_MIN..INT32_MAX). The SIMD variants compute the same value
// by a different, provably equal route (all kernels read the per-channel form ck_requant_packed):
//   left  = max(0, 32 - shift)  (0 unless S >= 0.5),  right = max(shift, 32) - 32  (in [0, 30])
//   NEON:  t = SQSHL(acc, left)            saturating; saturation only where the output saturates anyway
//          t = SQDMULH(t, multiplier)      = floor(t * multiplier / 2^31)  (never saturates: multiplier >= 0)
//          t = SRSHL(t, -(right + 1))      = floor((t + 2^right) / 2^(right+1)), no intermediate overflow
//   x86:   t = min(max(acc, -2^(31-left)), 2^(31-left)-1) << left     (again: clamps only saturating inputs)
//          p = VPMULDQ(t, multiplier)  (64-bit);  t = bits [31, 63) of p = floor(p / 2^31)
//          t = (t >> (right+1)) + ((t >> right) & 1)                  (the same rounding shift, overflow-free)
//   Why equal: floor(floor(x / 2^31) + 2^right) / 2^(right+1)) = floor((x + 2^(shift'-1)) / 2^shift') with
//   shift' = 32 + right = shift + left, and t * multiplier * 2^-shift' = acc * multiplier * 2^-shift.
//   When left > 0 (S >= 0.5) a clamped |acc| >= 2^(22) gives |acc * S| >= 2^21, far beyond int8.
//   The narrowing (saturating int32 -> int16, + zero_point saturating, -> int8, then min/max) is
//   monotone and only saturates values that clamp to qmin/qmax anyway.
//
// The well-known gemmlowp/TFLite pair (SaturatingRoundingDoublingHighMul + RoundingDivideByPOT) is NOT
// used: its two roundings and the "nudge" on negative ties differ from vqrdmulh. Here there is one
// rounding, defined on the exact product.
//
// Float scale -> (multiplier, shift): ck_requant_from_scale() (the only definition; Swift calls it too)
//   S == 0                 -> multiplier 0, shift 32 (always yields zero_point; e.g. a dead channel)
//   0 < S < 2^-32          -> multiplier 0, shift 32 (|acc * S| < 0.5 for every int32 acc: exactly 0)
//   2^-32 <= S < 256       -> frexp(S) = m * 2^e, m in [0.5, 1); multiplier = llround(m * 2^31),
//                             if that is 2^31: multiplier = 2^30, e += 1;  shift = 31 - e   (23..62)
//   S >= 256 (after rounding), S < 0, NaN, inf -> CK_ERROR_OUT_OF_RANGE
// Scales >= 1 are supported up to 256 (shift < 31): the result is exact acc * S rounded, which for
// |acc| > 384 / S simply saturates to qmin/qmax.
//
// Accumulators: acc = packed_bias + sum(a * w) is computed modulo 2^32 (two's complement wrap-around) in
// every variant, so summation order does not matter; realistic layers (K * 128 * 127 + |bias| < 2^31)
// never wrap.
#pragma once

#include "ck-common.h"

#ifdef __cplusplus
extern "C" {
#endif

// A requantization scale: S = multiplier * 2^-shift.
typedef struct ck_requant {
  int32_t multiplier;  // 0 or [2^30, 2^31)
  uint32_t shift;      // [23, 62]
} ck_requant;

// The per-channel form the kernels read (packed right after each block's weights, see ck-pack.h).
typedef struct ck_requant_packed {
  int32_t multiplier;
  int32_t left_shift;   // max(0, 32 - shift), in [0, 9]
  int32_t right_shift;  // max(shift, 32) - 32, in [0, 30]
} ck_requant_packed;

// Smallest and largest accepted scales (the largest is exclusive).
#define CK_REQUANT_MIN_SCALE 0x1.0p-32
#define CK_REQUANT_MAX_SCALE 256.0

// Converts a real scale (e.g. (double) s_in * s_w[c] / s_out) into (multiplier, shift). See above.
ck_status ck_requant_from_scale(double scale, ck_requant* out);

// True if (multiplier, shift) is a value ck_requant_from_scale can produce.
int ck_requant_is_valid(ck_requant rq);

// The real value multiplier * 2^-shift (for diagnostics).
double ck_requant_to_scale(ck_requant rq);

static inline ck_requant_packed ck_requant_pack(ck_requant rq) {
  ck_requant_packed p;
  p.multiplier = rq.multiplier;
  p.left_shift = rq.shift < 32 ? (int32_t) (32 - rq.shift) : 0;
  p.right_shift = rq.shift > 32 ? (int32_t) (rq.shift - 32) : 0;
  return p;
}

static inline ck_requant ck_requant_unpack(ck_requant_packed p) {
  ck_requant rq;
  rq.multiplier = p.multiplier;
  rq.shift = (uint32_t) (32 + p.right_shift - p.left_shift);
  return rq;
}

// THE definition (exact integer arithmetic): clamp(round_half_up(acc * multiplier / 2^shift) + zero_point).
// Relies on >> of a negative int64 being arithmetic (true for clang and gcc).
static inline int8_t ck_requantize_rndnu(int32_t acc, ck_requant rq, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const int64_t product = (int64_t) acc * (int64_t) rq.multiplier;
  const int64_t rounding = INT64_C(1) << (rq.shift - 1);
  int64_t y = ((product + rounding) >> rq.shift) + (int64_t) zero_point;
  if (y < qmin) y = qmin;
  if (y > qmax) y = qmax;
  return (int8_t) y;
}

#ifdef __cplusplus
}
#endif
