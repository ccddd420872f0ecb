#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

#include "../include/ck-qs8-qc8w-gemm.h"

#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#include "../internal/ck-qs8-qc8w-gemm-4x16c4-neondot.h"

void ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_4x16c4__neondot(
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
  const int8_t* a3_row = a2_row + a_stride;
  int8_t* c3 = c2 + cm_stride;
  if (mr != 4) { a3_row = a2_row; c3 = c2; }
  const int8_t* w = (const int8_t*) weights;
  while (nc != 0) {
    const int32x4_t vbias0 = vld1q_s32((const int32_t*) (const void*) w);
    const int32x4_t vbias1 = vld1q_s32((const int32_t*) (const void*) (w + 16));
    const int32x4_t vbias2 = vld1q_s32((const int32_t*) (const void*) (w + 32));
    const int32x4_t vbias3 = vld1q_s32((const int32_t*) (const void*) (w + 48));
    w += 64;
    CK_DOT_ROWS(CK_DOT_INIT)
    const int8_t* a0 = a0_row;
    const int8_t* a1 = a1_row;
    const int8_t* a2 = a2_row;
    const int8_t* a3 = a3_row;
    CK_NEONDOT_4X16C4_ACCUMULATE(kc);
    const size_t nc_block = nc < 16 ? nc : 16;
    CK_NEONDOT_4X16C4_STORE(nc_block);
    w += 192;
    c0 += 16; c1 += 16; c2 += 16; c3 += 16;
    nc -= nc_block;
  }
}

#pragma clang attribute pop
#endif
