#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <string.h>

#include "../include/ck-qs8-qc8w-gemm.h"

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#include "../internal/ck-qs8-qc8w-gemm-8x16c8-avx512vnni.h"

void ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_8x16c8__avx512vnni(
    size_t mr, size_t nc, size_t kc, size_t ks, const int8_t* const* a, const void* weights,
    int8_t* c, size_t cm_stride, size_t a_offset, const int8_t* zero, const ck_qs8_minmax_params* params) {
#define ROW_PTRS(m) \
  const int8_t* const* const ap##m = (m) < mr ? a + (m) * ks : a + (mr - 1) * ks; \
  int8_t* c##m = (m) < mr ? c + (m) * cm_stride : c + (mr - 1) * cm_stride;
  CK_VNNI_ROWS(ROW_PTRS)
#undef ROW_PTRS
  const int8_t* w = (const int8_t*) weights;
  const __m512i vsign = _mm512_set1_epi32((int) 0x80808080);
  while (nc != 0) {
    const int8_t* bias = w;
    w += 64;
    CK_VNNI_ROWS(CK_VNNI_ZERO)
    for (size_t t = 0; t < ks; t++) {
#define ROW(m) const int8_t* a##m = ap##m[t]; if (a##m != zero) a##m += a_offset;
      CK_VNNI_ROWS(ROW)
#undef ROW
      CK_AVX512VNNI_8X16C8_ACCUMULATE(kc);
    }
    const size_t nc_block = nc < 16 ? nc : 16;
    CK_AVX512VNNI_8X16C8_STORE(bias, w, nc_block);
    w += 192;
#define ADVANCE(m) c##m += 16;
    CK_VNNI_ROWS(ADVANCE)
#undef ADVANCE
    nc -= nc_block;
  }
}

#pragma clang attribute pop
#endif
