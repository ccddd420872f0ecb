#!/usr/bin/env bash
# Sets up the aarch64 cross toolchain for resnet-edge (see README.md in this directory):
#   - host: qemu-user-static + binfmt (qemu-aarch64 enabled), qemu-user (dynamic qemu-aarch64 with -plugin),
#     debootstrap, binutils-aarch64-linux-gnu, dataset-fashion-mnist;
#   - $XC_DIR/sid-amd64: a Debian sid amd64 chroot with swiftlang 6.2.3 (the cross compiler);
#   - three Swift SDK artifact bundles in $XC_DIR/sid-amd64/opt/xc-sdks, assembled from Debian arm64 .debs:
#       aarch64-sid       sid sysroot (glibc 2.4x), dynamic Swift runtime: builds and runs the tests under qemu;
#       aarch64-bullseye  bullseye sysroot (glibc 2.31, gcc 10) + compat shim: the deployable --static-swift-stdlib
#                         binary (needs glibc 2.27; stage "bullseye");
#       aarch64-bookworm  bookworm sysroot (glibc 2.36) + compat shim: the previous deployable binary (glibc 2.35).
# Debian packages only. Idempotent: every finished stage writes $XC_DIR/stamps/<stage>; a re-run skips it.
# Root is required (debootstrap, chroot, bind mounts, binfmt_misc).
#
# Environment: XC_DIR (default /var/cache/resnet-edge-xc), MIRROR (default http://deb.debian.org/debian),
#   EXTRA_ARM64_PKGS (more arm64 packages for every sysroot), FORCE_STAGES ("sysroots sdks" redoes those stages;
#   stages are host debootstrap chroot-swift arm64-debs sysroots sdks bullseye).
# -E: the ERR trap below also reports a failure inside a function.
set -Eeuo pipefail

XC_DIR=${XC_DIR:-/var/cache/resnet-edge-xc}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CH=$XC_DIR/sid-amd64            # the chroot
SDKS=/opt/xc-sdks               # inside the chroot
WORK=/opt/xc-work               # inside the chroot: private apt state and the arm64 .debs (a pinned copy)
STAMPS=$XC_DIR/stamps
here=$(cd "$(dirname "$0")" && pwd)
trap 'echo "setup-aarch64: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

[ "$(id -u)" -eq 0 ] || { echo "setup-aarch64: must run as root" >&2; exit 1; }
mkdir -p "$XC_DIR" "$STAMPS"

# The arm64 packages every sysroot gets (closures are resolved per suite). Names that differ between
# suites (t64 renames, gcc major) are resolved through the dev packages' dependencies.
ARM64_DEV_PKGS="libc6-dev linux-libc-dev libopenblas-dev libopenblas0-pthread libopenblas-pthread-dev
  libturbojpeg0-dev libpng-dev zlib1g-dev libv4l-dev ${EXTRA_ARM64_PKGS:-}"

total_start=$SECONDS
stage_start=0
log() { echo "setup-aarch64: $*"; }
begin() { stage_start=$SECONDS; log "stage $1 ..."; }
finish() { touch "$STAMPS/$1"; log "stage $1 done in $((SECONDS - stage_start)) s"; }
done_already() {
  if [ -e "$STAMPS/$1" ] && [[ " ${FORCE_STAGES:-} " != *" $1 "* ]]; then log "stage $1: already done"; return 0; fi
  return 1
}
in_chroot() { chroot "$CH" /usr/bin/env -i HOME=/root LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/libexec/swift/bin \
                DEBIAN_FRONTEND=noninteractive "$@"; }

# ---------------------------------------------------------------------------------------------------
# Stage host: host packages and binfmt. The binfmt part runs every time (cheap; a reboot loses it).
HOST_PKGS="debootstrap qemu-user-static qemu-user binfmt-support binutils-aarch64-linux-gnu dataset-fashion-mnist"
if ! done_already host; then
  begin host
  missing=()
  for p in $HOST_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing on the host: ${missing[*]}"
    apt-get update -qq || true   # third-party sources may fail; Debian's are what matter
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  finish host
fi
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if ! grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null; then
  update-binfmts --enable qemu-aarch64 || update-binfmts --import qemu-aarch64
