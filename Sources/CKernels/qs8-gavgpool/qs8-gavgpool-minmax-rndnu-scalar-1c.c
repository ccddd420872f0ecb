// The reference global average pooling.
#include "../include/ck-qs8-gavgpool.h"

void ck_qs8_gavgpool_minmax_rndnu_ukernel_1c__scalar(size_t rows, size_t channels, const int8_t* input,
                                                     size_t input_stride, int8_t* output,
                                                     const ck_qs8_gavgpool_params* params) {
  for (size_t c = 0; c < channels; c++) {
    int32_t acc = params->bias;
    for (size_t r = 0; r < rows; r++) acc += input[r * input_stride + c];
    output[c] = ck_requantize_rndnu(acc, params->requant, params->output_zero_point, params->output_min,
                                    params->output_max);
  }
}
