// Per-call output parameters shared by the GEMM, IGEMM and depthwise kernels.
#pragma once

#include "ck-common.h"

#ifdef __cplusplus
extern "C" {
#endif

// Output zero point and clamp, all in int8 range. The per-channel requantization scale lives in the
// packed weights; this struct is per tensor (per call).
typedef struct ck_qs8_minmax_params {
  int32_t output_zero_point;  // [-128, 127]
  int32_t output_min;         // [-128, 127], <= output_max
  int32_t output_max;         // [-128, 127]
} ck_qs8_minmax_params;

ck_status ck_qs8_minmax_params_init(ck_qs8_minmax_params* params, int32_t output_zero_point,
                                    int32_t output_min, int32_t output_max);

#ifdef __cplusplus
}
#endif
