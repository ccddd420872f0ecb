// Depthwise convolution, 16 channels per packed block, any number of taps (3x3 = 9 for MobileNetV2).
// Two taps at a time: x0*w0 + x1*w1 fits int16 exactly (|w| <= 127), then widened into int32.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "../include/ck-qs8-qc8w-dwconv.h"

#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#include "../internal/ck-x86-common.h"

static inline __m256i load_s8x16_as_s16(const int8_t* p, size_t n) {
  return _mm256_cvtepi8_epi16(n >= 16 ? _mm_loadu_si128((const __m128i*) p) : ck_load_partial_128(p, n));
}

void ck_qs8_qc8w_dwconv_minmax_rndnu_ukernel_16c__avx2(
    size_t channels, size_t output_pixels, size_t ks, const int8_t* const* input, size_t input_offset,
    const int8_t* zero, const void* weights, int8_t* output, size_t output_pixel_stride,
    const ck_qs8_minmax_params* params) {
  const size_t block_size = 16 * sizeof(int32_t) + ks * 16 + 3 * 16 * sizeof(int32_t);
  const __m256i vzp = _mm256_set1_epi16((short) params->output_zero_point);
  const __m128i vmin = _mm_set1_epi8((char) params->output_min);
  const __m128i vmax = _mm_set1_epi8((char) params->output_max);
  for (size_t p = 0; p < output_pixels; p++) {
    const int8_t* const* rows = input + p * ks;
    const int8_t* wb = (const int8_t*) weights;
    int8_t* out = output + p * output_pixel_stride;
    for (size_t c = 0; c < channels; c += 16) {
      const size_t n = channels - c < 16 ? channels - c : 16;
      __m256i acc_lo = _mm256_loadu_si256((const __m256i*) wb);
      __m256i acc_hi = _mm256_loadu_si256((const __m256i*) (wb + 32));
      const int8_t* wk = wb + 64;
      size_t t = 0;
      for (; t + 2 <= ks; t += 2) {
        const int8_t* i0 = rows[t];
        const int8_t* i1 = rows[t + 1];
        if (i0 != zero) i0 += input_offset;
        if (i1 != zero) i1 += input_offset;
        const __m256i x0 = load_s8x16_as_s16(i0 + c, n);
        const __m256i x1 = load_s8x16_as_s16(i1 + c, n);
        const __m256i k0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*) (wk + t * 16)));
        const __m256i k1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*) (wk + t * 16 + 16)));
        const __m256i prod = _mm256_add_epi16(_mm256_mullo_epi16(x0, k0), _mm256_mullo_epi16(x1, k1));
        acc_lo = _mm256_add_epi32(acc_lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(prod)));
        acc_hi = _mm256_add_epi32(acc_hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(prod, 1)));
      }
      if (t < ks) {
        const int8_t* i0 = rows[t];
        if (i0 != zero) i0 += input_offset;
        const __m256i x0 = load_s8x16_as_s16(i0 + c, n);
        const __m256i k0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*) (wk + t * 16)));
        const __m256i prod = _mm256_mullo_epi16(x0, k0);
        acc_lo = _mm256_add_epi32(acc_lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(prod)));
        acc_hi = _mm256_add_epi32(acc_hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(prod, 1)));
      }
      const int8_t* rq = wk + ks * 16;
      const ck_avx2_rndnu q_lo = ck_avx2_rndnu_load(rq, rq + 64, rq + 128);
      const ck_avx2_rndnu q_hi = ck_avx2_rndnu_load(rq + 32, rq + 96, rq + 160);
      const __m128i v = ck_avx2_narrow_2x8(ck_avx2_rndnu_apply(acc_lo, &q_lo), ck_avx2_rndnu_apply(acc_hi, &q_hi),
                                           vzp, vmin, vmax);
      if (n == 16) {
        _mm_storeu_si128((__m128i*) (out + c), v);
      } else {
        ck_store_partial_128(out + c, v, n);
      }
      wb += block_size;
    }
  }
}

#pragma clang attribute pop
#endif
