#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "../include/ck-qs8-qc8w-gemm.h"

#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#include "../internal/ck-qs8-qc8w-gemm-3x8c8-avx2.h"

void ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_3x8c8__avx2(
    size_t mr, size_t nc, size_t kc, size_t ks, const int8_t* const* a, const void* weights,
    int8_t* c, size_t cm_stride, size_t a_offset, const int8_t* zero, const ck_qs8_minmax_params* params) {
  const int8_t* const* ap0 = a;
  int8_t* c0 = c;
  const int8_t* const* ap1 = ap0 + ks;
  int8_t* c1 = c0 + cm_stride;
  if (mr < 2) { ap1 = ap0; c1 = c0; }
  const int8_t* const* ap2 = ap1 + ks;
  int8_t* c2 = c1 + cm_stride;
  if (mr <= 2) { ap2 = ap1; c2 = c1; }
  const int8_t* w = (const int8_t*) weights;
  while (nc != 0) {
    const int8_t* bias = w;
    w += 32;
    CK_AVX2_ROWS(CK_AVX2_3X8C8_ZERO)
    for (size_t t = 0; t < ks; t++) {
      const int8_t* a0 = ap0[t];
      const int8_t* a1 = ap1[t];
      const int8_t* a2 = ap2[t];
      if (a0 != zero) a0 += a_offset;
      if (a1 != zero) a1 += a_offset;
      if (a2 != zero) a2 += a_offset;
      CK_AVX2_3X8C8_ACCUMULATE(kc);
    }
    const size_t nc_block = nc < 8 ? nc : 8;
    CK_AVX2_3X8C8_STORE(w, nc_block);
    w += 96;
    c0 += 8; c1 += 8; c2 += 8;
    nc -= nc_block;
  }
}

#pragma clang attribute pop
#endif
