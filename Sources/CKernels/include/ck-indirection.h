// Indirection buffers (QNNPACK's indirect convolution, arXiv:1907.02129) for IGEMM, depthwise
// convolution and max pooling on NHWC tensors.
//
// For output pixel p = oy * output_width + ox and tap t = ky * kernel_width + kx:
//   iy = oy * stride_height + ky * dilation_height - padding_top
//   ix = ox * stride_width  + kx * dilation_width  - padding_left
//   indirection[p * (kernel_height * kernel_width) + t] =
//       (0 <= iy < input_height && 0 <= ix < input_width) ? input + (iy * input_width + ix) * input_pixel_stride
//                                                         : zero
// Asymmetric padding: pass padding_top/left here and choose output_height/width with
// ck_conv_output_size(..., pad_before, pad_after); bottom/right padding is whatever falls outside.
// The layout does not depend on any kernel's mr: IGEMM row m of a tile starting at pixel p0 uses
// indirection + (p0 + m) * ks. Build it once per (input pointer, shape); for a batch, build it for image 0
// and pass a_offset = image * image_bytes (pointers equal to `zero` are never offset). For groups,
// a_offset also adds g * group_input_channels (a group's channels are a contiguous slice of the row).
// `zero` is the input zero point repeated (IGEMM / depthwise) or -128 repeated (max pooling).
#pragma once

#include "ck-common.h"

#ifdef __cplusplus
extern "C" {
#endif

// floor((input + pad_before + pad_after - dilation*(kernel-1) - 1) / stride) + 1, or 0 if the
// (dilated) kernel does not fit or an argument is 0.
size_t ck_conv_output_size(size_t input_size, size_t kernel_size, size_t stride, size_t dilation,
                           size_t pad_before, size_t pad_after);

void ck_indirection_init_conv2d(const int8_t** indirection,
                                const int8_t* input, size_t input_pixel_stride, const int8_t* zero,
                                size_t input_height, size_t input_width,
                                size_t output_height, size_t output_width,
                                size_t kernel_height, size_t kernel_width,
                                size_t stride_height, size_t stride_width,
                                size_t dilation_height, size_t dilation_width,
                                size_t padding_top, size_t padding_left);

// im2col for layers with few input channels (the RGB stem: C = 3, 7x7): there each IGEMM tap has only
// C bytes of K, so per-tap overhead dominates. Instead copy each output pixel's patch into one row
//   out[p * out_row_stride + (ky * kernel_width + kx) * channels + c] = input pixel (iy, ix) channel c,
//                                                                       or pad_value outside the input
// and run the GEMM kernel with kc = kernel_height * kernel_width * channels, a_stride = out_row_stride,
// and weights packed with ks = 1, kc = KH*KW*C (the OHWI order is the same). pad_value is the input
// zero point. Rows [output_pixel_start, output_pixel_end) of the output_height x output_width pixels are
// written (so threads can fill disjoint ranges). For groups: input + g * Cg, channels = Cg,
// input_pixel_stride = total channels.
void ck_im2col_conv2d(int8_t* out, size_t out_row_stride,
                      const int8_t* input, size_t input_pixel_stride, size_t channels, int8_t pad_value,
                      size_t input_height, size_t input_width,
                      size_t output_height, size_t output_width,
                      size_t kernel_height, size_t kernel_width,
                      size_t stride_height, size_t stride_width,
                      size_t dilation_height, size_t dilation_width,
                      size_t padding_top, size_t padding_left,
                      size_t output_pixel_start, size_t output_pixel_end);

#ifdef __cplusplus
}
#endif
