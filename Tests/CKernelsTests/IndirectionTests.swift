import CKernels
import Testing

@Suite("indirection buffer and output sizes")
struct IndirectionTests {
    @Test func outputSize() {
        #expect(ck_conv_output_size(224, 7, 2, 1, 3, 3) == 112)
        #expect(ck_conv_output_size(112, 3, 2, 1, 1, 1) == 56)
        #expect(ck_conv_output_size(56, 3, 1, 1, 1, 1) == 56)
        #expect(ck_conv_output_size(56, 1, 2, 1, 0, 0) == 28)
        #expect(ck_conv_output_size(8, 3, 2, 1, 0, 1) == 4)     // TF SAME, asymmetric (pad 0 before, 1 after)
        #expect(ck_conv_output_size(7, 3, 2, 1, 0, 1) == 3)
        #expect(ck_conv_output_size(10, 3, 1, 2, 0, 0) == 6)    // dilated extent 5
        #expect(ck_conv_output_size(2, 5, 1, 1, 0, 0) == 0)     // does not fit
        #expect(ck_conv_output_size(0, 1, 1, 1, 0, 0) == 0)
        #expect(ck_conv_output_size(5, 1, 0, 1, 0, 0) == 0)
    }

    @Test func pointersMatchTheFormula() {
        let h = 6, w = 5, c = 3, kh = 3, kw = 2, sh = 2, sw = 1, dh = 2, dw = 3, pt = 2, pl = 1
        let oh = ck_conv_output_size(h, kh, sh, dh, pt, 1)
        let ow = ck_conv_output_size(w, kw, sw, dw, pl, 2)
        let input = [Int8](repeating: 0, count: h * w * c)
        let zero = [Int8](repeating: 0, count: c)
        input.withUnsafeBufferPointer { inp in
            zero.withUnsafeBufferPointer { z in
                var ind = [UnsafePointer<Int8>?](repeating: nil, count: oh * ow * kh * kw)
                ind.withUnsafeMutableBufferPointer {
                    ck_indirection_init_conv2d($0.baseAddress, inp.baseAddress, c, z.baseAddress, h, w, oh, ow,
                                               kh, kw, sh, sw, dh, dw, pt, pl)
                }
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let iy = oy * sh + ky * dh - pt, ix = ox * sw + kx * dw - pl
                                let expected = (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                    ? inp.baseAddress! + (iy * w + ix) * c : z.baseAddress!
                                #expect(ind[((oy * ow + ox) * kh + ky) * kw + kx] == expected)
                            }
                        }
                    }
                }
            }
        }
    }
}
