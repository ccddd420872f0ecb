// Shared body of the AVX-512 VNNI 8x16c8 GEMM and IGEMM kernels (included inside a
// target("avx512f,avx512bw,avx512vl,avx512vnni") region). One named variable per row (X-macros) so
// every accumulator stays in a register.
//
// VPDPBUSD multiplies u8 x s8: activations are fed as a ^ 0x80 = a + 128 (as u8), and the packer
// (input_offset = 128) folded -128 * sum(w) into the bias, so the int32 sums are exactly those of s8 x s8.
//
// Layout nr=16, kr=8: per 8 k, column j's 8 bytes are 32-bit lanes 2j (k0-3) and 2j+1 (k4-7), columns
// 0-7 in the first 64 bytes, 8-15 in the next. 8 bytes of an A row are broadcast as one 64-bit value
// (lanes: k0-3, k4-7, k0-3, ...), XORed once, and feed two VPDPBUSD: one broadcast + XOR per two
// VPDPBUSD instead of per one (c4), which is what keeps the vector pipes on the multiplies (~1.45x).
// accMxL: row M, columns 0-7 (L = lo) or 8-15 (hi), two partial sums per column (added at the end).
#pragma once

#include "ck-x86-common.h"

#define CK_VNNI_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

#define CK_VNNI_ZERO(m) __m512i acc##m##lo = _mm512_setzero_si512(), acc##m##hi = _mm512_setzero_si512();
#define CK_VNNI_DOT(m, va)                                    \
  acc##m##lo = _mm512_dpbusd_epi32(acc##m##lo, va, vblo);     \
  acc##m##hi = _mm512_dpbusd_epi32(acc##m##hi, va, vbhi);
