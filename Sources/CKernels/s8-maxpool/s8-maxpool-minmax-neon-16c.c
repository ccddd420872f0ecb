#if defined(__aarch64__)
#include "../include/ck-s8-maxpool.h"
#include "../internal/ck-neon-common.h"

void ck_s8_maxpool_minmax_ukernel_16c__neon(
    size_t channels, size_t output_pixels, size_t ks, const int8_t* const* input, size_t input_offset,
    const int8_t* pad, int8_t* output, size_t output_pixel_stride, int8_t output_min, int8_t output_max) {
  const int8x16_t vmin = vdupq_n_s8(output_min);
  const int8x16_t vmax = vdupq_n_s8(output_max);
  for (size_t p = 0; p < output_pixels; p++) {
    const int8_t* const* rows = input + p * ks;
    int8_t* out = output + p * output_pixel_stride;
    for (size_t c = 0; c < channels; c += 16) {
      const size_t n = channels - c < 16 ? channels - c : 16;
      int8x16_t m = vdupq_n_s8(INT8_MIN);
      for (size_t t = 0; t < ks; t++) {
        const int8_t* row = rows[t];
        if (row != pad) row += input_offset;
        m = vmaxq_s8(m, n == 16 ? vld1q_s8(row + c) : ck_neon_load_partial_s8x16(row + c, n, INT8_MIN));
      }
      m = vminq_s8(vmaxq_s8(m, vmin), vmax);
      if (n == 16) {
        vst1q_s8(out + c, m);
      } else {
        ck_neon_store_partial_s8x16(out + c, m, n);
      }
    }
  }
}
#endif
