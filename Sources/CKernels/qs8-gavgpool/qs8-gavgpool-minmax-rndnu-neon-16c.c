#if defined(__aarch64__)
#include "../include/ck-qs8-gavgpool.h"
#include "../internal/ck-neon-common.h"

static inline int8x16_t load_row(const int8_t* p, size_t n) {
  return n == 16 ? vld1q_s8(p) : ck_neon_load_partial_s8x16(p, n, 0);
}

void ck_qs8_gavgpool_minmax_rndnu_ukernel_16c__neon(size_t rows, size_t channels, const int8_t* input,
                                                    size_t input_stride, int8_t* output,
                                                    const ck_qs8_gavgpool_params* params) {
  const ck_neon_rndnu4 q = ck_neon_rndnu4_broadcast(params->requant);
  const int32x4_t vbias = vdupq_n_s32(params->bias);
  const int16x8_t vzp = vdupq_n_s16((int16_t) params->output_zero_point);
  const int8x16_t vmin = vdupq_n_s8((int8_t) params->output_min);
  const int8x16_t vmax = vdupq_n_s8((int8_t) params->output_max);
  for (size_t c = 0; c < channels; c += 16) {
    const size_t n = channels - c < 16 ? channels - c : 16;
    int32x4_t vacc0 = vbias, vacc1 = vbias, vacc2 = vbias, vacc3 = vbias;
    const int8_t* i = input + c;
    size_t r = 0;
    for (; r + 2 <= rows; r += 2) {
      const int8x16_t vx0 = load_row(i, n);
      const int8x16_t vx1 = load_row(i + input_stride, n);
      const int16x8_t vlo = vaddl_s8(vget_low_s8(vx0), vget_low_s8(vx1));
      const int16x8_t vhi = vaddl_high_s8(vx0, vx1);
      vacc0 = vaddw_s16(vacc0, vget_low_s16(vlo));
      vacc1 = vaddw_high_s16(vacc1, vlo);
      vacc2 = vaddw_s16(vacc2, vget_low_s16(vhi));
      vacc3 = vaddw_high_s16(vacc3, vhi);
      i += 2 * input_stride;
    }
    if (r < rows) {
      const int8x16_t vx0 = load_row(i, n);
      const int16x8_t vlo = vmovl_s8(vget_low_s8(vx0));
      const int16x8_t vhi = vmovl_high_s8(vx0);
      vacc0 = vaddw_s16(vacc0, vget_low_s16(vlo));
      vacc1 = vaddw_high_s16(vacc1, vlo);
      vacc2 = vaddw_s16(vacc2, vget_low_s16(vhi));
      vacc3 = vaddw_high_s16(vacc3, vhi);
    }
    int8x16_t v = vqmovn_high_s16(
        vqmovn_s16(ck_neon_narrow_s32x8(ck_neon_rndnu4_apply(vacc0, q), ck_neon_rndnu4_apply(vacc1, q), vzp)),
        ck_neon_narrow_s32x8(ck_neon_rndnu4_apply(vacc2, q), ck_neon_rndnu4_apply(vacc3, q), vzp));
    v = vminq_s8(vmaxq_s8(v, vmin), vmax);
    if (n == 16) {
      vst1q_s8(output + c, v);
    } else {
      ck_neon_store_partial_s8x16(output + c, v, n);
    }
  }
}
#endif
