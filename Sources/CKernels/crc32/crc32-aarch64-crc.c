// CRC-32 over the ARMv8 CRC32 instructions (CRC32X: 8 bytes an instruction). Compiled with the crc target
// feature on this function only, so the rest of the library keeps the baseline architecture; callers check
// ck_crc32_hardware_available() first.
#include <string.h>

#include "ck-crc32.h"

#if defined(__aarch64__)
  #include <arm_acle.h>
  #if defined(__linux__)
    #include <sys/auxv.h>
  #endif
  #ifndef HWCAP_CRC32
    #define HWCAP_CRC32 (1UL << 7)
  #endif
#endif

bool ck_crc32_hardware_available(void) {
#if defined(__aarch64__) && defined(__linux__)
  return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#elif defined(__aarch64__) && defined(__APPLE__)
  return true;   // every Apple arm64 core has it
#else
  return false;
#endif
}

#if defined(__aarch64__)
__attribute__((target("crc")))
uint32_t ck_crc32_update__aarch64_crc(uint32_t crc, const uint8_t* bytes, size_t count) {
  crc = ~crc;
  while (count != 0 && ((uintptr_t) bytes & 7) != 0) {
    crc = __crc32b(crc, *bytes++);
    count--;
  }
  for (; count >= 8; count -= 8, bytes += 8) {
    uint64_t word;
    memcpy(&word, bytes, sizeof(word));
    crc = __crc32d(crc, word);
  }
  while (count-- != 0) crc = __crc32b(crc, *bytes++);
  return ~crc;
}
#else
uint32_t ck_crc32_update__aarch64_crc(uint32_t crc, const uint8_t* bytes, size_t count) {
  (void) bytes;
  (void) count;
  return crc;   // never called: ck_crc32_hardware_available() is false here
}
#endif
