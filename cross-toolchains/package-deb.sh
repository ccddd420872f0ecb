#!/usr/bin/env bash
# Turns a model and a board profile into the board package: resnet-edge_<version>_arm64.deb with
#   /usr/bin/resnet-edge                      the static-Swift aarch64 binary (cross-toolchains/build-release.sh), stripped
#   /lib/systemd/system/resnet-edge.service   from systemd/
#   /etc/resnet-edge/resnet-edge.toml         default config from systemd/, board set to the profile (a conffile)
#   /usr/share/resnet-edge/models/model.onnx  the model (+ labels.txt when given)
#   /usr/share/resnet-edge/boards/*.json      the board profiles
# Usage: package-deb.sh --model M.onnx --board rpi4 [--labels L.txt] [--binary PATH] [--out DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model="" board="" labels="" out="$root/out"
binary="$root/.build-aarch64-release/aarch64-unknown-linux-gnu/release/resnet-edge"
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --board) board=$2; shift 2 ;;
    --labels) labels=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "package-deb: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$model" ] && [ -n "$board" ] || { echo "usage: package-deb.sh --model M.onnx --board NAME [--labels L] [--binary B] [--out DIR]" >&2; exit 2; }
[ -f "$model" ] || { echo "package-deb: model $model not found" >&2; exit 1; }
[ -f "$root/boards/$board.json" ] || { echo "package-deb: no board profile boards/$board.json (known: $(cd "$root/boards" && ls *.json | sed 's/.json//' | tr '\n' ' '))" >&2; exit 1; }
[ -x "$binary" ] || { echo "package-deb: no aarch64 binary at $binary; run cross-toolchains/build-release.sh first" >&2; exit 1; }
file "$binary" | grep -q 'ARM aarch64' || { echo "package-deb: $binary is not an aarch64 executable" >&2; exit 1; }

version=$(sed -n 's/.*static let version = "\(.*\)".*/\1/p' "$root/Sources/ResNetEdgeCLI/ResNetEdge.swift")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/resnet-edge" \
           "$stage/usr/share/resnet-edge/models" "$stage/usr/share/resnet-edge/boards" "$stage/usr/share/doc/resnet-edge"
/opt/swift/usr/bin/llvm-objcopy --strip-all "$binary" "$stage/usr/bin/resnet-edge"
chmod 0755 "$stage/usr/bin/resnet-edge"
install -m 0644 "$root/systemd/resnet-edge.service" "$stage/lib/systemd/system/"
sed "s/^board = .*/board = \"$board\"/" "$root/systemd/resnet-edge.toml" > "$stage/etc/resnet-edge/resnet-edge.toml"
install -m 0644 "$model" "$stage/usr/share/resnet-edge/models/model.onnx"
[ -z "$labels" ] || install -m 0644 "$labels" "$stage/usr/share/resnet-edge/models/labels.txt"
install -m 0644 "$root"/boards/*.json "$stage/usr/share/resnet-edge/boards/"
install -m 0644 "$root/README.md" "$stage/usr/share/doc/resnet-edge/"
echo "/etc/resnet-edge/resnet-edge.toml" > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = "configure" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
POSTINST
cat > "$stage/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
POSTRM
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/postrm"
size_kib=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
# Runtime libraries the binary links dynamically (its NEEDED entries), by their Debian package names.
# glibc >= 2.35 is what build-release.sh enforces (Ubuntu 22.04 / JetPack 6 and Raspberry Pi OS bookworm).
cat > "$stage/DEBIAN/control" <<CONTROL
Package: resnet-edge
Version: $version
Architecture: arm64
Maintainer: resnet-edge developers <dev@resnet-edge.invalid>
Installed-Size: $size_kib
Depends: libc6 (>= 2.35), libstdc++6 (>= 12), libgcc-s1, libopenblas0-pthread | libopenblas0, libturbojpeg0, libpng16-16, zlib1g, libv4l-0
Section: science
Priority: optional
Homepage: https://github.com/resnet-edge/resnet-edge
Description: real-time ResNet image classification for ARM boards ($board)
 resnet-edge classifies camera frames with a ResNet-family model on the CPU and
 streams the results. This package is built for the $board board profile and
 carries the model $(basename "$model").
CONTROL
mkdir -p "$out"
deb="$out/resnet-edge_${version}_arm64.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "package-deb: $deb ($(du -h "$deb" | cut -f1), installed $((size_kib / 1024)) MiB) for board $board"
