#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <string.h>

#include "../include/ck-s8-maxpool.h"

#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)

static inline __m256i load_partial_256(const int8_t* p, size_t n) {
  int8_t buf[32];
  memset(buf, INT8_MIN, sizeof(buf));
  memcpy(buf, p, n);
  return _mm256_loadu_si256((const __m256i*) buf);
}

void ck_s8_maxpool_minmax_ukernel_32c__avx2(
    size_t channels, size_t output_pixels, size_t ks, const int8_t* const* input, size_t input_offset,
    const int8_t* pad, int8_t* output, size_t output_pixel_stride, int8_t output_min, int8_t output_max) {
  const __m256i vmin = _mm256_set1_epi8(output_min);
  const __m256i vmax = _mm256_set1_epi8(output_max);
  for (size_t p = 0; p < output_pixels; p++) {
    const int8_t* const* rows = input + p * ks;
    int8_t* out = output + p * output_pixel_stride;
    for (size_t c = 0; c < channels; c += 32) {
      const size_t n = channels - c < 32 ? channels - c : 32;
      __m256i m = _mm256_set1_epi8(INT8_MIN);
      for (size_t t = 0; t < ks; t++) {
        const int8_t* row = rows[t];
        if (row != pad) row += input_offset;
        const __m256i v = n == 32 ? _mm256_loadu_si256((const __m256i*) (row + c)) : load_partial_256(row + c, n);
        m = _mm256_max_epi8(m, v);
      }
      m = _mm256_min_epi8(_mm256_max_epi8(m, vmin), vmax);
      if (n == 32) {
        _mm256_storeu_si256((__m256i*) (out + c), m);
      } else {
        int8_t buf[32];
        _mm256_storeu_si256((__m256i*) buf, m);
        memcpy(out + c, buf, n);
      }
    }
  }
}

#pragma clang attribute pop
#endif
