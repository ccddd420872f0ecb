// glibc compat shim for the aarch64-bookworm Swift SDK (built by setup-aarch64.sh into
// usr/lib/swift_static/linux/libglibccompat.a and appended to static-stdlib-args.lnk / static-executable-args.lnk).
//
// Debian sid's static Swift runtime (libswiftCore.a, libFoundation*.a, lib_FoundationICU.a, libdispatch.a) was
// compiled against glibc 2.4x headers. Those map sscanf/strtol & co. to the C23 entry points __isoc23_* and use
// strlcpy/strlcat, all new in glibc 2.38. Bookworm (2.36), Ubuntu 22.04 / JetPack 6 (2.35) lack them. The C23
// variants differ only in accepting "0b" binary prefixes and the like, which the runtime never relies on.
// Everything is one object: it is linked only when one of these symbols is referenced.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <wchar.h>

long __isoc23_strtol(const char *s, char **end, int base) { return strtol(s, end, base); }
long long __isoc23_strtoll(const char *s, char **end, int base) { return strtoll(s, end, base); }
unsigned long __isoc23_strtoul(const char *s, char **end, int base) { return strtoul(s, end, base); }
unsigned long long __isoc23_strtoull(const char *s, char **end, int base) { return strtoull(s, end, base); }
intmax_t __isoc23_strtoimax(const char *s, char **end, int base) { return strtoimax(s, end, base); }
uintmax_t __isoc23_strtoumax(const char *s, char **end, int base) { return strtoumax(s, end, base); }
long __isoc23_wcstol(const wchar_t *s, wchar_t **end, int base) { return wcstol(s, end, base); }
unsigned long __isoc23_wcstoul(const wchar_t *s, wchar_t **end, int base) { return wcstoul(s, end, base); }
long long __isoc23_wcstoll(const wchar_t *s, wchar_t **end, int base) { return wcstoll(s, end, base); }
unsigned long long __isoc23_wcstoull(const wchar_t *s, wchar_t **end, int base) { return wcstoull(s, end, base); }

int __isoc23_vsscanf(const char *s, const char *fmt, va_list ap) { return vsscanf(s, fmt, ap); }
int __isoc23_sscanf(const char *s, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); int r = vsscanf(s, fmt, ap); va_end(ap); return r;
}
int __isoc23_vfscanf(FILE *f, const char *fmt, va_list ap) { return vfscanf(f, fmt, ap); }
int __isoc23_fscanf(FILE *f, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); int r = vfscanf(f, fmt, ap); va_end(ap); return r;
}
int __isoc23_vscanf(const char *fmt, va_list ap) { return vscanf(fmt, ap); }
int __isoc23_scanf(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); int r = vscanf(fmt, ap); va_end(ap); return r;
}

size_t strlcpy(char *dst, const char *src, size_t size) {
    size_t n = strlen(src);
    if (size) { size_t c = n < size - 1 ? n : size - 1; memcpy(dst, src, c); dst[c] = 0; }
    return n;
}
size_t strlcat(char *dst, const char *src, size_t size) {
    size_t d = strnlen(dst, size);
    if (d == size) return size + strlen(src);
    return d + strlcpy(dst + d, src, size - d);
}

// std::ios_base_library_init() (GLIBCXX_3.4.32, gcc 13+), referenced by lib_FoundationICU.a(ustream.cpp.o).
// gcc 12's libstdc++ initialises iostreams from its own static constructor, so an empty weak stub is enough.
__attribute__((weak)) void _ZSt21ios_base_library_initv(void) {}
