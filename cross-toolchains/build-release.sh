#!/usr/bin/env bash
# One command for the deployable aarch64 `resnet-edge`:
#   swift build -c release --swift-sdk aarch64-bookworm --static-swift-stdlib --product resnet-edge
# (Swift 6.2.3 cross compiler, bookworm sysroot: glibc 2.36 headers/libs + the glibc compat shim; no Swift runtime
# needed on the board), into .build-aarch64-release. Then:
#   - fails if the binary needs a GLIBC_ symbol version above $MAX_GLIBC (default 2.35: Ubuntu 22.04 / JetPack 6;
#     Raspberry Pi OS bookworm has 2.36);
#   - prints GLIBCXX/CXXABI needs, the NEEDED libraries, and the size; writes a stripped copy for packaging
#     (.build-aarch64-release/resnet-edge-aarch64);
#   - fails if that stripped copy is over $MAX_BINARY_MIB MiB (default 24), or if NEEDED names libcurl, libxml2 or ICU
#     (full Foundation linked back in: the deployable modules use FoundationEssentials only, see
#     Sources/EdgeSupport/Printf.swift);
#   - runs `resnet-edge --version` and a real classification under qemu-aarch64 -cpu cortex-a72 against the
#     bookworm sysroot (the board's libraries: libopenblas0, libturbojpeg0, libpng16-16, zlib1g).
# Environment: XC_DIR (default /var/cache/resnet-edge-xc), MAX_GLIBC, MAX_BINARY_MIB, QEMU_CPU (default cortex-a72),
#   XC_SKIP_SETUP=1, PHOTO (default ../shared/testdata/images/darknet_dog.jpg).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"
export XC_DIR=${XC_DIR:-/var/cache/resnet-edge-xc}
MAX_GLIBC=${MAX_GLIBC:-2.35}
cpu=${QEMU_CPU:-cortex-a72}
MAX_BINARY_MIB=${MAX_BINARY_MIB:-24}
scratch=.build-aarch64-release
sysroot=$XC_DIR/sid-amd64/opt/xc-sdks/aarch64-bookworm.artifactbundle/aarch64-bookworm/sysroot
shared=${RESNET_EDGE_SHARED:-$root/../shared}
photo=${PHOTO:-$shared/testdata/images/darknet_dog.jpg}
model=$shared/models/resnet18-fashion-mnist.onnx
start=$SECONDS

if [ "${XC_SKIP_SETUP:-0}" != 1 ]; then
  out=$(bash "$here/setup-aarch64.sh" 2>&1) || { echo "$out"; echo "build-release: toolchain setup failed" >&2; exit 1; }
  echo "$out" | grep -v 'already done' || true
fi

t=$SECONDS
"$here/xswift" build -c release --swift-sdk aarch64-bookworm --static-swift-stdlib --product resnet-edge \
  --scratch-path "$scratch"
echo "build-release: static release build took $((SECONDS - t)) s"
bin=$scratch/aarch64-unknown-linux-gnu/release/resnet-edge
[ -x "$bin" ] || { echo "build-release: $bin missing" >&2; exit 1; }

# Binutils' aarch64 objdump (binutils-aarch64-linux-gnu, installed by setup) or LLVM's, whichever is there.
objdump=$(command -v aarch64-linux-gnu-objdump || command -v llvm-objdump || true)
[ -n "$objdump" ] || { echo "build-release: no objdump for aarch64 (apt-get install binutils-aarch64-linux-gnu)" >&2; exit 1; }
strip=$(command -v aarch64-linux-gnu-strip || command -v llvm-strip || true)
symbols=$("$objdump" -T "$bin")
glibc=$(grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' <<< "$symbols" | sort -Vu | tail -1)
glibcxx=$(grep -oE 'GLIBCXX_[0-9.]+[0-9]' <<< "$symbols" | sort -Vu | tail -1 || true)
cxxabi=$(grep -oE 'CXXABI_[0-9.]+[0-9]' <<< "$symbols" | sort -Vu | tail -1 || true)
echo "build-release: highest symbol versions: ${glibc:-none} ${glibcxx:-} ${cxxabi:-}"
echo "build-release: symbols at ${glibc:-none}: $(grep -F "(${glibc:-none})" <<< "$symbols" | awk '{print $NF}' | sort -u | tr '\n' ' ')"
echo "build-release: NEEDED: $("$objdump" -p "$bin" | awk '/NEEDED/ {print $2}' | tr '\n' ' ')"
if [ -n "$glibc" ] && [ "$(printf '%s\n%s\n' "${glibc#GLIBC_}" "$MAX_GLIBC" | sort -V | tail -1)" != "$MAX_GLIBC" ]; then
  echo "build-release: FAIL: $bin needs $glibc, above the allowed GLIBC_$MAX_GLIBC" >&2
  exit 1
fi

size=$(stat -c %s "$bin")
out=$scratch/resnet-edge-aarch64
if [ -n "$strip" ]; then
  "$strip" -o "$out" "$bin"
  echo "build-release: $bin: $((size / 1048576)) MiB ($size bytes); stripped copy $out: $(( $(stat -c %s "$out") / 1048576 )) MiB ($(stat -c %s "$out") bytes)"
else
  echo "build-release: $bin: $((size / 1048576)) MiB ($size bytes); no strip tool, no stripped copy"
fi

# The deployable binary's budget: checked on what gets packaged (the stripped copy; without a strip tool the
# unstripped binary, which is larger, so the check only gets stricter).
checked=$bin
[ -f "$out" ] && checked=$out
checked_bytes=$(stat -c %s "$checked")
checked_mib=$(awk -v b="$checked_bytes" 'BEGIN { printf "%.2f", b / 1048576 }')
echo "build-release: deployable $checked: $checked_mib MiB (limit $MAX_BINARY_MIB MiB)"
if awk -v b="$checked_bytes" -v m="$MAX_BINARY_MIB" 'BEGIN { exit !(b > m * 1048576) }'; then
  echo "build-release: FAIL: $checked is $checked_mib MiB, over MAX_BINARY_MIB=$MAX_BINARY_MIB" >&2
  exit 1
fi
# Full Foundation (FoundationNetworking, FoundationXML, ICU) must not come back through a dependency.
foundation_libs=$("$objdump" -p "$bin" | awk '/NEEDED/ {print $2}' | grep -E '^lib(curl|xml2|icu)' || true)
if [ -n "$foundation_libs" ]; then
  echo "build-release: FAIL: $bin needs $(echo $foundation_libs): full Foundation is linked (use FoundationEssentials)" >&2
  exit 1
fi

# The board's view: only the bookworm sysroot (glibc 2.36 and the packages' libraries), no Swift runtime.
qemu=(qemu-aarch64-static -cpu "$cpu" -L "$sysroot")
[ -x "$out" ] && bin=$out     # run what gets packaged
t=$SECONDS
echo "build-release: qemu ($cpu): resnet-edge --version"
"${qemu[@]}" "$bin" --version
echo "build-release: qemu ($cpu): resnet-edge classify --model $model --preprocess fashion-mnist $photo"
"${qemu[@]}" "$bin" classify --model "$model" --preprocess fashion-mnist "$photo"
echo "build-release: runs under qemu took $((SECONDS - t)) s; total $((SECONDS - start)) s"
