// Private AArch64 NEON helpers (static inline; included by the NEON and NEON-dot kernels).
#pragma once

#include <arm_neon.h>
#include <string.h>

#include "../include/ck-params.h"
#include "../include/ck-requantization.h"

static inline uint32_t ck_load_u32(const int8_t* p) { uint32_t v; memcpy(&v, p, 4); return v; }

// Loads n (0..7) bytes into the low bytes of a 64-bit value, zero-filled above (no over-read).
static inline uint64_t ck_load_partial_u64(const int8_t* p, size_t n) {
  uint64_t v = 0;
  size_t off = 0;
  if (n & 4) { uint32_t t; memcpy(&t, p, 4); v = t; off = 4; }
  if (n & 2) { uint16_t t; memcpy(&t, p + off, 2); v |= (uint64_t) t << (8 * off); off += 2; }
  if (n & 1) { v |= (uint64_t) (uint8_t) p[off] << (8 * off); }
  return v;
}

static inline int8x8_t ck_neon_load_partial_s8x8(const int8_t* p, size_t n) {
  return vreinterpret_s8_u64(vcreate_u64(ck_load_partial_u64(p, n)));
}

// Loads n (< 16) bytes, the rest filled with `fill`.
static inline int8x16_t ck_neon_load_partial_s8x16(const int8_t* p, size_t n, int8_t fill) {
  int8_t buf[16];
  memset(buf, fill, sizeof(buf));
  memcpy(buf, p, n);
  return vld1q_s8(buf);
}

// Stores the low n (0..7) bytes of v.
static inline void ck_neon_store_partial_s8x8(int8_t* p, int8x8_t v, size_t n) {
  if (n & 4) { vst1_lane_u32((void*) p, vreinterpret_u32_s8(v), 0); p += 4; v = vext_s8(v, v, 4); }
  if (n & 2) { vst1_lane_u16((void*) p, vreinterpret_u16_s8(v), 0); p += 2; v = vext_s8(v, v, 2); }
  if (n & 1) { vst1_lane_s8(p, v, 0); }
}

// Stores the low n (0..15) bytes of v.
static inline void ck_neon_store_partial_s8x16(int8_t* p, int8x16_t v, size_t n) {
  int8x8_t lo = vget_low_s8(v);
  if (n & 8) { vst1_s8(p, lo); p += 8; lo = vget_high_s8(v); }
  ck_neon_store_partial_s8x8(p, lo, n & 7);
}

// Per-channel rndnu constants for 4 lanes; right1_neg = -(right_shift + 1) for SRSHL.
typedef struct ck_neon_rndnu4 { int32x4_t multiplier, left, right1_neg; } ck_neon_rndnu4;

static inline ck_neon_rndnu4 ck_neon_rndnu4_load(const int8_t* multiplier, const int8_t* left, const int8_t* right) {
  ck_neon_rndnu4 q;
  q.multiplier = vld1q_s32((const int32_t*) (const void*) multiplier);
  q.left = vld1q_s32((const int32_t*) (const void*) left);
  q.right1_neg = vmvnq_s32(vld1q_s32((const int32_t*) (const void*) right));  // ~r = -r - 1
  return q;
}

static inline ck_neon_rndnu4 ck_neon_rndnu4_broadcast(ck_requant rq) {
  const ck_requant_packed p = ck_requant_pack(rq);
  ck_neon_rndnu4 q;
  q.multiplier = vdupq_n_s32(p.multiplier);
  q.left = vdupq_n_s32(p.left_shift);
  q.right1_neg = vdupq_n_s32(-p.right_shift - 1);
  return q;
}

// SQSHL (saturating left shift), SQDMULH (= floor(x * m / 2^31)), SRSHL (rounding shift right by
// right_shift + 1): exactly round_half_up(acc * multiplier / 2^shift); see ck-requantization.h.
static inline int32x4_t ck_neon_rndnu4_apply(int32x4_t acc, ck_neon_rndnu4 q) {
  return vrshlq_s32(vqdmulhq_s32(vqshlq_s32(acc, q.left), q.multiplier), q.right1_neg);
}

// 8 int32 (two vectors) -> int16 + zero point, saturating.
static inline int16x8_t ck_neon_narrow_s32x8(int32x4_t lo, int32x4_t hi, int16x8_t vzp) {
  return vqaddq_s16(vqmovn_high_s32(vqmovn_s32(lo), hi), vzp);
}
