// Depthwise convolution, 16 channels per packed block, any number of taps (3x3 = 9 for MobileNetV2).
// Two taps at a time: SMULL + SMLAL sum x0*w0 + x1*w1 in int16 (exact: |w| <= 127), SADDW into int32.
#if defined(__aarch64__)
#include "../include/ck-qs8-qc8w-dwconv.h"
#include "../internal/ck-neon-common.h"

static inline int8x16_t load_row(const int8_t* p, size_t n) {
  return n == 16 ? vld1q_s8(p) : ck_neon_load_partial_s8x16(p, n, 0);
}

void ck_qs8_qc8w_dwconv_minmax_rndnu_ukernel_16c__neon_mla8(
    size_t channels, size_t output_pixels, size_t ks, const int8_t* const* input, size_t input_offset,
    const int8_t* zero, const void* weights, int8_t* output, size_t output_pixel_stride,
    const ck_qs8_minmax_params* params) {
  const size_t block_size = 16 * sizeof(int32_t) + ks * 16 + 3 * 16 * sizeof(int32_t);
  const int16x8_t vzp = vdupq_n_s16((int16_t) params->output_zero_point);
  const int8x16_t vmin = vdupq_n_s8((int8_t) params->output_min);
  const int8x16_t vmax = vdupq_n_s8((int8_t) params->output_max);
  for (size_t p = 0; p < output_pixels; p++) {
    const int8_t* const* rows = input + p * ks;
    const int8_t* wb = (const int8_t*) weights;
    int8_t* out = output + p * output_pixel_stride;
    for (size_t c = 0; c < channels; c += 16) {
      const size_t n = channels - c < 16 ? channels - c : 16;
      int32x4_t vacc0 = vld1q_s32((const int32_t*) (const void*) wb);
      int32x4_t vacc1 = vld1q_s32((const int32_t*) (const void*) (wb + 16));
      int32x4_t vacc2 = vld1q_s32((const int32_t*) (const void*) (wb + 32));
      int32x4_t vacc3 = vld1q_s32((const int32_t*) (const void*) (wb + 48));
      const int8_t* wk = wb + 64;
      size_t t = 0;
      for (; t + 2 <= ks; t += 2) {
        const int8_t* i0 = rows[t];
        const int8_t* i1 = rows[t + 1];
        if (i0 != zero) i0 += input_offset;
        if (i1 != zero) i1 += input_offset;
        const int8x16_t vx0 = load_row(i0 + c, n);
        const int8x16_t vx1 = load_row(i1 + c, n);
        const int8x16_t vk0 = vld1q_s8(wk + t * 16);
        const int8x16_t vk1 = vld1q_s8(wk + t * 16 + 16);
        int16x8_t vlo = vmull_s8(vget_low_s8(vx0), vget_low_s8(vk0));
        int16x8_t vhi = vmull_high_s8(vx0, vk0);
        vlo = vmlal_s8(vlo, vget_low_s8(vx1), vget_low_s8(vk1));
        vhi = vmlal_high_s8(vhi, vx1, vk1);
        vacc0 = vaddw_s16(vacc0, vget_low_s16(vlo));
        vacc1 = vaddw_high_s16(vacc1, vlo);
        vacc2 = vaddw_s16(vacc2, vget_low_s16(vhi));
        vacc3 = vaddw_high_s16(vacc3, vhi);
      }
      if (t < ks) {
        const int8_t* i0 = rows[t];
        if (i0 != zero) i0 += input_offset;
        const int8x16_t vx0 = load_row(i0 + c, n);
        const int8x16_t vk0 = vld1q_s8(wk + t * 16);
        const int16x8_t vlo = vmull_s8(vget_low_s8(vx0), vget_low_s8(vk0));
        const int16x8_t vhi = vmull_high_s8(vx0, vk0);
        vacc0 = vaddw_s16(vacc0, vget_low_s16(vlo));
        vacc1 = vaddw_high_s16(vacc1, vlo);
        vacc2 = vaddw_s16(vacc2, vget_low_s16(vhi));
        vacc3 = vaddw_high_s16(vacc3, vhi);
      }
      const int8_t* rq = wk + ks * 16;
      const int16x8_t vlo = ck_neon_narrow_s32x8(
          ck_neon_rndnu4_apply(vacc0, ck_neon_rndnu4_load(rq, rq + 64, rq + 128)),
          ck_neon_rndnu4_apply(vacc1, ck_neon_rndnu4_load(rq + 16, rq + 80, rq + 144)), vzp);
      const int16x8_t vhi = ck_neon_narrow_s32x8(
          ck_neon_rndnu4_apply(vacc2, ck_neon_rndnu4_load(rq + 32, rq + 96, rq + 160)),
          ck_neon_rndnu4_apply(vacc3, ck_neon_rndnu4_load(rq + 48, rq + 112, rq + 176)), vzp);
      int8x16_t v = vqmovn_high_s16(vqmovn_s16(vlo), vhi);
      v = vminq_s8(vmaxq_s8(v, vmin), vmax);
      if (n == 16) {
        vst1q_s8(out + c, v);
      } else {
        ck_neon_store_partial_s8x16(out + c, v, n);
      }
      wb += block_size;
    }
  }
}
#endif
