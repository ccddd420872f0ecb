// The reference GEMM: mr <= 4 rows, nr = 4 columns per packed block, kr = 1.
// Accumulation is modulo 2^32 (uint32_t), as in every SIMD variant.
#include "../include/ck-qs8-qc8w-gemm.h"
#include "../internal/ck-scalar-common.h"

void ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_4x4__scalar(
    size_t mr, size_t nc, size_t kc, const int8_t* a, size_t a_stride, const void* w,
    int8_t* c, size_t cm_stride, const ck_qs8_minmax_params* params) {
  enum { MR = 4, NR = 4 };
  const uint8_t* wp = (const uint8_t*) w;
  while (nc != 0) {
    const size_t n_block = nc < NR ? nc : NR;
    uint32_t acc[MR][NR];
    for (size_t m = 0; m < mr; m++) {
      for (size_t n = 0; n < NR; n++) acc[m][n] = (uint32_t) ck_load_i32(wp + n * sizeof(int32_t));
    }
    const int8_t* wk = (const int8_t*) (wp + NR * sizeof(int32_t));
    for (size_t k = 0; k < kc; k++) {
      for (size_t m = 0; m < mr; m++) {
        const int32_t av = a[m * a_stride + k];
        for (size_t n = 0; n < NR; n++) acc[m][n] += (uint32_t) (av * (int32_t) wk[k * NR + n]);
      }
    }
    const uint8_t* rq = (const uint8_t*) (wk + kc * NR);
    for (size_t m = 0; m < mr; m++) {
      for (size_t n = 0; n < n_block; n++) {
        c[m * cm_stride + n] = ck_requantize_packed((int32_t) acc[m][n], rq, NR, n, params->output_zero_point,
                                                    params->output_min, params->output_max);
      }
    }
    wp = rq + 3 * NR * sizeof(int32_t);
    c += n_block;
    nc -= n_block;
  }
}