fi
grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 || { echo "setup-aarch64: qemu-aarch64 binfmt not enabled" >&2; exit 1; }
grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 || log "warning: qemu-aarch64 binfmt lacks the F flag; emulated binaries will not start inside the chroot"

# ---------------------------------------------------------------------------------------------------
# Mounts the chroot needs (left in place, like xswift's; see README for the cleanup command).
chroot_mounts() {
  mountpoint -q "$CH/proc" || mount -t proc proc "$CH/proc"
  mountpoint -q "$CH/sys" || mount --bind /sys "$CH/sys"
  mountpoint -q "$CH/dev" || mount --bind /dev "$CH/dev"
  mountpoint -q "$CH/dev/pts" || mount --bind /dev/pts "$CH/dev/pts"
  if [ -d /opt/swift-packages ]; then
    mkdir -p "$CH/opt/swift-packages"
    mountpoint -q "$CH/opt/swift-packages" || mount --bind /opt/swift-packages "$CH/opt/swift-packages"
  fi
}
# Unmounts everything under the chroot (deepest first). Refuses to continue if anything stays mounted:
# deleting a chroot with a live bind mount would delete the bound host directory.
chroot_umount_all() {
  local m
  for m in $(awk -v p="$CH/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r); do umount "$m" || umount -l "$m"; done
  if awk -v p="$CH/" 'index($2, p) == 1' /proc/mounts | grep -q .; then
    echo "setup-aarch64: mounts remain under $CH; not deleting it" >&2; exit 1
  fi
}

# ---------------------------------------------------------------------------------------------------
# Stage debootstrap: a minimal sid amd64 system.
if ! done_already debootstrap; then
  begin debootstrap
  if [ -e "$CH" ]; then chroot_umount_all; rm -rf --one-file-system "$CH"; fi
  debootstrap --variant=minbase sid "$CH" "$MIRROR" > "$XC_DIR/debootstrap.log" 2>&1 \
    || { tail -20 "$XC_DIR/debootstrap.log"; exit 1; }
  finish debootstrap
fi
chroot_mounts

# ---------------------------------------------------------------------------------------------------
# Stage chroot-swift: swiftlang 6.2.3 and what SwiftPM needs in the chroot.
if ! done_already chroot-swift; then
  begin chroot-swift
  # The mirror may be a snapshot whose Release files have expired.
  printf 'Acquire::Check-Valid-Until "false";\nAPT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    > "$CH/etc/apt/apt.conf.d/99resnet-edge-xc"
  in_chroot apt-get update -qq
  in_chroot apt-get install -y -qq swiftlang libswiftlang libc6-dev git ca-certificates > "$XC_DIR/chroot-apt.log" 2>&1 \
    || { tail -20 "$XC_DIR/chroot-apt.log"; exit 1; }
  # libstdc++-dev is virtual; install the one matching the chroot's gcc (sid: gcc 16).
  gccmajor=$(in_chroot gcc -dumpversion | cut -d. -f1)
  in_chroot apt-get install -y -qq "libstdc++-$gccmajor-dev" >> "$XC_DIR/chroot-apt.log" 2>&1 \
    || { tail -20 "$XC_DIR/chroot-apt.log"; exit 1; }
  # SwiftPM inside the chroot clones dependencies from the local package mirror.
  in_chroot git config --system url./opt/swift-packages/.insteadOf https://github.com/
  in_chroot swift --version 2>&1 | sed 's/^/  /'
  finish chroot-swift
fi

# ---------------------------------------------------------------------------------------------------
# Stage arm64-debs: private apt configurations (inside the chroot, not touching its dpkg architectures)
# read sid and bookworm arm64 package lists; the sysroot closures and the aarch64 Swift runtime are downloaded
# into $WORK/debs/<suite>/ (kept as a pinned copy).
apt_opts() {    # apt_opts SUITE -> the private configuration options (paths inside the chroot)
  local d=$WORK/apt/$1
  printf '%s\n' -o "Dir::Etc::sourcelist=$d/sources.list" -o Dir::Etc::sourceparts=- \
    -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" -o "Dir::State::status=$d/status" \
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Acquire::Check-Valid-Until=false \
    -o Debug::NoLocking=1 -o Acquire::Languages=none -o APT::Sandbox::User=root
}
apt_arm64() {   # apt_arm64 SUITE apt-get|apt-cache ARGS...
  local suite=$1 tool=$2; shift 2
  local opts; mapfile -t opts < <(apt_opts "$suite")
  in_chroot "$tool" "${opts[@]}" "$@"
}
closure() {     # closure SUITE PKGS... -> the dependency closure (Depends/Pre-Depends), one name a line
  apt_arm64 "$1" apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "${@:2}" | grep -v '^[ <]' | sort -u
}
download() {    # download SUITE LISTFILE -> .debs into $WORK/debs/SUITE
  local opts; mapfile -t opts < <(apt_opts "$1")
  in_chroot sh -c 'cd "$1" && shift && xargs apt-get download -qq "$@"' sh "$WORK/debs/$1" "${opts[@]}" < "$2"
}
fetch_suite() {  # fetch_suite SUITE: the suite's arm64 index, its sysroot closure list and .debs in $WORK/debs/SUITE
  local suite=$1 d=$CH$WORK/apt/$1 gccmajor
  rm -rf "$CH$WORK/debs/$suite"
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$CH$WORK/debs/$suite"
  : > "$d/status"
  echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $suite main" > "$d/sources.list"
  apt_arm64 "$suite" apt-get update -qq
  gccmajor=$(apt_arm64 "$suite" apt-cache depends gcc | sed -n 's/^ *Depends: gcc-\([0-9]*\)$/\1/p' | head -1)
  [ -n "$gccmajor" ] || { echo "setup-aarch64: cannot read gcc's major version for $suite" >&2; exit 1; }
  # shellcheck disable=SC2086
  # (OpenBLAS: only the pthread variant; the openmp/serial alternatives come in only through "a | b | c".)
  closure "$suite" $ARM64_DEV_PKGS "libgcc-$gccmajor-dev" "libstdc++-$gccmajor-dev" \
    | grep -v -E '^libopenblas.*-(openmp|serial)' > "$CH$WORK/debs/$suite.list"
  log "$suite: $(wc -l < "$CH$WORK/debs/$suite.list") arm64 packages for the sysroot (gcc $gccmajor)"
  download "$suite" "$CH$WORK/debs/$suite.list"
}
if ! done_already arm64-debs; then
  begin arm64-debs
  for suite in sid bookworm; do fetch_suite $suite; done
  # The aarch64 Swift runtime and modules (only their files are used, not their dependencies).
  printf 'swiftlang\nlibswiftlang\n' > "$CH$WORK/debs/swift.list"
  rm -rf "$CH$WORK/debs/swift"; mkdir -p "$CH$WORK/debs/swift"
  opts=(); mapfile -t opts < <(apt_opts sid)
  in_chroot sh -c 'cd "$1" && shift && xargs apt-get download -qq "$@"' sh "$WORK/debs/swift" "${opts[@]}" < "$CH$WORK/debs/swift.list"
  du -sh "$CH$WORK/debs"/*/ | sed 's/^/  /'
  finish arm64-debs
fi

# ---------------------------------------------------------------------------------------------------
# Stage sysroots: unpack the closures, merge /lib into /usr/lib, make absolute symlinks relative, emulate
# update-alternatives for OpenBLAS (pthread variant), and point the .pc files into the sysroot.
suite_debs() {     # suite_debs SUITE -> the .deb files of the suite's closure list
  local name f
  while read -r name; do
    f=$(ls "$CH$WORK/debs/$1/${name}"_*.deb 2>/dev/null | head -1)
    [ -n "$f" ] || { echo "setup-aarch64: no .deb for $name ($1)" >&2; return 1; }
    echo "$f"
  done < "$CH$WORK/debs/$1.list"
}
make_sysroot() {   # make_sysroot SUITE DEST
  local suite=$1 S=$2 deb l t
  rm -rf "$S"; mkdir -p "$S"
  while read -r deb; do
    dpkg-deb -x "$deb" "$S"
  done < <(suite_debs "$suite")
  # usrmerge: bookworm's libc6 still ships /lib/aarch64-linux-gnu and /lib/ld-linux-aarch64.so.1.
  for dir in lib bin sbin; do
    if [ -d "$S/$dir" ] && [ ! -L "$S/$dir" ]; then
      mkdir -p "$S/usr/$dir"; cp -a "$S/$dir/." "$S/usr/$dir/"; rm -rf "${S:?}/$dir"
    fi
    [ -e "$S/$dir" ] || ln -s "usr/$dir" "$S/$dir"
  done
  # Absolute symlinks would point at the host (bookworm's libm.so -> /lib/aarch64-linux-gnu/libm.so.6 would
  # dangle and lld would silently pick libm.a instead).
  find "$S" -type l | while read -r l; do
    t=$(readlink "$l")
    case $t in /*) ln -sfn "$(realpath -m -s --relative-to="$(dirname "$l")" "$S$t")" "$l" ;; esac
  done
  # update-alternatives, emulated: every `update-alternatives --install LINK NAME PATH PRIO [--slave LINK NAME PATH]...`
  # in the unpacked packages' postinst scripts becomes a relative symlink; per link the highest priority wins, and
  # on a tie the OpenBLAS pthread variant (the only one in the closure anyway).
  while read -r _ _ link path; do
    mkdir -p "$(dirname "$S$link")"
    ln -sfn "$(realpath -m -s --relative-to="$(dirname "$S$link")" "$S$path")" "$S$link"
  done < <(for deb in $(suite_debs "$suite"); do
             dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./postinst 2>/dev/null || true
           done | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | grep -E '^\s*update-alternatives\s+--install' \
             | awk '{ p = $6; print p, ($5 ~ /openblas-pthread/), $3, $5
                      for (i = 7; i <= NF; i++) if ($i == "--slave") { print p, ($(i+3) ~ /openblas-pthread/), $(i+1), $(i+3); i += 3 } }' \
             | sort -k1,1nr -k2,2nr -s | awk '!seen[$3]++')
  # .pc files: prefix/libdir/includedir pointing into the sysroot (absolute path as seen inside the chroot),
  # so SwiftPM's pkg-config lookup yields the arm64 headers and libraries with no PKG_CONFIG_SYSROOT_DIR.
  local inner=${S#"$CH"}
  find "$S/usr" -path '*/pkgconfig/*.pc' -type f | while read -r pc; do
    sed -i -E "s#^(prefix|exec_prefix|libdir|includedir|sharedlibdir)=/#\1=$inner/#" "$pc"
  done
  # Required by the project (fail early if a rename in Debian dropped something).
  for f in usr/include/aarch64-linux-gnu/cblas.h usr/include/turbojpeg.h usr/include/png.h usr/include/zlib.h \
           usr/include/libv4l2.h usr/lib/aarch64-linux-gnu/libopenblas.so usr/lib/aarch64-linux-gnu/libopenblas.so.0 \
           usr/lib/aarch64-linux-gnu/libblas.so.3 usr/lib/aarch64-linux-gnu/libturbojpeg.so \
           usr/lib/aarch64-linux-gnu/libpng16.so usr/lib/aarch64-linux-gnu/libz.so usr/lib/aarch64-linux-gnu/libv4l2.so \
           usr/lib/aarch64-linux-gnu/pkgconfig/openblas.pc usr/lib/aarch64-linux-gnu/pkgconfig/libturbojpeg.pc \
           usr/lib/aarch64-linux-gnu/pkgconfig/libpng16.pc usr/lib/aarch64-linux-gnu/pkgconfig/zlib.pc \
           usr/lib/aarch64-linux-gnu/libm.so usr/lib/aarch64-linux-gnu/libc.so lib/ld-linux-aarch64.so.1; do
    [ -e "$S/$f" ] || { echo "setup-aarch64: $suite sysroot lacks $f" >&2; exit 1; }
  done
}
if ! done_already sysroots; then
  begin sysroots
  mkdir -p "$CH$SDKS"
  for suite in sid bookworm; do
    make_sysroot $suite "$CH$SDKS/aarch64-$suite.artifactbundle/aarch64-$suite/sysroot"
    log "$suite sysroot: $(du -sh "$CH$SDKS/aarch64-$suite.artifactbundle/aarch64-$suite/sysroot" | cut -f1)"
  done
  rm -f "$STAMPS/sdks"
  finish sysroots
fi

# ---------------------------------------------------------------------------------------------------
# Bundle helpers, shared by the sdks and bullseye stages.
bundle_json() {    # bundle_json SUITE: info.json, swift-sdk.json (schema 4.0) and toolset.json of aarch64-SUITE
  local B=$CH$SDKS/aarch64-$1.artifactbundle
  cat > "$B/info.json" <<EOF
{
  "schemaVersion": "1.0",
  "artifacts": {
    "aarch64-$1": {
      "type": "swiftSDK",
      "version": "6.2.3",
      "variants": [
        { "path": "aarch64-$1", "supportedTriples": ["x86_64-unknown-linux-gnu", "x86_64-pc-linux-gnu"] }
      ]
    }
  }
}
EOF
  cat > "$B/aarch64-$1/swift-sdk.json" <<EOF
{
  "schemaVersion": "4.0",
  "targetTriples": {
    "aarch64-unknown-linux-gnu": {
      "sdkRootPath": "sysroot",
      "swiftResourcesPath": "sysroot/usr/lib/swift",
      "swiftStaticResourcesPath": "sysroot/usr/lib/swift_static",
      "toolsetPaths": ["toolset.json"]
    }
  }
}
EOF
  cat > "$B/aarch64-$1/toolset.json" <<EOF
{
  "schemaVersion": "1.0",
  "swiftCompiler": { "extraCLIOptions": ["-use-ld=lld"] }
}
EOF
}
swift_resources() {  # swift_resources FROM SUITE: hard-links FROM/{swift,swift_static,clang} into the suite's usr/lib
  local R=$1 S=$CH$SDKS/aarch64-$2.artifactbundle/aarch64-$2/sysroot
  rm -rf "$S/usr/lib/swift" "$S/usr/lib/swift_static" "$S/usr/lib/clang"
  cp -al "$R/swift" "$S/usr/lib/swift"
  cp -al "$R/swift_static" "$S/usr/lib/swift_static"
  # lib/swift/clang -> ../clang/<ver> in the package; keep whatever relative link it has.
  if [ -d "$R/clang" ]; then cp -al "$R/clang" "$S/usr/lib/clang"; fi
}
# install_shim SUITE LINK-ARGS...: compiles glibc_compat.c against the suite's sysroot into
# swift_static/linux/libglibccompat.a and appends LINK-ARGS (e.g. -lglibccompat), one line each, to
# static-stdlib-args.lnk and static-executable-args.lnk. The shim source picks what the suite lacks from the
# sysroot's __GLIBC_MINOR__; SHIM_CFLAGS adds defines for the optional parts.
install_shim() {
  local suite=$1; shift
  local s=$SDKS/aarch64-$suite.artifactbundle/aarch64-$suite/sysroot lnk content a
  local L=$CH$s/usr/lib/swift_static/linux
  cp "$here/glibc_compat.c" "$CH/tmp/glibc_compat.c"
  # shellcheck disable=SC2086
  in_chroot clang --target=aarch64-unknown-linux-gnu --sysroot="$s" ${SHIM_CFLAGS:-} \
    -O2 -fPIC -Wall -c /tmp/glibc_compat.c -o "/tmp/glibc_compat-$suite.o"
  # A fresh file, not an overwrite: never write through a hard link into another bundle.
  rm -f "$L/libglibccompat.a"
  in_chroot llvm-ar rcs "$s/usr/lib/swift_static/linux/libglibccompat.a" "/tmp/glibc_compat-$suite.o"
  for lnk in "$L/static-stdlib-args.lnk" "$L/static-executable-args.lnk"; do
    [ -e "$lnk" ] || continue
    # Replace (not edit in place): the file is hard-linked with the sid bundle's copy. Re-runs do not duplicate.
    content=$(cat "$lnk"); rm -f "$lnk"
    for a in "$@"; do content=$(printf '%s' "$content" | grep -vx -- "$a" || true); done
    printf '%s\n' "$content" "$@" > "$lnk"
  done
}

# ---------------------------------------------------------------------------------------------------
# Stage sdks: the aarch64 Swift resources (from sid's swiftlang:arm64 + libswiftlang:arm64) go into both
# sysroots at usr/lib/swift{,_static} (hard links: the bundles share one copy on disk), then the bundle metadata,
# the Testing cross-import removal, and the glibc compat shim for the bookworm bundle.
if ! done_already sdks; then
  begin sdks
  X=$XC_DIR/swift-arm64
  rm -rf "$X"; mkdir -p "$X"
  for deb in "$CH$WORK/debs/swift"/*.deb; do dpkg-deb -x "$deb" "$X"; done
  R=$X/usr/libexec/swift/lib
  [ -d "$R/swift/linux" ] && [ -d "$R/swift_static/linux" ] || { echo "setup-aarch64: unexpected swiftlang:arm64 layout" >&2; exit 1; }
  # Not needed for cross compiling (host tools, embedded, migrator data).
  rm -rf "$R/swift/host" "$R/swift/embedded" "$R/swift/pm" "$R/swift/migrator" "$R/swift/FrameworkABIBaseline" \
         "$R/swift_static/host" "$R/swift_static/embedded"
  # Debian ships Testing's Foundation cross-import overlay but no lib_Testing_Foundation.so: any test target
  # importing Testing with Foundation in its graph would fail to link (-l_Testing_Foundation).
  rm -rf "$R/swift/linux/Testing.swiftcrossimport" "$R/swift_static/linux/Testing.swiftcrossimport"
  for suite in sid bookworm; do
    swift_resources "$R" $suite
    bundle_json $suite
  done
  rm -rf "$X"
  # glibc compat shim (bookworm bundle only). sid's static Swift runtime was compiled against glibc 2.4x headers
  # and references C23 entry points (glibc 2.38) and strlcpy/strlcat (2.38) that bookworm's glibc 2.36 lacks.
  install_shim bookworm -lglibccompat
  # The bullseye bundle takes its Swift resources from the sid bundle: new resources, new bullseye bundle.
  rm -f "$STAMPS/bullseye"
  du -sh --apparent-size "$CH$SDKS"/*.artifactbundle | sed 's/^/  /'
  finish sdks
fi

# ---------------------------------------------------------------------------------------------------
# Stage bullseye: a third bundle, aarch64-bullseye, for the deployable binary on glibc 2.31 (Raspberry Pi OS
# bullseye, Ubuntu 20.04 / JetPack 5). Its own stage (not a third suite in the stages above), so an existing
# setup gains it without re-fetching or rebuilding sid and bookworm. The sysroot comes from bullseye's arm64 .debs
# (glibc 2.31, gcc 10's libstdc++/libgcc) exactly like bookworm's; the Swift resources are hard links to the sid
# bundle's (the sdks stage clears this stamp when it replaces them); the shim covers what sid's static runtime
# takes from glibc 2.32-2.38 and gcc 11-13's libstdc++, and brings the floor from 2.29 down to 2.27.
if ! done_already bullseye; then
  begin bullseye
  fetch_suite bullseye
  make_sysroot bullseye "$CH$SDKS/aarch64-bullseye.artifactbundle/aarch64-bullseye/sysroot"
  log "bullseye sysroot: $(du -sh "$CH$SDKS/aarch64-bullseye.artifactbundle/aarch64-bullseye/sysroot" | cut -f1)"
  swift_resources "$CH$SDKS/aarch64-sid.artifactbundle/aarch64-sid/sysroot/usr/lib" bullseye
  bundle_json bullseye
  # With the 2.27 part: exp/exp2/log/log2/pow bound to their GLIBC_2.17 versions, posix_spawn_file_actions_addchdir_np
  # looked up at run time (see glibc_compat.c), through --wrap, so the binary needs glibc 2.27 rather than 2.29.
  wraps=(); for f in exp exp2 log log2 pow posix_spawn_file_actions_addchdir_np; do wraps+=("-Xlinker --wrap=$f"); done
  SHIM_CFLAGS=-DGLIBC_COMPAT_FLOOR_227 install_shim bullseye -lglibccompat "${wraps[@]}"
  finish bullseye
fi

log "chroot $CH: $(in_chroot swift --version 2>/dev/null | head -1)"
log "SDKs: $(ls "$CH$SDKS" | tr '\n' ' ')"
log "total $((SECONDS - total_start)) s"
