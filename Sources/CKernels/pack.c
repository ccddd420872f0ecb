// Weight packers (layouts documented in include/ck-pack.h).
#include <string.h>

#include "ck-pack.h"

static size_t round_up(size_t x, size_t q) { return (x + q - 1) / q * q; }
static size_t divide_round_up(size_t x, size_t q) { return (x + q - 1) / q; }

static void store_i32(void* p, int32_t v) { memcpy(p, &v, sizeof(v)); }

size_t ck_pack_qs8_qc8w_gemm_block_size(uint32_t nr, uint32_t kr, size_t ks, size_t kc) {
  return (size_t) nr * sizeof(int32_t) + ks * round_up(kc, kr) * nr + (size_t) nr * 3 * sizeof(int32_t);
}

size_t ck_pack_qs8_qc8w_gemm_size(uint32_t nr, uint32_t kr, size_t groups, size_t nc, size_t ks, size_t kc) {
  return groups * divide_round_up(nc, nr) * ck_pack_qs8_qc8w_gemm_block_size(nr, kr, ks, kc);
}

static ck_status check_weights_and_requant(size_t count, const int8_t* weights, size_t channels,
                                           const ck_requant* requant) {
  for (size_t i = 0; i < count; i++) {
    if (weights[i] == INT8_MIN) return CK_ERROR_OUT_OF_RANGE;
  }
  for (size_t i = 0; i < channels; i++) {
    if (!ck_requant_is_valid(requant[i])) return CK_ERROR_OUT_OF_RANGE;
  }
  return CK_OK;
}

ck_status ck_pack_qs8_qc8w_gemm(uint32_t nr, uint32_t kr, int32_t input_offset,
                                size_t groups, size_t nc, size_t ks, size_t kc,
                                int32_t input_zero_point,
                                const int8_t* weights, const int32_t* bias, const ck_requant* requant,
                                void* packed) {
  if (nr == 0 || kr == 0 || groups == 0 || nc == 0 || ks == 0 || kc == 0 || weights == NULL ||
      requant == NULL || packed == NULL || input_zero_point < INT8_MIN || input_zero_point > INT8_MAX) {
    return CK_ERROR_INVALID_ARGUMENT;
  }
  const ck_status status = check_weights_and_requant(groups * nc * ks * kc, weights, groups * nc, requant);
  if (status != CK_OK) return status;

  const uint32_t izp = (uint32_t) (input_zero_point + input_offset);
  const size_t kc_blocks = divide_round_up(kc, kr);
  const size_t block_size = ck_pack_qs8_qc8w_gemm_block_size(nr, kr, ks, kc);
  uint8_t* out = (uint8_t*) packed;
  for (size_t g = 0; g < groups; g++) {
    const int8_t* wg = weights + g * nc * ks * kc;
    for (size_t n0 = 0; n0 < nc; n0 += nr) {
      uint8_t* block = out;
      memset(block, 0, block_size);
      // Bias with the input zero point folded in: bias - izp * sum(w), modulo 2^32.
      for (size_t j = 0; j < nr && n0 + j < nc; j++) {
        const size_t n = n0 + j;
        const int8_t* wn = wg + n * ks * kc;
        uint32_t sum = 0;
        for (size_t i = 0; i < ks * kc; i++) sum += (uint32_t) (int32_t) wn[i];
        const uint32_t b = bias != NULL ? (uint32_t) bias[g * nc + n] : 0;
        store_i32(block + j * sizeof(int32_t), (int32_t) (b - izp * sum));
      }
      int8_t* wp = (int8_t*) (block + nr * sizeof(int32_t));
      for (size_t t = 0; t < ks; t++) {
        for (size_t kb = 0; kb < kc_blocks; kb++) {
          for (size_t j = 0; j < nr; j++) {
            for (size_t i = 0; i < kr; i++) {
              const size_t n = n0 + j;
              const size_t k = kb * kr + i;
              if (n < nc && k < kc) {
                wp[j * kr + i] = wg[(n * ks + t) * kc + k];
              }
            }
          }
          wp += (size_t) nr * kr;
        }
      }
      uint8_t* rp = (uint8_t*) wp;
      for (size_t j = 0; j < nr; j++) {
        ck_requant rq = { 0, 32 };
        if (n0 + j < nc) rq = requant[g * nc + n0 + j];
        const ck_requant_packed p = ck_requant_pack(rq);
        store_i32(rp + (0 * nr + j) * sizeof(int32_t), p.multiplier);
        store_i32(rp + (1 * nr + j) * sizeof(int32_t), p.left_shift);
        store_i32(rp + (2 * nr + j) * sizeof(int32_t), p.right_shift);
      }
      out += block_size;
    }
  }
  return CK_OK;
}

