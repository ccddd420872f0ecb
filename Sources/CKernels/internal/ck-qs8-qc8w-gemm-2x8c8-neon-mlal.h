// Shared body of the NEON 2x8c8 GEMM and IGEMM kernels (XNNPACK's Cortex-A72 choice).
// Per column and row, two int8 x int8 products are summed in int16 (SMULL + SMLAL) and pairwise
// accumulated into int32 (SADALP). Exact because weights are in [-127, 127]: |2 * 128 * 127| < 2^15.
// Packed layout nr=8, kr=8. vaccMxN: row M, column N, 4 partial sums (bias in lane 0).
#pragma once

#include "ck-neon-common.h"

#define CK_C8_COLS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

#define CK_C8_INIT(n) \
  int32x4_t vacc0x##n = vld1q_lane_s32((const int32_t*) (const void*) (w + 4 * n), vdupq_n_s32(0), 0); \
  int32x4_t vacc1x##n = vacc0x##n;

// 16 k: two 8-byte chunks per column, SMULL + SMLAL, then SADALP.
#define CK_C8_MLAL(n)                                                         \
  {                                                                           \
    const int8x8_t vb0 = vld1_s8(w + 8 * n);                                  \
    const int8x8_t vb1 = vld1_s8(w + 64 + 8 * n);                             \
    int16x8_t vprod0 = vmull_s8(vb0, va0x0);                                  \
    int16x8_t vprod1 = vmull_s8(vb0, va1x0);                                  \
    vprod0 = vmlal_s8(vprod0, vb1, va0x1);                                    \
    vprod1 = vmlal_s8(vprod1, vb1, va1x1);                                    \
    vacc0x##n = vpadalq_s16(vacc0x##n, vprod0);                               \
    vacc1x##n = vpadalq_s16(vacc1x##n, vprod1);                               \
  }

// 8 k: one chunk per column, SMULL, SADALP.
#define CK_C8_MULL(n)                                                         \
  {                                                                           \
    const int8x8_t vb0 = vld1_s8(w + 8 * n);                                  \
    vacc0x##n = vpadalq_s16(vacc0x##n, vmull_s8(vb0, va0x0));                 \
    vacc1x##n = vpadalq_s16(vacc1x##n, vmull_s8(vb0, va1x0));                 \
  }

// Accumulates kc bytes of rows a0, a1 (advanced), advancing w.
#define CK_NEON_2X8C8_ACCUMULATE(kc)                                          \
  do {                                                                        \
    size_t k = (kc);                                                          \
    for (; k >= 16; k -= 16) {                                                \
      const int8x8_t va0x0 = vld1_s8(a0);                                     \
      const int8x8_t va0x1 = vld1_s8(a0 + 8);                                 \
      const int8x8_t va1x0 = vld1_s8(a1);                                     \
      const int8x8_t va1x1 = vld1_s8(a1 + 8);                                 \
      a0 += 16; a1 += 16;                                                     \
      CK_C8_COLS(CK_C8_MLAL)                                                  \
      w += 128;                                                               \
    }                                                                         \
    if (k >= 8) {                                                             \
      const int8x8_t va0x0 = vld1_s8(a0);                                     \
      const int8x8_t va1x0 = vld1_s8(a1);                                     \
      a0 += 8; a1 += 8;                                                       \
      CK_C8_COLS(CK_C8_MULL)                                                  \
      w += 64;                                                                \
      k -= 8;                                                                 \
    }                                                                         \
    if (k != 0) {                                                             \
      const int8x8_t va0x0 = ck_neon_load_partial_s8x8(a0, k);                \
      const int8x8_t va1x0 = ck_neon_load_partial_s8x8(a1, k);                \
      CK_C8_COLS(CK_C8_MULL)                                                  \
      w += 64;                                                                \
    }                                                                         \
  } while (0)

static inline __attribute__((always_inline)) void ck_neon_2x8c8_store(
    int32x4_t r0_0123, int32x4_t r0_4567, int32x4_t r1_0123, int32x4_t r1_4567,
    const int8_t* rq, int8_t* c0, int8_t* c1, size_t nc_block, const ck_qs8_minmax_params* params) {
  const ck_neon_rndnu4 q0123 = ck_neon_rndnu4_load(rq, rq + 32, rq + 64);
  const ck_neon_rndnu4 q4567 = ck_neon_rndnu4_load(rq + 16, rq + 48, rq + 80);
  const int16x8_t vzp = vdupq_n_s16((int16_t) params->output_zero_point);
  const int16x8_t v0 = ck_neon_narrow_s32x8(ck_neon_rndnu4_apply(r0_0123, q0123), ck_neon_rndnu4_apply(r0_4567, q4567), vzp);
  const int16x8_t v1 = ck_neon_narrow_s32x8(ck_neon_rndnu4_apply(r1_0123, q0123), ck_neon_rndnu4_apply(r1_4567, q4567), vzp);
  int8x16_t v01 = vqmovn_high_s16(vqmovn_s16(v0), v1);
  v01 = vmaxq_s8(v01, vdupq_n_s8((int8_t) params->output_min));
  v01 = vminq_s8(v01, vdupq_n_s8((int8_t) params->output_max));
  // Row 1 first: when mr == 1, c1 aliases c0 and row 0's (identical) values land last.
  if (nc_block == 8) {
    vst1_s8(c1, vget_high_s8(v01));
    vst1_s8(c0, vget_low_s8(v01));
  } else {
    ck_neon_store_partial_s8x8(c1, vget_high_s8(v01), nc_block);
    ck_neon_store_partial_s8x8(c0, vget_low_s8(v01), nc_block);
  }
}

#define CK_NEON_2X8C8_STORE(nc_block)                                                                \
  ck_neon_2x8c8_store(vpaddq_s32(vpaddq_s32(vacc0x0, vacc0x1), vpaddq_s32(vacc0x2, vacc0x3)),        \
                      vpaddq_s32(vpaddq_s32(vacc0x4, vacc0x5), vpaddq_s32(vacc0x6, vacc0x7)),        \
                      vpaddq_s32(vpaddq_s32(vacc1x0, vacc1x1), vpaddq_s32(vacc1x2, vacc1x3)),        \
                      vpaddq_s32(vpaddq_s32(vacc1x4, vacc1x5), vpaddq_s32(vacc1x6, vacc1x7)),        \
                      w, c0, c1, nc_block, params)
