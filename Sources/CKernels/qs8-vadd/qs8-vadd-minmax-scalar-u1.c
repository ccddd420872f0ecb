// The reference quantized add (definition in include/ck-qs8-vadd.h).
#include "../include/ck-qs8-vadd.h"

void ck_qs8_vadd_minmax_ukernel__scalar_u1(size_t n, const int8_t* a, const int8_t* b, int8_t* y,
                                           const ck_qs8_add_params* params) {
  for (size_t i = 0; i < n; i++) y[i] = ck_qs8_add_scalar(a[i], b[i], params);
}
