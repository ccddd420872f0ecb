// Private x86 helpers. Include AFTER `#pragma clang attribute push(target("avx2" or "avx512..."))`
// so these static functions get the caller's target (and inline into it).
#pragma once

#include <immintrin.h>
#include <string.h>

#include "../include/ck-requantization.h"

// Loads n (0..7) bytes into the low bytes of a 64-bit value, zero-filled above (no over-read).
static inline uint64_t ck_load_partial_u64(const int8_t* p, size_t n) {
  uint64_t v = 0;
  size_t off = 0;
  if (n & 4) { uint32_t t; memcpy(&t, p, 4); v = t; off = 4; }
  if (n & 2) { uint16_t t; memcpy(&t, p + off, 2); v |= (uint64_t) t << (8 * off); off += 2; }
  if (n & 1) { v |= (uint64_t) (uint8_t) p[off] << (8 * off); }
  return v;
}

static inline uint32_t ck_load_u32(const int8_t* p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t ck_load_u64(const int8_t* p) { uint64_t v; memcpy(&v, p, 8); return v; }

// Stores the low n (0..15) bytes of v.
static inline void ck_store_partial_128(int8_t* p, __m128i v, size_t n) {
  if (n & 8) { _mm_storel_epi64((__m128i*) p, v); v = _mm_unpackhi_epi64(v, v); p += 8; }
  if (n & 4) { const uint32_t t = (uint32_t) _mm_cvtsi128_si32(v); memcpy(p, &t, 4); v = _mm_srli_epi64(v, 32); p += 4; }
  if (n & 2) { const uint16_t t = (uint16_t) _mm_cvtsi128_si32(v); memcpy(p, &t, 2); v = _mm_srli_epi64(v, 16); p += 2; }
  if (n & 1) { *p = (int8_t) _mm_cvtsi128_si32(v); }
}

static inline __m128i ck_load_partial_128(const int8_t* p, size_t n) {
  int8_t buf[16] = { 0 };
  memcpy(buf, p, n);
  return _mm_loadu_si128((const __m128i*) buf);
}

// Per-channel rndnu constants for 8 lanes (see include/ck-requantization.h for the derivation).
typedef struct ck_avx2_rndnu {
  __m256i multiplier, multiplier_odd, left_shift, right_shift, right_shift1, max, min;
} ck_avx2_rndnu;

static inline ck_avx2_rndnu ck_avx2_rndnu_load(const void* multiplier, const void* left_shift, const void* right_shift) {
  ck_avx2_rndnu r;
  r.multiplier = _mm256_loadu_si256((const __m256i*) multiplier);
  r.multiplier_odd = _mm256_srli_epi64(r.multiplier, 32);
  r.left_shift = _mm256_loadu_si256((const __m256i*) left_shift);
  r.right_shift = _mm256_loadu_si256((const __m256i*) right_shift);
  r.right_shift1 = _mm256_add_epi32(r.right_shift, _mm256_set1_epi32(1));
  r.max = _mm256_srav_epi32(_mm256_set1_epi32(INT32_MAX), r.left_shift);  // 2^(31-left) - 1
  r.min = _mm256_xor_si256(r.max, _mm256_set1_epi32(-1));                  // -2^(31-left)
  return r;
}

static inline ck_avx2_rndnu ck_avx2_rndnu_broadcast(ck_requant rq) {
  const ck_requant_packed p = ck_requant_pack(rq);
  int32_t m[8], l[8], s[8];
  for (int i = 0; i < 8; i++) { m[i] = p.multiplier; l[i] = p.left_shift; s[i] = p.right_shift; }
  return ck_avx2_rndnu_load(m, l, s);
}

// round_half_up(acc * multiplier / 2^shift) per lane, exactly (int32 result; callers narrow with saturation).
static inline __m256i ck_avx2_rndnu_apply(__m256i acc, const ck_avx2_rndnu* r) {
  acc = _mm256_min_epi32(_mm256_max_epi32(acc, r->min), r->max);
  acc = _mm256_sllv_epi32(acc, r->left_shift);
  const __m256i p_even = _mm256_mul_epi32(acc, r->multiplier);
  const __m256i p_odd = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), r->multiplier_odd);
  // floor(p / 2^31) of each 64-bit product (|p| < 2^62, so it fits in 32 bits), back in lane order.
  const __m256i t = _mm256_blend_epi32(_mm256_srli_epi64(p_even, 31), _mm256_slli_epi64(p_odd, 1), 0xAA);
  // Rounding shift right by right_shift + 1 without overflow: (t >> (r+1)) + bit r of t.
  return _mm256_add_epi32(_mm256_srav_epi32(t, r->right_shift1),
                          _mm256_and_si256(_mm256_srav_epi32(t, r->right_shift), _mm256_set1_epi32(1)));
}

// Two int32x8 (channels 0-7, 8-15) -> 16 int8 with + zero point and clamp, in channel order.
static inline __m128i ck_avx2_narrow_2x8(__m256i lo, __m256i hi, __m256i vzp16, __m128i vmin, __m128i vmax) {
  __m256i v16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
  v16 = _mm256_adds_epi16(v16, vzp16);
  __m128i v8 = _mm_packs_epi16(_mm256_castsi256_si128(v16), _mm256_extracti128_si256(v16, 1));
  return _mm_min_epi8(_mm_max_epi8(v8, vmin), vmax);
}
