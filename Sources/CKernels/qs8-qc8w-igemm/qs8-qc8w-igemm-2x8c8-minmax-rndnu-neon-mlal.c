#if defined(__aarch64__)
#include "../include/ck-qs8-qc8w-gemm.h"
#include "../internal/ck-qs8-qc8w-gemm-2x8c8-neon-mlal.h"

// Scheduled for the Cortex-A72 (this kernel's core) even in generic -O3 builds: with generic tuning, clang 17-19
// allocate the K loop's 16 accumulators through 30 register moves and a spill per iteration (82 % of the A72's
// SMLAL peak in llvm-mca instead of 100 %, 45 % more executed instructions; scripts/kernel-peak-aarch64.sh).
#pragma clang attribute push(__attribute__((target("tune=cortex-a72"))), apply_to = function)

void ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_2x8c8__neon_mlal(
    size_t mr, size_t nc, size_t kc, size_t ks, const int8_t* const* a, const void* weights,
    int8_t* c, size_t cm_stride, size_t a_offset, const int8_t* zero, const ck_qs8_minmax_params* params) {
  const int8_t* const* ap0 = a;
  int8_t* c0 = c;
  const int8_t* const* ap1 = ap0 + ks;
  int8_t* c1 = c0 + cm_stride;
  if (mr < 2) { ap1 = ap0; c1 = c0; }
  const int8_t* w = (const int8_t*) weights;
  while (nc != 0) {
    CK_C8_COLS(CK_C8_INIT)
    w += 32;
    for (size_t t = 0; t < ks; t++) {
      const int8_t* a0 = ap0[t];
      const int8_t* a1 = ap1[t];
      if (a0 != zero) a0 += a_offset;
      if (a1 != zero) a1 += a_offset;
      CK_NEON_2X8C8_ACCUMULATE(kc);
    }
    const size_t nc_block = nc < 8 ? nc : 8;
    CK_NEON_2X8C8_STORE(nc_block);
    w += 96;
    c0 += 8; c1 += 8;
    nc -= nc_block;
  }
}
#pragma clang attribute pop
#endif