#define DEFINE_PACKER(name, nr, kr, offset)                                                              \
  ck_status name(size_t groups, size_t nc, size_t ks, size_t kc, int32_t input_zero_point,              \
                 const int8_t* weights, const int32_t* bias, const ck_requant* requant, void* packed) {  \
    return ck_pack_qs8_qc8w_gemm(nr, kr, offset, groups, nc, ks, kc, input_zero_point, weights, bias,    \
                                 requant, packed);                                                       \
  }

DEFINE_PACKER(ck_pack_qs8_qc8w_gemm_nr4_kr1, 4, 1, 0)
DEFINE_PACKER(ck_pack_qs8_qc8w_gemm_nr8_kr8, 8, 8, 0)
DEFINE_PACKER(ck_pack_qs8_qc8w_gemm_nr16_kr4, 16, 4, 0)
DEFINE_PACKER(ck_pack_qs8_qc8w_gemm_nr16_kr8_x80, 16, 8, 128)

size_t ck_pack_qs8_qc8w_dwconv_block_size(uint32_t cr, size_t ks) {
  return (size_t) cr * sizeof(int32_t) + round_up(ks * cr, sizeof(int32_t)) + (size_t) cr * 3 * sizeof(int32_t);
}

size_t ck_pack_qs8_qc8w_dwconv_size(uint32_t cr, size_t channels, size_t ks) {
  return divide_round_up(channels, cr) * ck_pack_qs8_qc8w_dwconv_block_size(cr, ks);
}

ck_status ck_pack_qs8_qc8w_dwconv(uint32_t cr, size_t channels, size_t ks, int32_t input_zero_point,
                                  const int8_t* weights, const int32_t* bias, const ck_requant* requant,
                                  void* packed) {
  if (cr == 0 || channels == 0 || ks == 0 || weights == NULL || requant == NULL || packed == NULL ||
      input_zero_point < INT8_MIN || input_zero_point > INT8_MAX) {
    return CK_ERROR_INVALID_ARGUMENT;
  }
  const ck_status status = check_weights_and_requant(channels * ks, weights, channels, requant);
  if (status != CK_OK) return status;
  const size_t block_size = ck_pack_qs8_qc8w_dwconv_block_size(cr, ks);
  uint8_t* out = (uint8_t*) packed;
  for (size_t c0 = 0; c0 < channels; c0 += cr) {
    memset(out, 0, block_size);
    for (size_t j = 0; j < cr && c0 + j < channels; j++) {
      const size_t c = c0 + j;
      uint32_t sum = 0;
      for (size_t t = 0; t < ks; t++) sum += (uint32_t) (int32_t) weights[c * ks + t];
      const uint32_t b = bias != NULL ? (uint32_t) bias[c] : 0;
      store_i32(out + j * sizeof(int32_t), (int32_t) (b - (uint32_t) input_zero_point * sum));
    }
    int8_t* wp = (int8_t*) (out + cr * sizeof(int32_t));
    for (size_t t = 0; t < ks; t++) {
      for (size_t j = 0; j < cr && c0 + j < channels; j++) {
        wp[t * cr + j] = weights[(c0 + j) * ks + t];
      }
    }
    uint8_t* rp = (uint8_t*) wp + round_up(ks * cr, sizeof(int32_t));
    for (size_t j = 0; j < cr; j++) {
      ck_requant rq = { 0, 32 };
      if (c0 + j < channels) rq = requant[c0 + j];
      const ck_requant_packed p = ck_requant_pack(rq);
      store_i32(rp + (0 * cr + j) * sizeof(int32_t), p.multiplier);
      store_i32(rp + (1 * cr + j) * sizeof(int32_t), p.left_shift);
      store_i32(rp + (2 * cr + j) * sizeof(int32_t), p.right_shift);
    }
    out += block_size;
  }
  return CK_OK;
}
