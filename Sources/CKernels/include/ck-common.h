// Status codes, ISA identifiers and shared macros.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ck_status {
  CK_OK = 0,
  // An argument is out of its documented domain (zero size, null pointer, zero point outside [-128, 127], ...).
  CK_ERROR_INVALID_ARGUMENT = 1,
  // A value cannot be represented: a requantization scale outside [0, 256), a weight of -128, ...
  CK_ERROR_OUT_OF_RANGE = 2,
  // The ISA is known but not usable here: not compiled into this binary, or the CPU lacks it.
  CK_ERROR_UNSUPPORTED_ISA = 3,
  // The ISA name is not one of scalar|neon|neondot|avx2|avx512vnni|auto.
  CK_ERROR_UNKNOWN_ISA = 4,
} ck_status;

// Kernel variants. The numeric values are stable (bit i of ck_isa_available_mask() is ISA i).
typedef enum ck_isa {
  CK_ISA_SCALAR = 0,      // portable C, the reference (oracle) every other variant must match byte for byte
  CK_ISA_NEON = 1,        // AArch64 Advanced SIMD: SMULL/SMLAL + SADALP (Cortex-A53/A57/A72)
  CK_ISA_NEONDOT = 2,     // AArch64 + dot product (FEAT_DotProd, HWCAP_ASIMDDP): SDOT (Cortex-A76/A78)
  CK_ISA_AVX2 = 3,        // x86-64 AVX2: VPMADDWD on sign-extended int16
  CK_ISA_AVX512VNNI = 4,  // x86-64 AVX-512 F/BW/VL + VNNI: VPDPBUSD (u8 x s8, activations offset by 128)
  CK_ISA_COUNT = 5,
} ck_isa;

#if defined(__GNUC__) || defined(__clang__)
  #define CK_RESTRICT __restrict__
#else
  #define CK_RESTRICT
#endif

#ifdef __cplusplus
}
#endif
