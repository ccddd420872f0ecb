// The reference indirect GEMM: mr <= 4 output pixels, nr = 4 columns per packed block, kr = 1.
#include "../include/ck-qs8-qc8w-gemm.h"
#include "../internal/ck-scalar-common.h"

void ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_4x4__scalar(
    size_t mr, size_t nc, size_t kc, size_t ks, const int8_t* const* a, const void* w,
    int8_t* c, size_t cm_stride, size_t a_offset, const int8_t* zero, const ck_qs8_minmax_params* params) {
  enum { MR = 4, NR = 4 };
  const uint8_t* wp = (const uint8_t*) w;
  while (nc != 0) {
    const size_t n_block = nc < NR ? nc : NR;
    uint32_t acc[MR][NR];
    for (size_t m = 0; m < mr; m++) {
      for (size_t n = 0; n < NR; n++) acc[m][n] = (uint32_t) ck_load_i32(wp + n * sizeof(int32_t));
    }
    const int8_t* wk = (const int8_t*) (wp + NR * sizeof(int32_t));
    for (size_t t = 0; t < ks; t++) {
      for (size_t m = 0; m < mr; m++) {
        const int8_t* row = a[m * ks + t];
        if (row != zero) row += a_offset;
        for (size_t k = 0; k < kc; k++) {
          const int32_t av = row[k];
          for (size_t n = 0; n < NR; n++) acc[m][n] += (uint32_t) (av * (int32_t) wk[k * NR + n]);
        }
      }
      wk += kc * NR;
    }
    const uint8_t* rq = (const uint8_t*) wk;
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
