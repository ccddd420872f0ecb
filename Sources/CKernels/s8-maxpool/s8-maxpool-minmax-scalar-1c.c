// The reference max pooling.
#include "../include/ck-s8-maxpool.h"

void ck_s8_maxpool_minmax_ukernel_1c__scalar(
    size_t channels, size_t output_pixels, size_t ks, const int8_t* const* input, size_t input_offset,
    const int8_t* pad, int8_t* output, size_t output_pixel_stride, int8_t output_min, int8_t output_max) {
  for (size_t p = 0; p < output_pixels; p++) {
    const int8_t* const* rows = input + p * ks;
    for (size_t c = 0; c < channels; c++) {
      int8_t m = INT8_MIN;
      for (size_t t = 0; t < ks; t++) {
        const int8_t* row = rows[t];
        if (row != pad) row += input_offset;
        if (row[c] > m) m = row[c];
      }
      if (m < output_min) m = output_min;
      if (m > output_max) m = output_max;
      output[p * output_pixel_stride + c] = m;
    }
  }
}
