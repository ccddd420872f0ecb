#!/usr/bin/env bash
# One command for the deployable aarch64 `resnet-edge`:
#   swift build -c release --swift-sdk aarch64-bullseye --static-swift-stdlib --product resnet-edge
# (Swift 6.2.3 cross compiler; bullseye sysroot: glibc 2.31 and gcc 10's libstdc++ headers/libs + the compat shim;
# no Swift runtime needed on the board), into .build-aarch64-release. Then:
#   - fails if the binary needs a GLIBC_ symbol version above $MAX_GLIBC (default 2.31: Raspberry Pi OS bullseye,
#     Ubuntu 20.04 / JetPack 5; every newer Debian/Ubuntu/Pi OS has more); notes symbols above 2.27 (JetPack 4);
#   - fails if it needs a GLIBCXX_/CXXABI_ version that the sysroot's libstdc++.so.6 does not define (bullseye:
#     gcc 10, up to GLIBCXX_3.4.28 / CXXABI_1.3.12), or a NEEDED library the sysroot does not have; prints which
#     of the suite's packages provides each NEEDED library (what the .deb's Depends must name);
#   - prints the size; writes a stripped copy for packaging (.build-aarch64-release/resnet-edge-aarch64);
#   - fails if that stripped copy is over $MAX_BINARY_MIB MiB (default 24), or if NEEDED names libcurl, libxml2 or ICU
#     (full Foundation linked back in: the deployable modules use FoundationEssentials only, see
#     Sources/EdgeSupport/Printf.swift);
#   - runs `resnet-edge --version` and a real classification under qemu-aarch64 -cpu cortex-a72 against the same
#     sysroot (the board's libraries: libopenblas0-pthread, libturbojpeg0, libpng16-16, zlib1g, libv4l-0).
# Environment: XC_DIR (default /var/cache/resnet-edge-xc), XC_SDK (default aarch64-bullseye; aarch64-bookworm
#   builds into .build-aarch64-release-bookworm with MAX_GLIBC 2.35), MAX_GLIBC, MAX_BINARY_MIB, QEMU_CPU (default cortex-a72),
#   XC_SKIP_SETUP=1, PHOTO (default ../shared/testdata/images/darknet_dog.jpg).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"
export XC_DIR=${XC_DIR:-/var/cache/resnet-edge-xc}
sdk=${XC_SDK:-aarch64-bullseye}
case $sdk in
  aarch64-bullseye) scratch=.build-aarch64-release; MAX_GLIBC=${MAX_GLIBC:-2.31} ;;
  # The bookworm bundle stays buildable (glibc 2.35 floor: Ubuntu 22.04 / JetPack 6); its own scratch path, so
  # switching SDKs never mixes objects or hands package-deb.sh the other binary.
  aarch64-bookworm) scratch=.build-aarch64-release-bookworm; MAX_GLIBC=${MAX_GLIBC:-2.35} ;;
  *) echo "build-release: XC_SDK must be aarch64-bullseye or aarch64-bookworm (aarch64-sid's runtime needs glibc 2.4x)" >&2; exit 2 ;;
