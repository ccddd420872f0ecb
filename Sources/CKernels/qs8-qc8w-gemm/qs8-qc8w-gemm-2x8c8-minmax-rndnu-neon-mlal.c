#if defined(__aarch64__)
#include "../include/ck-qs8-qc8w-gemm.h"
#include "../internal/ck-qs8-qc8w-gemm-2x8c8-neon-mlal.h"

void ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_2x8c8__neon_mlal(
    size_t mr, size_t nc, size_t kc, const int8_t* a, size_t a_stride, const void* weights,
    int8_t* c, size_t cm_stride, const ck_qs8_minmax_params* params) {
  const int8_t* a0_row = a;
  int8_t* c0 = c;
  const int8_t* a1_row = a0_row + a_stride;
  int8_t* c1 = c0 + cm_stride;
  if (mr < 2) { a1_row = a0_row; c1 = c0; }
  const int8_t* w = (const int8_t*) weights;
  while (nc != 0) {
    CK_C8_COLS(CK_C8_INIT)
    w += 32;
    const int8_t* a0 = a0_row;
    const int8_t* a1 = a1_row;
    CK_NEON_2X8C8_ACCUMULATE(kc);
    const size_t nc_block = nc < 8 ? nc : 8;
    CK_NEON_2X8C8_STORE(nc_block);
    w += 96;
    c0 += 8; c1 += 8;
    nc -= nc_block;
  }
}
#endif
