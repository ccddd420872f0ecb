#!/usr/bin/env bash
# Turns a model and a board profile into the board package, resnet-edge_<version>_arm64.deb, that runs what we
# verified: the model calibrated to INT8 for that board's kernels, by default.
#
#   package-deb.sh --board rpi4 --model M.rem                                  a .rem made for rpi4 (`resnet-edge calibrate`)
#   package-deb.sh --board rpi4 --model M.onnx --images DIR [-- calibrate options]   calibrates it for rpi4 here
#   package-deb.sh --board rpi4 --model M.onnx --dataset DIR [-- ...]            (IDX or ImageFolder, as calibrate takes)
#   package-deb.sh --board rpi4 --model M.onnx --fp32 [--preprocess P]         an FP32 package, only when asked for
#   package-deb.sh --board generic --binary .build/release/resnet-edge ...     any machine (e.g. an amd64 box): the
#                                                                             config detects the board (board = "auto")
# The package's architecture is the binary's: aarch64 -> arm64, x86-64 -> amd64.
# Other options: --labels L.txt, --binary PATH (the aarch64 binary; default build-release.sh's), --host-binary PATH
# (the resnet-edge that checks or calibrates the model on this machine; default .build/release/resnet-edge, built if
# missing), --version V (default the tool's), --out DIR (default out/).
#
# The model half is `resnet-edge package-model` (the refusals, the calibration, package.json); this script assembles
# the .deb around it:
#   /usr/bin/resnet-edge                          the static-Swift aarch64 binary, stripped
#   /lib/systemd/system/resnet-edge.service       from systemd/
#   /etc/resnet-edge/resnet-edge.toml             default config, board and model set (a conffile: upgrades keep edits)
#   /usr/share/resnet-edge/models/                model.rem (or model.onnx), labels.txt, package.json
#   /usr/share/resnet-edge/boards/*.json          the board profiles
#   /usr/share/doc/resnet-edge/                   README.md, calibration-report.json
# Any error: one line naming the problem and the fix, exit 1, and no package or partial file left behind.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model="" board="" labels="" images="" dataset="" preprocess="" fp32=0 version="" out="$root/out"
binary="$root/.build-aarch64-release/aarch64-unknown-linux-gnu/release/resnet-edge"
host_binary=${RESNET_EDGE_HOST_BIN:-}
calibrate_args=()
die() { echo "package-deb: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --board) board=$2; shift 2 ;;
    --labels) labels=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --dataset) dataset=$2; shift 2 ;;
    --preprocess) preprocess=$2; shift 2 ;;
    --fp32) fp32=1; shift ;;
    --binary) binary=$2; shift 2 ;;
    --host-binary) host_binary=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; calibrate_args=("$@"); break ;;
    *) echo "package-deb: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$model" ] && [ -n "$board" ] || {
  echo "usage: package-deb.sh --board NAME --model M.rem | --model M.onnx (--images DIR | --dataset DIR | --fp32) [--labels L] [--binary B] [--out DIR] [-- calibrate options]" >&2; exit 2; }
[ -f "$model" ] || die "model $model not found"
[ "$board" = generic ] || [ -f "$root/boards/$board.json" ] || die "unknown board '$board'; known: $(cd "$root/boards" && ls *.json | sed 's/.json//' | tr '\n' ' ')or generic"
[ -e "$binary" ] || die "no aarch64 binary at $binary; run cross-toolchains/build-release.sh first (or pass --binary)"
case "$(file -bL "$binary")" in
  *ELF*executable*ARM\ aarch64*|*ELF*ARM\ aarch64*executable*) arch=arm64 ;;
  *ELF*x86-64*) arch=amd64 ;;
  *) die "$binary is not an aarch64 (or x86-64) executable ($(file -bL "$binary" | cut -d, -f1-2)); build it with cross-toolchains/build-release.sh" ;;
esac
[ "$arch" = arm64 ] || [ "$board" = generic ] || die "$binary is an $arch executable; a package for $board needs the aarch64 binary (cross-toolchains/build-release.sh)"
[ -z "$labels" ] || [ -f "$labels" ] || die "labels file $labels not found"
[ -z "$images" ] || [ -d "$images" ] || die "--images $images is not a directory"
[ -z "$dataset" ] || [ -e "$dataset" ] || die "--dataset $dataset not found"

if [ -z "$host_binary" ]; then
  host_binary=$root/.build/release/resnet-edge
  if [ ! -x "$host_binary" ]; then
    echo "package-deb: building the host resnet-edge to check and calibrate the model (swift build -c release --product resnet-edge)"
    (cd "$root" && swift build -c release --product resnet-edge >/dev/null) || die "swift build -c release failed"
  fi
fi
[ -x "$host_binary" ] || die "no host resnet-edge at $host_binary"

