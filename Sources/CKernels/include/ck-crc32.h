// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320: the checksum zlib's crc32() computes) on the ARMv8 CRC32
// instructions. A model file's sections are checked on every load; zlib's table-driven loop costs about 4
// instructions a byte, 47 M of a ResNet18 `.rem`'s start-up on a Cortex-A72 (qemu), this about 1/8 of one.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// True when this CPU has the CRC32 instructions (aarch64 HWCAP_CRC32: every Cortex-A53 and later core).
bool ck_crc32_hardware_available(void);

// zlib's crc32(crc, bytes, count): `crc` is the running value (0 to start), the result the next one. Only call it
// when ck_crc32_hardware_available() is true.
uint32_t ck_crc32_update__aarch64_crc(uint32_t crc, const uint8_t* bytes, size_t count);

#ifdef __cplusplus
}
#endif
