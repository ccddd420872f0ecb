// glibc/libstdc++ compat shim for the aarch64-bookworm and aarch64-bullseye Swift SDKs (built by setup-aarch64.sh
// against each sysroot into usr/lib/swift_static/linux/libglibccompat.a and appended to static-stdlib-args.lnk /
// static-executable-args.lnk).
//
// Debian sid's static Swift runtime (libswiftCore.a, libFoundation*.a, lib_FoundationICU.a, libdispatch.a) was
// compiled against glibc 2.4x and gcc 16's libstdc++ headers. What it references that an older sysroot lacks
// (measured with llvm-nm -u over swift_static/linux/*.a against the sysroot's exports, see README.md):
//   - glibc 2.38: the C23 entry points __isoc23_* (sscanf/strtol & co.) and strlcpy/strlcat. Missing in bookworm
//     (2.36), Ubuntu 22.04 / JetPack 6 (2.35), bullseye and Ubuntu 20.04 (2.31). The C23 variants differ only in
//     accepting "0b" binary prefixes and the like, which the runtime never relies on.
//   - libstdc++: std::ios_base_library_init() (GLIBCXX_3.4.32, gcc 13), std::__throw_bad_array_new_length()
//     (GLIBCXX_3.4.29, gcc 11) and std::__glibcxx_assert_fail() (GLIBCXX_3.4.30, gcc 12; Debian builds the runtime
//     with _GLIBCXX_ASSERTIONS). gcc 12 (bookworm) has the last two, gcc 10 (bullseye, Ubuntu 20.04) has none.
// Nothing else: every other glibc symbol the runtime uses exists in glibc 2.31 (in 2.31 the pthread_* and dl*
// ones live in libpthread/libdl, which static-stdlib-args.lnk already links).
//
// One more, optional part (GLIBC_COMPAT_FLOOR_227, set by setup-aarch64.sh for the bullseye bundle) takes the floor
// from 2.29 down to 2.27 (Ubuntu 18.04 / JetPack 4): see the end of this file.
//
// Which parts are compiled follows the sysroot's glibc (__GLIBC_PREREQ), so the same source serves both bundles and
// never redefines what the sysroot's headers declare. The libstdc++ stubs are weak and always compiled: a weak
// definition in the executable wins over libstdc++.so's, so the binary asks nothing newer of libstdc++6 either way.
// Everything is one object: it is linked only when one of these symbols is referenced.
#include <features.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <wchar.h>

#if !__GLIBC_PREREQ(2, 38)
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
#endif

// std::ios_base_library_init() (GLIBCXX_3.4.32, gcc 13+), referenced by lib_FoundationICU.a(ustream.cpp.o).
// gcc 12's and older libstdc++ initialise iostreams from their own static constructor, so an empty stub is enough.
__attribute__((weak)) void _ZSt21ios_base_library_initv(void) {}

// std::__throw_bad_array_new_length() (GLIBCXX_3.4.29), called by std::allocator<T>::allocate(n) for an n above
// max_size(). The C++ ABI has the same throw since gcc 4.9: __cxa_throw_bad_array_new_length (CXXABI_1.3.8).
extern void __cxa_throw_bad_array_new_length(void) __attribute__((noreturn));
__attribute__((weak, noreturn)) void _ZSt28__throw_bad_array_new_lengthv(void) { __cxa_throw_bad_array_new_length(); }

// std::__glibcxx_assert_fail(file, line, function, condition) (GLIBCXX_3.4.30): a failed _GLIBCXX_ASSERTIONS check.
// The same message as libstdc++'s, then abort().
__attribute__((weak, noreturn)) void _ZSt21__glibcxx_assert_failPKciS0_S0_(const char *file, int line,
                                                                           const char *function, const char *condition) {
    if (function)
        fprintf(stderr, "%s:%d: %s: Assertion '%s' failed.\n", file, line, function, condition);
    else
        fprintf(stderr, "%s:%d: Assertion '%s' failed.\n", file, line, condition);
    abort();
}

#ifdef GLIBC_COMPAT_FLOOR_227
// glibc 2.29 -> 2.27. Linked against glibc 2.31, the binary needs GLIBC_2.29 for two reasons:
//   - exp, exp2, log, log2, pow: 2.29 gave them new symbol versions (new implementations without the SVID
//     _LIB_VERSION error handling). The GLIBC_2.17 versions are still in every aarch64 libm, computing the same
//     results through a wrapper that only differs when a program sets _LIB_VERSION (nothing here does).
//   - posix_spawn_file_actions_addchdir_np (new in 2.29), used by CoreFoundation for Process.currentDirectoryURL.
// The bundle's link arguments include -Xlinker --wrap=NAME for each, so the static link's references go to
// __wrap_NAME below; NAME itself is never referenced, and the binary asks libm for GLIBC_2.17 only.
#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#ifndef RTLD_DEFAULT
#define RTLD_DEFAULT ((void *)0)   // as <dlfcn.h> defines it under _GNU_SOURCE, which the rest of this file does not want
#endif

#define GLIBC_2_17(ret, name, params, args)                                            \
    extern ret __glibc217_##name params;                                               \
    __asm__(".symver __glibc217_" #name ", " #name "@GLIBC_2.17");                     \
    ret __wrap_##name params { return __glibc217_##name args; }
GLIBC_2_17(double, exp, (double x), (x))
GLIBC_2_17(double, exp2, (double x), (x))
GLIBC_2_17(double, log, (double x), (x))
GLIBC_2_17(double, log2, (double x), (x))
GLIBC_2_17(double, pow, (double x, double y), (x, y))

// Looked up at run time, so glibc 2.29+ still does the chdir; on 2.27/2.28 this returns ENOSYS, which is what
// CoreFoundation itself returns when built for a glibc older than 2.29 (Process then fails only if a
// currentDirectoryURL is set). The lookup result is the same for every thread: a racy first call is harmless.
typedef int (*addchdir_fn)(posix_spawn_file_actions_t *, const char *);
int __wrap_posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path) {
    static addchdir_fn real;
    static int looked_up;
    if (!__atomic_load_n(&looked_up, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&real, (addchdir_fn)dlsym(RTLD_DEFAULT, "posix_spawn_file_actions_addchdir_np"), __ATOMIC_RELAXED);
        __atomic_store_n(&looked_up, 1, __ATOMIC_RELEASE);
    }
    addchdir_fn f = __atomic_load_n(&real, __ATOMIC_RELAXED);
    return f ? f(actions, path) : ENOSYS;
}
#endif