[ -n "$version" ] || version=$(sed -n 's/.*static let version = "\(.*\)".*/\1/p' "$root/Sources/ResNetEdgeCLI/ResNetEdge.swift")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# The model: refused unless it is right for the board; calibrated here when it is an FP32 ONNX with data.
args=(package-model --board "$board" --model "$model" --stage "$stage/model")
[ -z "$labels" ] || args+=(--labels "$labels")
[ -z "$images" ] || args+=(--images "$images")
[ -z "$dataset" ] || args+=(--dataset "$dataset")
[ -z "$preprocess" ] || args+=(--preprocess "$preprocess")
[ "$fp32" = 0 ] || args+=(--fp32)
[ ${#calibrate_args[@]} -eq 0 ] || args+=(-- "${calibrate_args[@]}")
t=$SECONDS
if ! "$host_binary" "${args[@]}" > "$stage/package-model.log" 2> "$stage/package-model.err"; then
  # package-model's own one-line error (ArgumentParser writes "Error: ..."), without the usage text.
  msg=$(grep -m1 -i '^error: ' "$stage/package-model.err" | sed 's/^[Ee]rror: //')
  die "${msg:-$(tail -1 "$stage/package-model.err")}"
fi
json() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$stage/model/package.json" "$1"; }
model_file=$(json model_file) precision=$(json precision) kernels=$(json kernels) sha=$(json sha256)
labels_file=$(json labels_file) packaged_preprocess=$(json preprocess) calibrated=$(json calibrated)
echo "package-deb: $(tail -1 "$stage/package-model.log") ($((SECONDS - t)) s)"

pkg=$stage/pkg
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/resnet-edge" \
           "$pkg/usr/share/resnet-edge/models" "$pkg/usr/share/resnet-edge/boards" "$pkg/usr/share/doc/resnet-edge"
/opt/swift/usr/bin/llvm-objcopy --strip-all "$binary" "$pkg/usr/bin/resnet-edge"
chmod 0755 "$pkg/usr/bin/resnet-edge"
install -m 0644 "$root/systemd/resnet-edge.service" "$pkg/lib/systemd/system/"
models=/usr/share/resnet-edge/models
for f in "$model_file" labels.txt model.preprocess.json package.json; do
  [ ! -e "$stage/model/$f" ] || install -m 0644 "$stage/model/$f" "$pkg$models/$f"
done
[ ! -e "$stage/model/calibration-report.json" ] || install -m 0644 "$stage/model/calibration-report.json" "$pkg/usr/share/doc/resnet-edge/"
# The default config names what was packaged: the board, the model file, its labels and preprocessing.
config_board=$board
[ "$board" != generic ] || config_board=auto   # a generic package runs wherever it is installed: detect the board there
sed -e "s|^board = .*|board = \"$config_board\"|" \
    -e "s|^path = \"/usr/share/resnet-edge/models/.*\"|path = \"$models/$model_file\"|" \
    -e "s|^labels = .*|labels = \"${labels_file:+$models/$labels_file}\"|" \
    -e "s|^preprocess = .*|preprocess = \"$packaged_preprocess\"|" \
    "$root/systemd/resnet-edge.toml" > "$pkg/etc/resnet-edge/resnet-edge.toml"
grep -q "^path = \"$models/$model_file\"" "$pkg/etc/resnet-edge/resnet-edge.toml" || die "internal: the default config's model.path was not set"
install -m 0644 "$root"/boards/*.json "$pkg/usr/share/resnet-edge/boards/"
install -m 0644 "$root/README.md" "$pkg/usr/share/doc/resnet-edge/"
echo "/etc/resnet-edge/resnet-edge.toml" > "$pkg/DEBIAN/conffiles"
# Maintainer scripts as debhelper's systemd snippets behave: an upgrade restarts a running service (try-restart
# leaves a stopped one stopped), removal stops it first. Nothing runs where systemd is not PID 1 (a chroot, an image
# build).
cat > "$pkg/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = "configure" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  if [ -n "$2" ]; then
    systemctl try-restart resnet-edge.service || true
  fi
fi
POSTINST
cat > "$pkg/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then
  systemctl stop resnet-edge.service || true
fi
PRERM
cat > "$pkg/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
POSTRM
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"
size_kib=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
# The binary's NEEDED libraries by their Debian package names, with the versions dpkg-shlibdeps derives from
# bullseye's symbols files for what build-release.sh's binary uses (glibc floor 2.27: Raspberry Pi OS bullseye, Ubuntu
# 20.04 / JetPack 5 and newer install it; Ubuntu 18.04 is refused, see cross-toolchains/README.md).
depends="libc6 (>= 2.27), libstdc++6 (>= 7), libgcc-s1, libopenblas0-pthread | libopenblas0, libturbojpeg0 (>= 1:2.0.2), libpng16-16 (>= 1.6.2-1), zlib1g (>= 1:1.1.4), libv4l-0"
runs="$precision${kernels:+ on $kernels kernels}"
[ "$kernels" != fp32 ] || runs="FP32 on OpenBLAS"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: resnet-edge
Version: $version
Architecture: $arch
Maintainer: resnet-edge developers <dev@resnet-edge.invalid>
Installed-Size: $size_kib
Depends: $depends
Section: science
Priority: optional
Homepage: https://github.com/resnet-edge/resnet-edge
Description: real-time ResNet image classification on the CPU ($board)
 resnet-edge classifies camera frames with a ResNet-family model on the CPU and
 streams the results. This package is built for the $board board profile and
 runs $(basename "$model")$([ "$calibrated" = True ] && echo ", calibrated here,") as $runs
 (model sha256 $sha).
CONTROL
mkdir -p "$out"
deb="$out/resnet-edge_${version}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$stage/pkg.deb" >/dev/null
mv "$stage/pkg.deb" "$deb"
echo "package-deb: $deb ($(du -h "$deb" | cut -f1), installed $((size_kib / 1024)) MiB; binary $(( $(stat -c %s "$pkg/usr/bin/resnet-edge") / 1048576 )) MiB) for board $board: $model_file, $runs"
