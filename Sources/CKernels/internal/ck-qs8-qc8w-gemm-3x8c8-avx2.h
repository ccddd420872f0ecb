// Shared body of the AVX2 3x8c8 GEMM and IGEMM kernels (included inside a target("avx2") region).
// Packed layout nr=8, kr=8: per 8 k, 8 columns x 8 bytes. VPMADDWD on sign-extended int16 is exact
// (|a*w| <= 2^14, pair sums <= 2^15): no VPMADDUBSW saturation, no reduce_range.
// accMxJ holds row M, columns (2J, 2J+1): low 128 bits = 4 partial sums of column 2J, high = 2J+1.
#pragma once

#include "ck-x86-common.h"

#define CK_AVX2_ROWS(X) X(0) X(1) X(2)

#define CK_AVX2_LOAD_A(m) \
  const __m256i va##m = _mm256_cvtepi8_epi16(_mm_set1_epi64x((long long) ck_load_u64(a##m))); a##m += 8;
#define CK_AVX2_LOAD_A_PARTIAL(m) \
  const __m256i va##m = _mm256_cvtepi8_epi16(_mm_set1_epi64x((long long) ck_load_partial_u64(a##m, k)));
// Each column pair is consumed right after its load: 12 accumulators + 3 A + 1 B fit the 16 ymm registers.
#define CK_AVX2_MADD(m, j) acc##m##x##j = _mm256_add_epi32(acc##m##x##j, _mm256_madd_epi16(va##m, vb));
#define CK_AVX2_COLUMNS(j)                                                                          \
  {                                                                                                 \
    const __m256i vb = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*) (w + 16 * j)));        \
    CK_AVX2_MADD(0, j) CK_AVX2_MADD(1, j) CK_AVX2_MADD(2, j)                                        \
  }
#define CK_AVX2_ALL_COLUMNS CK_AVX2_COLUMNS(0) CK_AVX2_COLUMNS(1) CK_AVX2_COLUMNS(2) CK_AVX2_COLUMNS(3) w += 64;

#define CK_AVX2_3X8C8_ZERO(m) \
  __m256i acc##m##x0 = _mm256_setzero_si256(), acc##m##x1 = _mm256_setzero_si256(), \
          acc##m##x2 = _mm256_setzero_si256(), acc##m##x3 = _mm256_setzero_si256();

// Accumulates kc bytes of the row pointers a0..a2 (advanced) into the accumulators, advancing w.
#define CK_AVX2_3X8C8_ACCUMULATE(kc)            \
  do {                                          \
    size_t k = (kc);                            \
    for (; k >= 8; k -= 8) {                    \
      CK_AVX2_ROWS(CK_AVX2_LOAD_A)              \
      CK_AVX2_ALL_COLUMNS                       \
    }                                           \
    if (k != 0) {                               \
      CK_AVX2_ROWS(CK_AVX2_LOAD_A_PARTIAL)      \
      CK_AVX2_ALL_COLUMNS                       \
    }                                           \
  } while (0)

static inline __attribute__((always_inline)) __m256i ck_avx2_3x8c8_reduce(__m256i x0, __m256i x1, __m256i x2,
                                                                          __m256i x3, __m256i vbias) {
  const __m256i vperm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(x0, x1), _mm256_hadd_epi32(x2, x3));  // [0 2 4 6 | 1 3 5 7]
  return _mm256_add_epi32(_mm256_permutevar8x32_epi32(h, vperm), vbias);
}

// Requantizes and stores one 3x8 tile (nc_block <= 8 columns). r0..r2: int32 rows in column order.
static inline __attribute__((always_inline)) void ck_avx2_3x8c8_store(
    __m256i r0, __m256i r1, __m256i r2, const int8_t* rq, int8_t* c0, int8_t* c1, int8_t* c2, size_t nc_block,
    const ck_qs8_minmax_params* params) {
  const __m256i vperm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const ck_avx2_rndnu q = ck_avx2_rndnu_load(rq, rq + 32, rq + 64);
  r0 = ck_avx2_rndnu_apply(r0, &q);
  r1 = ck_avx2_rndnu_apply(r1, &q);
  r2 = ck_avx2_rndnu_apply(r2, &q);
  const __m256i vzp = _mm256_set1_epi16((short) params->output_zero_point);
  const __m256i v01 = _mm256_adds_epi16(_mm256_packs_epi32(r0, r1), vzp);  // [r0 0-3, r1 0-3 | r0 4-7, r1 4-7]
  const __m256i v22 = _mm256_adds_epi16(_mm256_packs_epi32(r2, r2), vzp);
  __m256i v8 = _mm256_packs_epi16(v01, v22);  // dwords: [r0a r1a r2a r2a | r0b r1b r2b r2b]
  v8 = _mm256_max_epi8(v8, _mm256_set1_epi8((char) params->output_min));
  v8 = _mm256_min_epi8(v8, _mm256_set1_epi8((char) params->output_max));
  v8 = _mm256_permutevar8x32_epi32(v8, vperm);  // [r0a r0b r1a r1b r2a r2b r2a r2b]
  const __m128i v0 = _mm256_castsi256_si128(v8);       // row 0 (low 8 bytes), row 1 (high 8 bytes)
  const __m128i v1 = _mm_unpackhi_epi64(v0, v0);
  const __m128i v2 = _mm256_extracti128_si256(v8, 1);  // row 2
  // Highest row first: when mr < 3 the upper row pointers alias lower rows, whose values land last.
  if (nc_block == 8) {
    _mm_storel_epi64((__m128i*) c2, v2);
    _mm_storel_epi64((__m128i*) c1, v1);
    _mm_storel_epi64((__m128i*) c0, v0);
  } else {
    ck_store_partial_128(c2, v2, nc_block);
    ck_store_partial_128(c1, v1, nc_block);
    ck_store_partial_128(c0, v0, nc_block);
  }
}

#define CK_AVX2_3X8C8_STORE(rq, nc_block)                                                       \
  do {                                                                                          \
    const __m256i vbias = _mm256_loadu_si256((const __m256i*) bias);                            \
    ck_avx2_3x8c8_store(ck_avx2_3x8c8_reduce(acc0x0, acc0x1, acc0x2, acc0x3, vbias),            \
                        ck_avx2_3x8c8_reduce(acc1x0, acc1x1, acc1x2, acc1x3, vbias),            \
                        ck_avx2_3x8c8_reduce(acc2x0, acc2x1, acc2x2, acc2x3, vbias),            \
                        rq, c0, c1, c2, nc_block, params);                                      \
  } while (0)
