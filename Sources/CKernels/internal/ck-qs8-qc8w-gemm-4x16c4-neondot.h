// Shared body of the NEON dot-product 4x16c4 GEMM and IGEMM kernels (included inside a
// target("dotprod") region). Packed layout nr=16, kr=4: per 4 k, 16 columns x 4 bytes, so one
// 16-byte load is 4 columns x 4 k for SDOT (by lane: the lane picks 4 k of the A row).
// vaccMxQ: row M, columns 4Q..4Q+3.
#pragma once

#include "ck-neon-common.h"

#define CK_DOT_ROWS(X) X(0) X(1) X(2) X(3)

#define CK_DOT_INIT(m) \
  int32x4_t vacc##m##x0 = vbias0, vacc##m##x1 = vbias1, vacc##m##x2 = vbias2, vacc##m##x3 = vbias3;

#define CK_DOT_ROW(m, lane, vb0, vb1, vb2, vb3)                        \
  vacc##m##x0 = vdotq_lane_s32(vacc##m##x0, vb0, va##m, lane);         \
  vacc##m##x1 = vdotq_lane_s32(vacc##m##x1, vb1, va##m, lane);         \
  vacc##m##x2 = vdotq_lane_s32(vacc##m##x2, vb2, va##m, lane);         \
  vacc##m##x3 = vdotq_lane_s32(vacc##m##x3, vb3, va##m, lane);

#define CK_DOT_LOAD8(m) const int8x8_t va##m = vld1_s8(a##m); a##m += 8;
#define CK_DOT_LOAD4(m) const int8x8_t va##m = vreinterpret_s8_u32(vdup_n_u32(ck_load_u32(a##m))); a##m += 4;
#define CK_DOT_LOADP(m) const int8x8_t va##m = ck_neon_load_partial_s8x8(a##m, k);
#define CK_DOT_K0(m) CK_DOT_ROW(m, 0, vb0x0, vb1x0, vb2x0, vb3x0)
#define CK_DOT_K1(m) CK_DOT_ROW(m, 1, vb0x1, vb1x1, vb2x1, vb3x1)

#define CK_DOT_LOAD_B(kk)                                      \
  const int8x16_t vb0x##kk = vld1q_s8(w);                      \
  const int8x16_t vb1x##kk = vld1q_s8(w + 16);                 \
  const int8x16_t vb2x##kk = vld1q_s8(w + 32);                 \
  const int8x16_t vb3x##kk = vld1q_s8(w + 48);                 \
  w += 64;

// Accumulates kc bytes of rows a0..a3 (advanced), advancing w. For k % 4 != 0 the packed weights
// of the missing k are 0 and the A bytes are zero-filled (no over-read).
#define CK_NEONDOT_4X16C4_ACCUMULATE(kc)          \
  do {                                            \
    size_t k = (kc);                              \
    for (; k >= 8; k -= 8) {                      \
      CK_DOT_ROWS(CK_DOT_LOAD8)                   \
      CK_DOT_LOAD_B(0)                            \
      CK_DOT_LOAD_B(1)                            \
      CK_DOT_ROWS(CK_DOT_K0)                      \
      CK_DOT_ROWS(CK_DOT_K1)                      \
    }                                             \
    if (k >= 4) {                                 \
      CK_DOT_ROWS(CK_DOT_LOAD4)                   \
      CK_DOT_LOAD_B(0)                            \
      CK_DOT_ROWS(CK_DOT_K0)                      \
      k -= 4;                                     \
    }                                             \
    if (k != 0) {                                 \
      CK_DOT_ROWS(CK_DOT_LOADP)                   \
      CK_DOT_LOAD_B(0)                            \
      CK_DOT_ROWS(CK_DOT_K0)                      \
    }                                             \
  } while (0)

typedef struct ck_neondot_epilogue {
  ck_neon_rndnu4 q0, q1, q2, q3;
  int16x8_t zp;
  int8x16_t min, max;
} ck_neondot_epilogue;

static inline ck_neondot_epilogue ck_neondot_epilogue_load(const int8_t* rq, const ck_qs8_minmax_params* params) {
  ck_neondot_epilogue e;
  e.q0 = ck_neon_rndnu4_load(rq, rq + 64, rq + 128);
  e.q1 = ck_neon_rndnu4_load(rq + 16, rq + 80, rq + 144);
  e.q2 = ck_neon_rndnu4_load(rq + 32, rq + 96, rq + 160);
  e.q3 = ck_neon_rndnu4_load(rq + 48, rq + 112, rq + 176);
  e.zp = vdupq_n_s16((int16_t) params->output_zero_point);
  e.min = vdupq_n_s8((int8_t) params->output_min);
  e.max = vdupq_n_s8((int8_t) params->output_max);
  return e;
}

static inline __attribute__((always_inline)) void ck_neondot_store_row(
    int32x4_t x0, int32x4_t x1, int32x4_t x2, int32x4_t x3, const ck_neondot_epilogue* e, int8_t* c, size_t nc_block) {
  const int16x8_t lo = ck_neon_narrow_s32x8(ck_neon_rndnu4_apply(x0, e->q0), ck_neon_rndnu4_apply(x1, e->q1), e->zp);
  const int16x8_t hi = ck_neon_narrow_s32x8(ck_neon_rndnu4_apply(x2, e->q2), ck_neon_rndnu4_apply(x3, e->q3), e->zp);
  int8x16_t v = vqmovn_high_s16(vqmovn_s16(lo), hi);
  v = vminq_s8(vmaxq_s8(v, e->min), e->max);
  if (nc_block == 16) {
    vst1q_s8(c, v);
  } else {
    ck_neon_store_partial_s8x16(c, v, nc_block);
  }
}

// Highest row first: rows past mr alias lower rows, whose (identical) values land last.
#define CK_NEONDOT_4X16C4_STORE(nc_block)                                                      \
  do {                                                                                         \
    const ck_neondot_epilogue e = ck_neondot_epilogue_load(w, params);                         \
    ck_neondot_store_row(vacc3x0, vacc3x1, vacc3x2, vacc3x3, &e, c3, nc_block);                \
    ck_neondot_store_row(vacc2x0, vacc2x1, vacc2x2, vacc2x3, &e, c2, nc_block);                \
    ck_neondot_store_row(vacc1x0, vacc1x1, vacc1x2, vacc1x3, &e, c1, nc_block);                \
    ck_neondot_store_row(vacc0x0, vacc0x1, vacc0x2, vacc0x3, &e, c0, nc_block);                \
  } while (0)
