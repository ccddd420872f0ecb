#!/usr/bin/env bash
# Installs the board package into a minimal arm64 Debian bookworm root (debootstrap, run under qemu through
# binfmt) and checks it there: the files, the unit (systemd-analyze verify against that root), and that the
# installed binary runs: --version, `boards`, and a real classification with the packaged model.
# Usage: test-deb.sh DEB [PHOTO]. The clean root is cached in $XC_DIR/arm64-bookworm-root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deb=$(realpath "$1")
photo=${2:-$root/../shared/testdata/images/darknet_dog.jpg}
XC_DIR=${XC_DIR:-/var/cache/resnet-edge-xc}
base="$XC_DIR/arm64-bookworm-root"
mirror=${MIRROR:-http://deb.debian.org/debian}
# What a board has besides: systemd (so the unit is verified against real targets) and procps (/bin/kill).
runtime_packages=libopenblas0-pthread,libturbojpeg0,libpng16-16,zlib1g,libv4l-0,libstdc++6,libgcc-s1,systemd,procps

start=$SECONDS
# The cached root is remade when the package list changes.
if [ ! -f "$base/.complete" ] || [ "$(cat "$base/.complete")" != "$runtime_packages" ]; then
  for p in debootstrap qemu-user-static binfmt-support; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
  done
  [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64 2>/dev/null || true
  rm -rf "$base"
  # The runtime libraries come with the root: the board already has them (Raspberry Pi OS / Ubuntu); dpkg -i
  # then checks the package's Depends against them.
  debootstrap --arch=arm64 --variant=minbase --include="$runtime_packages" bookworm "$base" "$mirror" > "$XC_DIR/test-deb-debootstrap.log" 2>&1 \
    || { tail -20 "$XC_DIR/test-deb-debootstrap.log"; exit 1; }
  echo "$runtime_packages" > "$base/.complete"
  echo "test-deb: made the arm64 bookworm root in $((SECONDS - start)) s"
fi

work=$(mktemp -d)
trap 'umount "$work/root/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
cp -a "$base" "$work/root"
mount -t proc proc "$work/root/proc"
cp "$deb" "$work/root/tmp/pkg.deb"
cp "$photo" "$work/root/tmp/photo.jpg"
chroot "$work/root" dpkg -i /tmp/pkg.deb

fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
for f in /usr/bin/resnet-edge /lib/systemd/system/resnet-edge.service /etc/resnet-edge/resnet-edge.toml \
         /usr/share/resnet-edge/models/model.onnx /usr/share/resnet-edge/boards/rpi4.json; do
  [ -e "$work/root$f" ] || fail "$f is not installed"
done
chroot "$work/root" dpkg -s resnet-edge | grep -q '^Status: install ok installed' || fail "dpkg does not list resnet-edge as installed"
chroot "$work/root" dpkg-query -W -f='${Conffiles}\n' resnet-edge | grep -q /etc/resnet-edge/resnet-edge.toml || fail "the config is not a conffile"
version=$(sed -n 's/.*static let version = "\(.*\)".*/\1/p' "$root/Sources/ResNetEdgeCLI/ResNetEdge.swift")
got=$(QEMU_CPU=cortex-a72 chroot "$work/root" /usr/bin/resnet-edge --version)
[ "$got" = "$version" ] || fail "resnet-edge --version printed '$got', expected '$version'"
QEMU_CPU=cortex-a72 chroot "$work/root" /usr/bin/resnet-edge boards | grep -q '^rpi4 ' || fail "resnet-edge boards does not list rpi4"
board=$(sed -n 's/^board = "\(.*\)"/\1/p' "$work/root/etc/resnet-edge/resnet-edge.toml")
# The packaged model classifies a photo inside the board's root (the reference model takes fashion-mnist input).
QEMU_CPU=cortex-a72 chroot "$work/root" /usr/bin/resnet-edge classify --model /usr/share/resnet-edge/models/model.onnx \
    --preprocess fashion-mnist --json /tmp/photo.jpg | grep -q '"probabilities"' || fail "classify did not run in the arm64 root"
# The unit: systemd-analyze checks it against the root, where ExecStart's binary exists.
systemd-analyze verify --root="$work/root" /lib/systemd/system/resnet-edge.service 2>&1 | tee "$work/verify.log"
if grep -v -e 'Cannot add dependency job' "$work/verify.log" | grep -q .; then fail "systemd-analyze verify reported problems"; fi
echo "test-deb: OK: $(basename "$deb") installs in arm64 bookworm, board '$board', --version $got ($((SECONDS - start)) s)"
