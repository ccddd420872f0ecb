import EdgeSupport
import Foundation
import Glibc
import Testing

/// The C library's own answer for one conversion, for comparison.
private func cPrintf(_ format: String, _ args: CVarArg...) -> String {
    withVaList(args) { va in
        var buffer = [CChar](repeating: 0, count: 512)
        let n = vsnprintf(&buffer, buffer.count, format, va)
        precondition(n >= 0 && n < 512)
        return String(decoding: buffer[..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

// String(printf:) replaced Foundation's String(format:) in the deployable modules; these tests pin it to the C library
// (what it delegates numbers to) and to Foundation (what the outputs were written with before).
@Suite struct PrintfTests {
    static let doubles: [Double] = [
        0, -0.0, 1, -1, 0.5, 1.5, 2.5, -2.5, 0.05, 0.15, 0.25, 0.35, 0.45, 0.005, 0.0049999, 0.125, 0.375, 1.005, 2.675,
        9.995, 99.95, 999.5, 1e-7, -1e-7, 123.456, -123.456, 1234567.891, 1e15, 1e21, 1.7976931348623157e308,
        4.9e-324, Double.pi, -Double.pi, 100, 0.999_999, 59.9999, -0.0004, .nan, -.nan, .infinity, -.infinity,
    ]
    static let floatFormats = [
        "%f", "%.0f", "%.1f", "%.2f", "%.3f", "%.4f", "%.5f", "%.6f", "%g", "%.3g", "%e", "%.2e", "%6.1f", "%5.1f",
        "%7.1f", "%7.2f", "%7.3f", "%10.2f", "%4.0f", "%6.2f", "%12.2f", "%+.1f", "%-8.2f|", "%08.3f", "% .2f", "%#.0f",
        "%.1f%%", "%.0f%%", "%.3f%%",
    ]

    @Test func floatingPointMatchesTheCLibrary() {
        for f in Self.floatFormats {
            for v in Self.doubles {
                #expect(String(printf: f, v) == cPrintf(f, v), "\(f) \(v)")
            }
        }
    }

    @Test func floatingPointMatchesFoundation() {
        for f in Self.floatFormats {
            for v in Self.doubles {
                #expect(String(printf: f, v) == String(format: f, v), "\(f) \(v)")
            }
        }
    }

    @Test func specialValues() {
        #expect(String(printf: "%.1f", -0.0) == "-0.0")
        #expect(String(printf: "%.2f", -0.001) == "-0.00")
        #expect(String(printf: "%.1f", Double.nan) == "nan")
        #expect(String(printf: "%.1f", Double.infinity) == "inf")
        #expect(String(printf: "%.1f", -Double.infinity) == "-inf")
        #expect(String(printf: "%6.1f", Double.nan) == "   nan")
        #expect(String(printf: "%.2f", 2.675) == "2.67")     // the binary value is below 2.675
        #expect(String(printf: "%.0f", 2.5) == "2")          // round half to even
        #expect(String(printf: "%.0f", 3.5) == "4")
        #expect(String(printf: "%.1f", 1e21) == "1000000000000000000000.0")
        #expect(String(printf: "%.3g", 1234.5) == "1.23e+03")
        #expect(String(printf: "%g", 0.0001) == "0.0001")
        #expect(String(printf: "%g", 100000.0) == "100000")
        #expect(String(printf: "%g", 1000000.0) == "1e+06")
        #expect(String(printf: "%.2f", Float(0.1)) == "0.10")
        // Longer than the first 64-byte buffer.
        #expect(String(printf: "%.1f", Double.greatestFiniteMagnitude) == cPrintf("%.1f", Double.greatestFiniteMagnitude))
    }

    static let ints: [Int] = [0, 1, -1, 7, 42, -42, 255, 256, 4095, 65535, 99999, 123456, Int(Int32.max), Int(Int32.min)]

    @Test func integersMatchTheCLibraryAndFoundation() {
        for f in ["%d", "%5d", "%-5d|", "%05d", "%7d", "%6d", "%3d", "%02d", "%03d", "%+d", "%x", "%02x", "%04x", "%08x", "%X"] {
            for v in Self.ints {
                #expect(String(printf: f, v) == cPrintf(f, Int32(truncatingIfNeeded: v)), "\(f) \(v)")
                #expect(String(printf: f, v) == String(format: f, v), "\(f) \(v)")
            }
        }
        for v: UInt64 in [0, 1, 42, UInt64(UInt32.max), UInt64(UInt32.max) + 1, UInt64.max] {
            #expect(String(printf: "%llu", v) == cPrintf("%llu", v))
            #expect(String(printf: "%llu", v) == String(format: "%llu", v))
            #expect(String(printf: "%lu", v) == String(format: "%lu", v))
        }
        #expect(String(printf: "%ld", Int.min) == "\(Int.min)")
        #expect(String(printf: "%02x", UInt8(0xab)) == "ab")
        #expect(String(printf: "%02x", UInt8(7)) == "07")
        #expect(String(printf: "\\u%04x", UInt32(0x1f)) == "\\u001f")
        #expect(String(printf: "0x%08x", UInt32(0xdeadbeef)) == "0xdeadbeef")
        #expect(String(printf: "%d", Int32(-3)) == "-3")
        #expect(String(printf: "%d", UInt64(12)) == "12")
        // C semantics, as Foundation had: without a length modifier %d takes the low 32 bits.
        #expect(String(printf: "%d", Int(1) << 32 + 5) == "5")
    }

    @Test func objects() {
        #expect(String(printf: "%@", "abc") == "abc")
        // Foundation on Linux ignored a width on %@, and so does String(printf:).
        #expect(String(printf: "[%-9@]", "conv") == "[conv]")
        #expect(String(printf: "[%9@]", "conv") == "[conv]")
        #expect(String(printf: "[%-3@]", "toolong") == "[toolong]")
        #expect(String(printf: "%@", Substring("sub")) == "sub")
        #expect(String(printf: "%@", PrintfDescription([1, 2])) == "[1, 2]")
        #expect(String(printf: "%@ é %@", "ü", "ß") == "ü é ß")
        #expect(String(printf: "[%-9@]", "conv") == String(format: "[%-9@]", "conv"))
        #expect(String(printf: "[%-44@]", "layer1.0.conv1") == String(format: "[%-44@]", "layer1.0.conv1"))
    }

    @Test func literalsAndMixedConversions() {
        #expect(String(printf: "") == "")
        #expect(String(printf: "no conversions") == "no conversions")
        #expect(String(printf: "100%%") == "100%")
        #expect(String(printf: "%%d") == "%d")
        let a = String(printf: "%@: %d runs in %.1f s, p50 %.3f ms, p99 %.3f ms, %.1f img/s", "conv", 12, 3.25, 1.0005, 2.5, 99.95)
        let b = String(format: "%@: %d runs in %.1f s, p50 %.3f ms, p99 %.3f ms, %.1f img/s", "conv", 12, 3.25, 1.0005, 2.5, 99.95)
        #expect(a == b)
        let c = String(printf: "%02d:%02d:%02d.%03d %@: %@\n", 1, 2, 3, 45, "info", "message ü")
        #expect(c == String(format: "%02d:%02d:%02d.%03d %@: %@\n", 1, 2, 3, 45, "info", "message ü"))
        let d = String(printf: "WATCH t=%.1f seq=%llu taken=%d healthy=%@", 1.25, UInt64(7), 3, "true")
        #expect(d == "WATCH t=1.2 seq=7 taken=3 healthy=true")
        let digits = 3
        #expect(String(printf: "%.\(digits)f", 0.0005) == "0.001")  // 0.0005 is above half in binary
    }
}
