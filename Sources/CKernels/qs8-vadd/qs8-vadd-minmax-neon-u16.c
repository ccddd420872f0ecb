#if defined(__aarch64__)
#include "../include/ck-qs8-vadd.h"
#include "../internal/ck-neon-common.h"

void ck_qs8_vadd_minmax_ukernel__neon_u16(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                                          const ck_qs8_add_params* params) {
  const int32x4_t vbias = vdupq_n_s32(params->bias);
  const int32x4_t va_mult = vdupq_n_s32(params->a_multiplier);
  const int32x4_t vb_mult = vdupq_n_s32(params->b_multiplier);
  const int32x4_t vshift = vdupq_n_s32(-(int32_t) params->shift);
  const int16x8_t vzp = vdupq_n_s16((int16_t) params->output_zero_point);
  const int8x16_t vmin = vdupq_n_s8((int8_t) params->output_min);
  const int8x16_t vmax = vdupq_n_s8((int8_t) params->output_max);
  while (n != 0) {
    const size_t block = n < 16 ? n : 16;
    const int8x16_t va = block == 16 ? vld1q_s8(a) : ck_neon_load_partial_s8x16(a, block, 0);
    const int8x16_t vb = block == 16 ? vld1q_s8(b) : ck_neon_load_partial_s8x16(b, block, 0);
    const int16x8_t va_lo = vmovl_s8(vget_low_s8(va));
    const int16x8_t va_hi = vmovl_high_s8(va);
    const int16x8_t vb_lo = vmovl_s8(vget_low_s8(vb));
    const int16x8_t vb_hi = vmovl_high_s8(vb);
    int32x4_t vacc0 = vmlaq_s32(vbias, vmovl_s16(vget_low_s16(va_lo)), va_mult);
    int32x4_t vacc1 = vmlaq_s32(vbias, vmovl_high_s16(va_lo), va_mult);
    int32x4_t vacc2 = vmlaq_s32(vbias, vmovl_s16(vget_low_s16(va_hi)), va_mult);
    int32x4_t vacc3 = vmlaq_s32(vbias, vmovl_high_s16(va_hi), va_mult);
    vacc0 = vmlaq_s32(vacc0, vmovl_s16(vget_low_s16(vb_lo)), vb_mult);
    vacc1 = vmlaq_s32(vacc1, vmovl_high_s16(vb_lo), vb_mult);
    vacc2 = vmlaq_s32(vacc2, vmovl_s16(vget_low_s16(vb_hi)), vb_mult);
    vacc3 = vmlaq_s32(vacc3, vmovl_high_s16(vb_hi), vb_mult);
    // SRSHL: (acc + 2^(shift-1)) >> shift without intermediate overflow (and |acc| < 2^30 anyway).
    vacc0 = vrshlq_s32(vacc0, vshift);
    vacc1 = vrshlq_s32(vacc1, vshift);
    vacc2 = vrshlq_s32(vacc2, vshift);
    vacc3 = vrshlq_s32(vacc3, vshift);
    int8x16_t v = vqmovn_high_s16(vqmovn_s16(ck_neon_narrow_s32x8(vacc0, vacc1, vzp)),
                                  ck_neon_narrow_s32x8(vacc2, vacc3, vzp));
    v = vminq_s8(vmaxq_s8(v, vmin), vmax);
    if (block == 16) {
      vst1q_s8(y, v);
    } else {
      ck_neon_store_partial_s8x16(y, v, block);
    }
    a += block; b += block; y += block;
    n -= block;
  }
}
#endif
