#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "../include/ck-qs8-vadd.h"

#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#include "../internal/ck-x86-common.h"

void ck_qs8_vadd_minmax_ukernel__avx2_u16(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                                          const ck_qs8_add_params* params) {
  const __m256i vbias = _mm256_set1_epi32(params->bias + (INT32_C(1) << (params->shift - 1)));
  const __m256i va_mult = _mm256_set1_epi32(params->a_multiplier);
  const __m256i vb_mult = _mm256_set1_epi32(params->b_multiplier);
  const __m128i vshift = _mm_cvtsi32_si128((int) params->shift);
  const __m256i vzp = _mm256_set1_epi16((short) params->output_zero_point);
  const __m128i vmin = _mm_set1_epi8((char) params->output_min);
  const __m128i vmax = _mm_set1_epi8((char) params->output_max);
  while (n != 0) {
    const size_t block = n < 16 ? n : 16;
    __m128i va, vb;
    if (block == 16) {
      va = _mm_loadu_si128((const __m128i*) a);
      vb = _mm_loadu_si128((const __m128i*) b);
    } else {
      va = ck_load_partial_128(a, block);
      vb = ck_load_partial_128(b, block);
    }
    // |bias + rounding + a*am + b*bm| < 2^31 (see ck-qs8-vadd.h), so the arithmetic shift is exact.
    __m256i lo = _mm256_add_epi32(vbias, _mm256_mullo_epi32(_mm256_cvtepi8_epi32(va), va_mult));
    lo = _mm256_add_epi32(lo, _mm256_mullo_epi32(_mm256_cvtepi8_epi32(vb), vb_mult));
    __m256i hi = _mm256_add_epi32(vbias, _mm256_mullo_epi32(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(va, va)), va_mult));
    hi = _mm256_add_epi32(hi, _mm256_mullo_epi32(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(vb, vb)), vb_mult));
    lo = _mm256_sra_epi32(lo, vshift);
    hi = _mm256_sra_epi32(hi, vshift);
    const __m128i v = ck_avx2_narrow_2x8(lo, hi, vzp, vmin, vmax);
    if (block == 16) {
      _mm_storeu_si128((__m128i*) y, v);
    } else {
      ck_store_partial_128(y, v, block);
    }
    a += block; b += block; y += block;
    n -= block;
  }
}

#pragma clang attribute pop
#endif
