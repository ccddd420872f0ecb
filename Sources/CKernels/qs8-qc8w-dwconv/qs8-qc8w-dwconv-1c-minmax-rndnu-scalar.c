// The reference depthwise convolution: one channel per packed block, any number of taps.
#include "../include/ck-qs8-qc8w-dwconv.h"
#include "../internal/ck-scalar-common.h"

void ck_qs8_qc8w_dwconv_minmax_rndnu_ukernel_1c__scalar(
    size_t channels, size_t output_pixels, size_t ks, const int8_t* const* input, size_t input_offset,
    const int8_t* zero, const void* weights, int8_t* output, size_t output_pixel_stride,
    const ck_qs8_minmax_params* params) {
  const size_t block_size = sizeof(int32_t) + ((ks + 3) & ~(size_t) 3) + 3 * sizeof(int32_t);
  for (size_t p = 0; p < output_pixels; p++) {
    const int8_t* const* rows = input + p * ks;
    const uint8_t* wp = (const uint8_t*) weights;
    for (size_t c = 0; c < channels; c++) {
      uint32_t acc = (uint32_t) ck_load_i32(wp);
      const int8_t* wk = (const int8_t*) (wp + sizeof(int32_t));
      for (size_t t = 0; t < ks; t++) {
        const int8_t* row = rows[t];
        if (row != zero) row += input_offset;
        acc += (uint32_t) ((int32_t) row[c] * (int32_t) wk[t]);
      }
      const uint8_t* rq = (const uint8_t*) wk + ((ks + 3) & ~(size_t) 3);
      output[p * output_pixel_stride + c] = ck_requantize_packed(
          (int32_t) acc, rq, 1, 0, params->output_zero_point, params->output_min, params->output_max);
      wp += block_size;
    }
  }
}
