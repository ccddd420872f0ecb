#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "../include/ck-qs8-gavgpool.h"

#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#include "../internal/ck-x86-common.h"

static inline __m256i load_s8x16_as_s16(const int8_t* p, size_t n) {
  return _mm256_cvtepi8_epi16(n >= 16 ? _mm_loadu_si128((const __m128i*) p) : ck_load_partial_128(p, n));
}

void ck_qs8_gavgpool_minmax_rndnu_ukernel_16c__avx2(size_t rows, size_t channels, const int8_t* input,
                                                    size_t input_stride, int8_t* output,
                                                    const ck_qs8_gavgpool_params* params) {
  const ck_avx2_rndnu q = ck_avx2_rndnu_broadcast(params->requant);
  const __m256i vbias = _mm256_set1_epi32(params->bias);
  const __m256i vzp = _mm256_set1_epi16((short) params->output_zero_point);
  const __m128i vmin = _mm_set1_epi8((char) params->output_min);
  const __m128i vmax = _mm_set1_epi8((char) params->output_max);
  for (size_t c = 0; c < channels; c += 16) {
    const size_t n = channels - c < 16 ? channels - c : 16;
    __m256i acc_lo = vbias, acc_hi = vbias;
    const int8_t* i = input + c;
    size_t r = 0;
    for (; r + 2 <= rows; r += 2) {
      const __m256i s = _mm256_add_epi16(load_s8x16_as_s16(i, n), load_s8x16_as_s16(i + input_stride, n));
      acc_lo = _mm256_add_epi32(acc_lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s)));
      acc_hi = _mm256_add_epi32(acc_hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s, 1)));
      i += 2 * input_stride;
    }
    if (r < rows) {
      const __m256i s = load_s8x16_as_s16(i, n);
      acc_lo = _mm256_add_epi32(acc_lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s)));
      acc_hi = _mm256_add_epi32(acc_hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s, 1)));
    }
    const __m128i v = ck_avx2_narrow_2x8(ck_avx2_rndnu_apply(acc_lo, &q), ck_avx2_rndnu_apply(acc_hi, &q),
                                         vzp, vmin, vmax);
    if (n == 16) {
      _mm_storeu_si128((__m128i*) (output + c), v);
    } else {
      ck_store_partial_128(output + c, v, n);
    }
  }
}

#pragma clang attribute pop
#endif
