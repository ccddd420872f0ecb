#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

#include "../include/ck-qs8-qc8w-gemm.h"

#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#include "../internal/ck-qs8-qc8w-gemm-4x16c4-neondot.h"

void ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_4x16c4__neondot(
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
  const int8_t* const* ap3 = ap2 + ks;
  int8_t* c3 = c2 + cm_stride;
  if (mr != 4) { ap3 = ap2; c3 = c2; }
  const int8_t* w = (const int8_t*) weights;
  while (nc != 0) {
    const int32x4_t vbias0 = vld1q_s32((const int32_t*) (const void*) w);
    const int32x4_t vbias1 = vld1q_s32((const int32_t*) (const void*) (w + 16));
    const int32x4_t vbias2 = vld1q_s32((const int32_t*) (const void*) (w + 32));
    const int32x4_t vbias3 = vld1q_s32((const int32_t*) (const void*) (w + 48));
    w += 64;
    CK_DOT_ROWS(CK_DOT_INIT)
    for (size_t t = 0; t < ks; t++) {
      const int8_t* a0 = ap0[t];
      const int8_t* a1 = ap1[t];
      const int8_t* a2 = ap2[t];
      const int8_t* a3 = ap3[t];
      if (a0 != zero) a0 += a_offset;
      if (a1 != zero) a1 += a_offset;
      if (a2 != zero) a2 += a_offset;
      if (a3 != zero) a3 += a_offset;
      CK_NEONDOT_4X16C4_ACCUMULATE(kc);
    }
    const size_t nc_block = nc < 16 ? nc : 16;
    CK_NEONDOT_4X16C4_STORE(nc_block);
    w += 192;
    c0 += 16; c1 += 16; c2 += 16; c3 += 16;
    nc -= nc_block;
  }
}

#pragma clang attribute pop
#endif
