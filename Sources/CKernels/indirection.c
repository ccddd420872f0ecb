// Indirection buffers for IGEMM, depthwise convolution and max pooling (see include/ck-indirection.h).
#include <string.h>

#include "ck-indirection.h"

// A copy of n bytes, as two overlapping fixed-size copies when n <= 32: the stem's runs are KW x C = 21 bytes,
// one per kernel row and output pixel, and a libc memcpy call per 21 bytes cost as much as the GEMM behind it.
// Fixed-size memcpy compiles to plain loads and stores; nothing outside [src, src + n) is read or written.
static inline void ck_copy_small(int8_t* dst, const int8_t* src, size_t n) {
  if (n >= 16 && n <= 32) {
    char head[16], tail[16];
    memcpy(head, src, 16);
    memcpy(tail, src + n - 16, 16);
    memcpy(dst, head, 16);
    memcpy(dst + n - 16, tail, 16);
  } else if (n >= 8 && n < 16) {
    char head[8], tail[8];
    memcpy(head, src, 8);
    memcpy(tail, src + n - 8, 8);
    memcpy(dst, head, 8);
    memcpy(dst + n - 8, tail, 8);
  } else {
    memcpy(dst, src, n);
  }
}

size_t ck_conv_output_size(size_t input_size, size_t kernel_size, size_t stride, size_t dilation,
                           size_t pad_before, size_t pad_after) {
  if (input_size == 0 || kernel_size == 0 || stride == 0 || dilation == 0) return 0;
  const size_t padded = input_size + pad_before + pad_after;
  const size_t extent = dilation * (kernel_size - 1) + 1;
  if (padded < extent) return 0;
  return (padded - extent) / stride + 1;
}

void ck_indirection_init_conv2d(const int8_t** indirection,
                                const int8_t* input, size_t input_pixel_stride, const int8_t* zero,
                                size_t input_height, size_t input_width,
                                size_t output_height, size_t output_width,
                                size_t kernel_height, size_t kernel_width,
                                size_t stride_height, size_t stride_width,
                                size_t dilation_height, size_t dilation_width,
                                size_t padding_top, size_t padding_left) {
  const size_t ks = kernel_height * kernel_width;
  for (size_t oy = 0; oy < output_height; oy++) {
    for (size_t ox = 0; ox < output_width; ox++) {
      const int8_t** out = indirection + (oy * output_width + ox) * ks;
      for (size_t ky = 0; ky < kernel_height; ky++) {
        // Unsigned arithmetic: a row above the input wraps to a huge value and fails the bound check.
        const size_t iy = oy * stride_height + ky * dilation_height - padding_top;
        for (size_t kx = 0; kx < kernel_width; kx++) {
          const size_t ix = ox * stride_width + kx * dilation_width - padding_left;
          const int8_t* p = zero;
          if (iy < input_height && ix < input_width) {
            p = input + (iy * input_width + ix) * input_pixel_stride;
          }
          out[ky * kernel_width + kx] = p;
        }
      }
    }
  }
}

void ck_im2col_conv2d(int8_t* out, size_t out_row_stride,
                      const int8_t* input, size_t input_pixel_stride, size_t channels, int8_t pad_value,
                      size_t input_height, size_t input_width,
                      size_t output_height, size_t output_width,
                      size_t kernel_height, size_t kernel_width,
                      size_t stride_height, size_t stride_width,
                      size_t dilation_height, size_t dilation_width,
                      size_t padding_top, size_t padding_left,
                      size_t output_pixel_start, size_t output_pixel_end) {
  (void) output_height;
  // With unit dilation and dense pixels, the in-bounds taps of one kernel row are one contiguous run.
  const int dense = dilation_width == 1 && input_pixel_stride == channels;
  for (size_t p = output_pixel_start; p < output_pixel_end; p++) {
    const size_t oy = p / output_width;
    const size_t ox = p % output_width;
    int8_t* row = out + p * out_row_stride;
    for (size_t ky = 0; ky < kernel_height; ky++) {
      const size_t iy = oy * stride_height + ky * dilation_height - padding_top;
      int8_t* dst = row + ky * kernel_width * channels;
      if (iy >= input_height) {
        memset(dst, pad_value, kernel_width * channels);
        continue;
      }
      const int8_t* src_row = input + iy * input_width * input_pixel_stride;
      if (dense) {
        const size_t x0 = ox * stride_width;  // = ix + padding_left for kx = 0
        const size_t kx_begin = x0 < padding_left ? padding_left - x0 : 0;
        const size_t kx_end_raw = padding_left + input_width > x0 ? padding_left + input_width - x0 : 0;
        const size_t kx_end = kx_end_raw < kernel_width ? kx_end_raw : kernel_width;
        if (kx_begin >= kx_end) {
          memset(dst, pad_value, kernel_width * channels);
          continue;
        }
        if (kx_begin != 0) memset(dst, pad_value, kx_begin * channels);
        ck_copy_small(dst + kx_begin * channels, src_row + (x0 + kx_begin - padding_left) * channels,
                      (kx_end - kx_begin) * channels);
        if (kx_end != kernel_width) memset(dst + kx_end * channels, pad_value, (kernel_width - kx_end) * channels);
        continue;
      }
      for (size_t kx = 0; kx < kernel_width; kx++) {
        const size_t ix = ox * stride_width + kx * dilation_width - padding_left;
        if (ix < input_width) {
          memcpy(dst + kx * channels, src_row + ix * input_pixel_stride, channels);
        } else {
          memset(dst + kx * channels, pad_value, channels);
        }
      }
    }
  }
}
