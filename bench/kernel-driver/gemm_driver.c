// A tiny single-threaded driver for the INT8 GEMM/IGEMM micro-kernels of Sources/CKernels, for instruction
// counting under qemu (scripts/kernel-peak-aarch64.sh, cross-toolchains/qemu-plugins/symcount.c). It packs
// deterministic pseudo-random weights, runs one ResNet-sized layer through the kernel that ck_kernels_select
// picks for ISA, and prints one line of key=value pairs, including a checksum of the output bytes (every
// variant must print the same checksum for the same case: they are bit-exact).
//
//   gemm_driver ISA gemm M N K          C[M][N] = A[M][K] x W[N][K]: the GEMM kernel, kc = K, a_stride = K
//   gemm_driver ISA conv H W C N KS     KS x KS convolution, stride 1, same padding, NHWC input H x W x C,
//                                       N output channels: the IGEMM kernel over an indirection buffer
//                                       (M = H*W, kc = C, ks = KS*KS, K = ks*kc)
//   ISA: scalar | neon | neondot | auto (anything ck_kernels_select accepts)
//
// The kernel is called as the runtime does: one call per tile of mr rows covering all N columns (the kernel
// walks N in blocks of nr itself). Build (aarch64, static so qemu needs no sysroot):
//   clang --target=aarch64-linux-gnu -O3 -static -ISources/CKernels/include bench/kernel-driver/gemm_driver.c \
//         $(find Sources/CKernels -name '*.c') -o gemm_driver
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckernels.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint32_t rng_next(void) {  // xorshift64*
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t) ((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static void* xmalloc(size_t n) {
  void* p = malloc(n ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "gemm_driver: out of memory (%zu bytes)\n", n);
    exit(2);
  }
  return p;
}

static size_t parse_size(const char* s) {
  char* end = NULL;
  const unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end != '\0' || v == 0) {
    fprintf(stderr, "gemm_driver: '%s' is not a positive integer\n", s);
    exit(2);
  }
  return (size_t) v;
}

static void check(ck_status status, const char* what) {
  if (status != CK_OK) {
    fprintf(stderr, "gemm_driver: %s failed (status %d)\n", what, (int) status);
    exit(3);
  }
}

static int usage(void) {
  fprintf(stderr, "usage: gemm_driver ISA gemm M N K\n       gemm_driver ISA conv H W C N KS\n");
  return 2;
}

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const char* isa = argv[1];
  const int conv = strcmp(argv[2], "conv") == 0;
  if (!conv && strcmp(argv[2], "gemm") != 0) return usage();
  if ((!conv && argc != 6) || (conv && argc != 8)) return usage();

  size_t m, n, kc, ks, h = 0, w = 0, kside = 1;
  if (conv) {
    h = parse_size(argv[3]);
    w = parse_size(argv[4]);
    kc = parse_size(argv[5]);
    n = parse_size(argv[6]);
    kside = parse_size(argv[7]);
    m = h * w;
    ks = kside * kside;
  } else {
    m = parse_size(argv[3]);
    n = parse_size(argv[4]);
    kc = parse_size(argv[5]);
    ks = 1;
  }
  const size_t k = ks * kc;

  ck_kernels kernels;
  check(ck_kernels_select(isa, &kernels), "ck_kernels_select");
  const ck_qs8_qc8w_gemm_ukernel* uk = &kernels.gemm;

  // Data: activations in [-128, 127], weights in [-127, 127] (the packer rejects -128), small biases,
  // per-channel scales chosen so the outputs spread over the int8 range rather than saturate.
  const int32_t input_zero_point = 3;
  const size_t a_bytes = conv ? h * w * kc : m * k;  // NHWC image, or the A matrix
  int8_t* a = xmalloc(a_bytes);
  for (size_t i = 0; i < a_bytes; i++) a[i] = (int8_t) (rng_next() & 0xFF);
  int8_t* weights = xmalloc(n * k);
  for (size_t i = 0; i < n * k; i++) weights[i] = (int8_t) ((int) (rng_next() % 255) - 127);
  int32_t* bias = xmalloc(n * sizeof(int32_t));
  ck_requant* requant = xmalloc(n * sizeof(ck_requant));
  for (size_t i = 0; i < n; i++) {
    bias[i] = (int32_t) (rng_next() % 20001) - 10000;
    const double scale = (0.5 + (rng_next() % 1000) / 1000.0) * 12.0 / (sqrt((double) k) * 128.0 * 73.0);
    check(ck_requant_from_scale(scale, &requant[i]), "ck_requant_from_scale");
  }
  void* packed = xmalloc(ck_pack_qs8_qc8w_gemm_size(uk->nr, uk->kr, 1, n, ks, kc));
  check(uk->pack(1, n, ks, kc, input_zero_point, weights, bias, requant, packed), "pack");
  ck_qs8_minmax_params params;
  check(ck_qs8_minmax_params_init(&params, -5, -128, 127), "ck_qs8_minmax_params_init");

  int8_t* c = xmalloc(m * n);
  memset(c, 0x55, m * n);
  const char* kernel_name;
  if (conv) {
    kernel_name = uk->igemm_name;
    int8_t* zero = xmalloc(kc);
    memset(zero, (int8_t) input_zero_point, kc);
    const int8_t** indirection = xmalloc(m * ks * sizeof(int8_t*));
    const size_t pad = kside / 2;
    ck_indirection_init_conv2d(indirection, a, kc, zero, h, w, h, w, kside, kside, 1, 1, 1, 1, pad, pad);
    for (size_t m0 = 0; m0 < m; m0 += uk->mr) {
      const size_t mr = m - m0 < uk->mr ? m - m0 : uk->mr;
      uk->igemm(mr, n, kc, ks, indirection + m0 * ks, packed, c + m0 * n, n, 0, zero, &params);
    }
    free(indirection);
    free(zero);
  } else {
    kernel_name = uk->gemm_name;
    for (size_t m0 = 0; m0 < m; m0 += uk->mr) {
      const size_t mr = m - m0 < uk->mr ? m - m0 : uk->mr;
      uk->gemm(mr, n, k, a + m0 * k, k, packed, c + m0 * n, n, &params);
    }
  }

  uint64_t checksum = 1469598103934665603ULL;  // FNV-1a over the output bytes
  for (size_t i = 0; i < m * n; i++) checksum = (checksum ^ (uint8_t) c[i]) * 1099511628211ULL;
  printf("isa=%s kernel=%s mode=%s m=%zu n=%zu k=%zu kc=%zu ks=%zu mr=%u nr=%u kr=%u macs=%llu checksum=%016llx\n",
         kernels.isa_name, kernel_name, conv ? "igemm" : "gemm", m, n, k, kc, ks, uk->mr, uk->nr, uk->kr,
         (unsigned long long) m * n * k, (unsigned long long) checksum);
  free(c);
  free(packed);
  free(requant);
  free(bias);
  free(weights);
  free(a);
  return 0;
}
