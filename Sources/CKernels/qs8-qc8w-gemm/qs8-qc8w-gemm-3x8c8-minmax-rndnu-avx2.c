#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "../include/ck-qs8-qc8w-gemm.h"

#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#include "../internal/ck-qs8-qc8w-gemm-3x8c8-avx2.h"

void ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_3x8c8__avx2(
    size_t mr, size_t nc, size_t kc, const int8_t* a, size_t a_stride, const void* weights,
    int8_t* c, size_t cm_stride, const ck_qs8_minmax_params* params) {
  const int8_t* a0_row = a;
  int8_t* c0 = c;
  const int8_t* a1_row = a0_row + a_stride;
  int8_t* c1 = c0 + cm_stride;
  if (mr < 2) { a1_row = a0_row; c1 = c0; }
  const int8_t* a2_row = a1_row + a_stride;
  int8_t* c2 = c1 + cm_stride;
  if (mr <= 2) { a2_row = a1_row; c2 = c1; }
  const int8_t* w = (const int8_t*) weights;
  while (nc != 0) {
    const int8_t* bias = w;
    w += 32;
    CK_AVX2_ROWS(CK_AVX2_3X8C8_ZERO)
    const int8_t* a0 = a0_row;
    const int8_t* a1 = a1_row;
    const int8_t* a2 = a2_row;
    CK_AVX2_3X8C8_ACCUMULATE(kc);
    const size_t nc_block = nc < 8 ? nc : 8;
    CK_AVX2_3X8C8_STORE(w, nc_block);
    w += 96;
    c0 += 8; c1 += 8; c2 += 8;
    nc -= nc_block;
  }
}

#pragma clang attribute pop
#endif