#define CK_VNNI_STEP8(m)                                                                                 \
  {                                                                                                      \
    const __m512i va = _mm512_xor_si512(_mm512_set1_epi64((long long) ck_load_u64(a##m)), vsign);        \
    a##m += 8;                                                                                           \
    CK_VNNI_DOT(m, va)                                                                                   \
  }
#define CK_VNNI_STEP_PARTIAL(m)                                                                          \
  {                                                                                                      \
    const __m512i va = _mm512_xor_si512(_mm512_set1_epi64((long long) ck_load_partial_u64(a##m, k)), vsign); \
    CK_VNNI_DOT(m, va)                                                                                   \
  }

// Accumulates kc bytes of the row pointers a0..a7 (advanced) into the accumulators, advancing w.
// For k % 8 != 0 the packed weights of the missing k are 0 and the A bytes are zero-filled (no over-read).
#define CK_AVX512VNNI_8X16C8_ACCUMULATE(kc)                                           \
  do {                                                                                \
    size_t k = (kc);                                                                  \
    for (; k >= 8; k -= 8) {                                                          \
      const __m512i vblo = _mm512_loadu_si512((const void*) w);                       \
      const __m512i vbhi = _mm512_loadu_si512((const void*) (w + 64));                \
      w += 128;                                                                       \
      CK_VNNI_ROWS(CK_VNNI_STEP8)                                                     \
    }                                                                                 \
    if (k != 0) {                                                                     \
      const __m512i vblo = _mm512_loadu_si512((const void*) w);                       \
      const __m512i vbhi = _mm512_loadu_si512((const void*) (w + 64));                \
      w += 128;                                                                       \
      CK_VNNI_ROWS(CK_VNNI_STEP_PARTIAL)                                              \
    }                                                                                 \
  } while (0)

typedef struct ck_avx512_epilogue {
  __m512i bias, even, odd;
  __m512i multiplier, multiplier_odd, left, right, right1, max32, min32;
  __m256i zp;
  __m128i min, max;
  __mmask16 store_mask;
  int full, any_left;
} ck_avx512_epilogue;

static inline ck_avx512_epilogue ck_avx512_epilogue_load(const int8_t* bias, const int8_t* rq, size_t nc_block,
                                                         const ck_qs8_minmax_params* params) {
  ck_avx512_epilogue q;
  q.bias = _mm512_loadu_si512((const void*) bias);
  q.even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  q.odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  q.multiplier = _mm512_loadu_si512((const void*) rq);
  q.multiplier_odd = _mm512_srli_epi64(q.multiplier, 32);
  q.left = _mm512_loadu_si512((const void*) (rq + 64));
  q.right = _mm512_loadu_si512((const void*) (rq + 128));
  q.right1 = _mm512_add_epi32(q.right, _mm512_set1_epi32(1));
  q.max32 = _mm512_srav_epi32(_mm512_set1_epi32(INT32_MAX), q.left);
  q.min32 = _mm512_xor_si512(q.max32, _mm512_set1_epi32(-1));
  q.any_left = _mm512_test_epi32_mask(q.left, q.left) != 0;  // only scales >= 0.5 shift left
  q.zp = _mm256_set1_epi16((short) params->output_zero_point);
  q.min = _mm_set1_epi8((char) params->output_min);
  q.max = _mm_set1_epi8((char) params->output_max);
  q.store_mask = (__mmask16) ((1u << nc_block) - 1u);
  q.full = nc_block == 16;
  return q;
}

// Adds the lane pairs and the bias, requantizes one row of 16 (see ck-requantization.h), stores nc_block.
static inline __attribute__((always_inline)) void ck_avx512_epilogue_store(__m512i lo, __m512i hi,
                                                                           const ck_avx512_epilogue* q, int8_t* c) {
  __m512i v = _mm512_add_epi32(_mm512_add_epi32(_mm512_permutex2var_epi32(lo, q->even, hi),
                                                _mm512_permutex2var_epi32(lo, q->odd, hi)), q->bias);
  if (q->any_left) {
    v = _mm512_sllv_epi32(_mm512_min_epi32(_mm512_max_epi32(v, q->min32), q->max32), q->left);
  }
  const __m512i p_even = _mm512_mul_epi32(v, q->multiplier);
  const __m512i p_odd = _mm512_mul_epi32(_mm512_srli_epi64(v, 32), q->multiplier_odd);
  const __m512i t = _mm512_mask_blend_epi32((__mmask16) 0xAAAA, _mm512_srli_epi64(p_even, 31),
                                            _mm512_slli_epi64(p_odd, 1));
  v = _mm512_add_epi32(_mm512_srav_epi32(t, q->right1),
                       _mm512_and_si512(_mm512_srav_epi32(t, q->right), _mm512_set1_epi32(1)));
  const __m256i v16 = _mm256_adds_epi16(_mm512_cvtsepi32_epi16(v), q->zp);
  __m128i v8 = _mm256_cvtsepi16_epi8(v16);
  v8 = _mm_min_epi8(_mm_max_epi8(v8, q->min), q->max);
  if (q->full) {
    _mm_storeu_si128((__m128i*) c, v8);
  } else {
    _mm_mask_storeu_epi8(c, q->store_mask, v8);
  }
}

// Highest row first: rows past mr alias lower rows, whose (identical) values land last.
#define CK_AVX512VNNI_8X16C8_STORE(bias, rq, nc_block)                                \
  do {                                                                                \
    const ck_avx512_epilogue q = ck_avx512_epilogue_load(bias, rq, nc_block, params); \
    ck_avx512_epilogue_store(acc7lo, acc7hi, &q, c7);                                 \
    ck_avx512_epilogue_store(acc6lo, acc6hi, &q, c6);                                 \
    ck_avx512_epilogue_store(acc5lo, acc5hi, &q, c5);                                 \
    ck_avx512_epilogue_store(acc4lo, acc4hi, &q, c4);                                 \
    ck_avx512_epilogue_store(acc3lo, acc3hi, &q, c3);                                 \
    ck_avx512_epilogue_store(acc2lo, acc2hi, &q, c2);                                 \
    ck_avx512_epilogue_store(acc1lo, acc1hi, &q, c1);                                 \
    ck_avx512_epilogue_store(acc0lo, acc0hi, &q, c0);                                 \
  } while (0)