esac
cpu=${QEMU_CPU:-cortex-a72}
MAX_BINARY_MIB=${MAX_BINARY_MIB:-24}
suite=${sdk#aarch64-}
sysroot=$XC_DIR/sid-amd64/opt/xc-sdks/$sdk.artifactbundle/$sdk/sysroot
debs=$XC_DIR/sid-amd64/opt/xc-work/debs/$suite
shared=${RESNET_EDGE_SHARED:-$root/../shared}
photo=${PHOTO:-$shared/testdata/images/darknet_dog.jpg}
model=$shared/models/resnet18-fashion-mnist.onnx
start=$SECONDS

if [ "${XC_SKIP_SETUP:-0}" != 1 ]; then
  out=$(bash "$here/setup-aarch64.sh" 2>&1) || { echo "$out"; echo "build-release: toolchain setup failed" >&2; exit 1; }
  echo "$out" | grep -v 'already done' || true
fi
[ -d "$sysroot" ] || { echo "build-release: no $sdk SDK in $XC_DIR: run cross-toolchains/setup-aarch64.sh" >&2; exit 1; }

t=$SECONDS
"$here/xswift" build -c release --swift-sdk "$sdk" --static-swift-stdlib --product resnet-edge \
  --scratch-path "$scratch"
echo "build-release: static release build ($sdk) took $((SECONDS - t)) s"
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
for v in $glibc $glibcxx $cxxabi; do
  echo "build-release: symbols at $v: $(grep -F "($v)" <<< "$symbols" | awk '{print $NF}' | sort -u | tr '\n' ' ')"
done
needed=$("$objdump" -p "$bin" | awk '/NEEDED/ {print $2}')
echo "build-release: NEEDED: $(echo $needed)"
fail=0
if [ -n "$glibc" ] && [ "$(printf '%s\n%s\n' "${glibc#GLIBC_}" "$MAX_GLIBC" | sort -V | tail -1)" != "$MAX_GLIBC" ]; then
  echo "build-release: FAIL: $bin needs $glibc, above the allowed GLIBC_$MAX_GLIBC" >&2
  fail=1
fi
# Not enforced: the aarch64-bullseye bundle's shim also takes the floor down to 2.27 (Ubuntu 18.04 / JetPack 4, which
# has no sysroot here to run against); say so when something new undoes that.
above227=$(awk '/\*UND\*/ && match($0, /\(GLIBC_2\.(2[89]|[3-9][0-9])\)/) {print $NF}' <<< "$symbols" | sort -u | tr '\n' ' ')
[ -z "$above227" ] || echo "build-release: note: needs glibc above 2.27 (JetPack 4) for: $above227"

# libstdc++: the linker only checks that a symbol exists in the sysroot's libstdc++.so.6, but a weak shim
# definition or a stray newer object could still leave a GLIBCXX_ reference the board's libstdc++6 cannot satisfy.
# Every version the binary asks libstdc++.so.6 for must be one the sysroot's (the oldest supported) defines.
stdcxx=$(readlink -f "$sysroot/usr/lib/aarch64-linux-gnu/libstdc++.so.6")
offered=$("$objdump" -p "$stdcxx" | awk '/^Version definitions:/ {d = 1; next} /^$/ {d = 0} d {print $NF}' | sort -Vu)
asked=$("$objdump" -p "$bin" | awk '/^Version References:/ {r = 1; next} /^$/ {r = 0}
          r && /required from/ {lib = $NF} r && lib == "libstdc++.so.6:" && $NF ~ /^(GLIBCXX|CXXABI)_/ {print $NF}' | sort -Vu)
missing=$(grep -vxF -f <(echo "$offered") <<< "$asked" | tr '\n' ' ' || true)
echo "build-release: libstdc++.so.6 ($(basename "$stdcxx"), $suite) offers up to $(grep GLIBCXX_ <<< "$offered" | tail -1) $(grep CXXABI_ <<< "$offered" | grep -v TM | tail -1); the binary asks for $(echo $asked)"
if [ -n "${missing// /}" ]; then
  echo "build-release: FAIL: $bin needs $missing, which $suite's libstdc++6 does not define" >&2
  fail=1
fi

# NEEDED libraries: each must exist in the sysroot under that name (so the board's package of the same suite
# has it), and the package that ships it is what the .deb's Depends names. File index of the suite's .debs:
# "package version<TAB>path" (paths as the .debs list them: bullseye's and bookworm's are not usrmerged).
index=$(for deb in "$debs"/*.deb; do
          p="$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"
          dpkg-deb -c "$deb" | awk -v p="$p" '{sub(/^\./, "", $6); print p "\t" $6}'
        done 2>/dev/null || true)
for lib in $needed; do
  path=""
  for d in usr/lib/aarch64-linux-gnu lib/aarch64-linux-gnu usr/lib lib; do
    [ -e "$sysroot/$d/$lib" ] && { path=/$d/$lib; break; }
  done
  if [ -z "$path" ]; then echo "build-release: FAIL: NEEDED $lib is not in the $suite sysroot" >&2; fail=1; continue; fi
  # Follow the sysroot's (relative, alternatives-emulating) links to the real file; its owner is the package.
  real=$(realpath -m --relative-to="$sysroot" "$sysroot$path")
  owner=$(awk -F '\t' -v a="/$real" -v b="/${real#usr/}" '$2 == a || $2 == b {print $1; exit}' <<< "$index")
  echo "build-release: NEEDED $lib -> /$real (${owner:-owner unknown})"
done
[ "$fail" = 0 ] || exit 1

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

# The board's view: only the SDK's sysroot (its glibc and the packages' libraries), no Swift runtime.
qemu=(qemu-aarch64-static -cpu "$cpu" -L "$sysroot")
[ -x "$out" ] && bin=$out     # run what gets packaged
t=$SECONDS
echo "build-release: qemu ($cpu, $suite sysroot): resnet-edge --version"
"${qemu[@]}" "$bin" --version
echo "build-release: qemu ($cpu, $suite sysroot): resnet-edge classify --model $model --preprocess fashion-mnist $photo"
"${qemu[@]}" "$bin" classify --model "$model" --preprocess fashion-mnist "$photo"
echo "build-release: runs under qemu took $((SECONDS - t)) s; total $((SECONDS - start)) s"
