#!/usr/bin/env bash
# The install proves it: installs a board package into minimal arm64 Debian roots (debootstrap, run under qemu through
# binfmt) and checks there, as the board would run it:
#   - the files, the conffile, `--version`, `boards`, the unit (systemd-analyze verify against the root);
#   - the installed `serve`, started from the installed config on the test pattern (source overridden on the command
#     line, so the packaged model, board and preprocessing are what run): /latest says INT8 on the board's kernels
#     (neon for rpi4 under -cpu cortex-a72, neondot for rpi5 under cortex-a76), and the logits of the classified frames
#     equal, byte for byte, the host's for the same frames (the host's own kernels; every variant gives the same bytes);
#   - an upgrade to a newer version keeps a config the user edited (dpkg's conffile handling), and removal leaves the
#     edited config (until purge) and no binary.
# Usage: test-deb.sh [--suites "bookworm bullseye"] [--cpu CPU] [--host-binary B] DEB
#   --cpu: qemu's CPU model (default from the package's board: rpi4 cortex-a72, rpi5 cortex-a76).
#   --host-binary: the x86-64 resnet-edge that computes the reference logits (default .build/release/resnet-edge).
# Clean roots are cached in $XC_DIR/arm64-<suite>-root (remade when the package list changes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
suites="bookworm bullseye" cpu="" host_binary=${RESNET_EDGE_HOST_BIN:-$root/.build/release/resnet-edge}
while [ $# -gt 1 ]; do
  case "$1" in
    --suites) suites=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --host-binary) host_binary=$2; shift 2 ;;
    *) echo "test-deb: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: test-deb.sh [--suites \"bookworm bullseye\"] [--cpu CPU] [--host-binary B] DEB" >&2; exit 2; }
deb=$(realpath "$1")
XC_DIR=${XC_DIR:-/var/cache/resnet-edge-xc}
mirror=${MIRROR:-http://deb.debian.org/debian}
# What a board has besides: systemd (so the unit is verified against real targets) and procps (/bin/kill).
runtime_packages=libopenblas0-pthread,libturbojpeg0,libpng16-16,zlib1g,libv4l-0,libstdc++6,libgcc-s1,systemd,procps
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
start=$SECONDS

version=$(dpkg-deb -f "$deb" Version)
pkg_board=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/resnet-edge/resnet-edge.toml | sed -n 's/^board = "\(.*\)"/\1/p')
case "$pkg_board" in
  rpi4|jetson-nano|qemu-a72) want_kernels=neon; : "${cpu:=cortex-a72}" ;;
  rpi5|jetson-orin-nano|qemu-a76) want_kernels=neondot; : "${cpu:=cortex-a76}" ;;
  *) fail "the package's config names board '$pkg_board', which this test does not know" ;;
esac
[ -x "$host_binary" ] || fail "no host resnet-edge at $host_binary (swift build -c release --product resnet-edge)"

for p in debootstrap qemu-user-static binfmt-support curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
done
[ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 2>/dev/null || true

# A newer version of the same package, for the upgrade check: the same files, the version bumped.
work=$(mktemp -d)
cleanup() { for m in "$work"/root-*/proc; do umount "$m" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
dpkg-deb -R "$deb" "$work/newer"
sed -i "s/^Version: .*/Version: $version+1/" "$work/newer/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz --build "$work/newer" "$work/newer.deb" >/dev/null

# The reference: the same packaged model and config on the host, on the same test-pattern frames.
dpkg-deb -x "$deb" "$work/extracted"
model_path=$(sed -n 's/^path = "\(.*\)"/\1/p' "$work/extracted/etc/resnet-edge/resnet-edge.toml")
sed "s|/usr/share/resnet-edge/|$work/extracted/usr/share/resnet-edge/|g" "$work/extracted/etc/resnet-edge/resnet-edge.toml" > "$work/host.toml"
# A frame every 0.2 s: the emulated board classifies each in time (qemu inference ~0.1 s), the host surely.
serve_args=(--source pattern --fps 5 --socket "" --logits --print)

suite_check() {
  local suite=$1 base="$XC_DIR/arm64-$1-root" r="$work/root-$1"
  if [ ! -f "$base/.complete" ] || [ "$(cat "$base/.complete")" != "$runtime_packages" ]; then
    local t=$SECONDS
    rm -rf "$base"
    # The runtime libraries come with the root: the board already has them (Raspberry Pi OS / Ubuntu); dpkg -i then
    # checks the package's Depends against them.
    debootstrap --arch=arm64 --variant=minbase --include="$runtime_packages" "$suite" "$base" "$mirror" > "$XC_DIR/test-deb-$suite.log" 2>&1 \
      || { tail -20 "$XC_DIR/test-deb-$suite.log"; fail "debootstrap $suite failed"; }
    echo "$runtime_packages" > "$base/.complete"
    echo "test-deb: made the arm64 $suite root in $((SECONDS - t)) s"
  fi
  local glibc
  glibc=$( (chroot "$base" /usr/bin/ldd --version 2>/dev/null || true) | head -1 | grep -oE '[0-9]+\.[0-9]+$' || true)
  cp -a "$base" "$r"
  mount -t proc proc "$r/proc"
  cp "$deb" "$r/tmp/pkg.deb"
  cp "$work/newer.deb" "$r/tmp/newer.deb"
  chroot "$r" dpkg -i /tmp/pkg.deb > "$work/dpkg-$suite.log" 2>&1 || { cat "$work/dpkg-$suite.log"; fail "dpkg -i failed in $suite"; }
  for f in /usr/bin/resnet-edge /lib/systemd/system/resnet-edge.service /etc/resnet-edge/resnet-edge.toml "$model_path" \
           /usr/share/resnet-edge/boards/rpi4.json /usr/share/resnet-edge/models/package.json; do
    [ -e "$r$f" ] || fail "$suite: $f is not installed"
  done
  chroot "$r" dpkg -s resnet-edge | grep -q '^Status: install ok installed' || fail "$suite: dpkg does not list resnet-edge as installed"
  chroot "$r" dpkg-query -W -f='${Conffiles}\n' resnet-edge | grep -q /etc/resnet-edge/resnet-edge.toml || fail "$suite: the config is not a conffile"
  local got
  got=$(QEMU_CPU=$cpu chroot "$r" /usr/bin/resnet-edge --version) || fail "$suite: the installed binary does not start (glibc $glibc)"
  [ "$got" = "${version%%+*}" ] || [ "$got" = "$version" ] || fail "$suite: resnet-edge --version printed '$got', expected '$version'"
  QEMU_CPU=$cpu chroot "$r" /usr/bin/resnet-edge boards | grep -q "^$pkg_board " || fail "$suite: resnet-edge boards does not list $pkg_board"
  systemd-analyze verify --root="$r" /lib/systemd/system/resnet-edge.service > "$work/verify-$suite.log" 2>&1 || true
  if grep -v -e 'Cannot add dependency job' "$work/verify-$suite.log" | grep -q .; then cat "$work/verify-$suite.log"; fail "$suite: systemd-analyze verify reported problems"; fi

  # The installed serve, from the installed config, on the test pattern; /latest read while it runs.
  local port=$((20000 + RANDOM % 20000)) t=$SECONDS
  QEMU_CPU=$cpu chroot "$r" /usr/bin/resnet-edge serve --config /etc/resnet-edge/resnet-edge.toml "${serve_args[@]}" \
      --http "127.0.0.1:$port" --frames 4 > "$work/board-$suite.jsonl" 2> "$work/board-$suite.log" &
  local pid=$! latest=""
  for _ in $(seq 1 240); do
    latest=$(curl -sf "http://127.0.0.1:$port/latest" 2>/dev/null) && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.5
  done
  local health
  health=$(curl -sf "http://127.0.0.1:$port/healthz" 2>/dev/null || true)
  wait $pid || { cat "$work/board-$suite.log"; fail "$suite: the installed serve failed"; }
  [ -n "$latest" ] || { cat "$work/board-$suite.log"; fail "$suite: no result on /latest"; }
  echo "test-deb: $suite /latest: $(echo "$latest" | cut -c1-160)..."
  echo "test-deb: $suite first log line: $(head -1 "$work/board-$suite.log")"
  echo "$latest" | grep -q '"precision":"INT8"' || fail "$suite: /latest is not INT8: $latest"
  echo "$latest" | grep -q "\"kernels\":\"$want_kernels\"" || fail "$suite: /latest does not run the $want_kernels kernels: $latest"
  echo "$latest" | grep -q "\"board\":\"$pkg_board\"" || fail "$suite: /latest does not name board $pkg_board: $latest"
  [ -z "$health" ] || echo "$health" | grep -q "\"kernels\":\"$want_kernels\"" || fail "$suite: /healthz does not name the kernels: $health"
  head -1 "$work/board-$suite.log" | grep -q "INT8 on $want_kernels kernels, board $pkg_board" || fail "$suite: the first log line does not say what runs"

  # The host on the same frames: sequence numbers pick the same test-pattern pictures on both sides.
  local max
  max=$(python3 -c 'import json,sys; print(max(json.loads(l)["sequence"] for l in open(sys.argv[1]) if l.strip()))' "$work/board-$suite.jsonl")
  [ -s "$work/host.jsonl" ] && [ "$(cat "$work/host.max")" -ge "$max" ] || {
    "$host_binary" serve --config "$work/host.toml" "${serve_args[@]}" --http "" --frames $((max + 4)) > "$work/host.jsonl" 2> "$work/host.log" \
      || { cat "$work/host.log"; fail "the host's serve failed"; }
    echo $((max + 4)) > "$work/host.max"
  }
  python3 - "$work/board-$suite.jsonl" "$work/host.jsonl" "$suite" <<'PY' || fail "$suite: the board's logits differ from the host's"
import json, struct, sys
board = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
host = {r["sequence"]: r for r in (json.loads(l) for l in open(sys.argv[2]) if l.strip())}
compared = 0
for r in board:
    h = host.get(r["sequence"])
    if h is None:
        continue
    # Bit for bit: each logit is written in the shortest form that reads back to the same float32.
    a = [struct.pack("<f", x) for x in r["logits"]]
    b = [struct.pack("<f", x) for x in h["logits"]]
    if a != b:
        print(f"sequence {r['sequence']}: board {r['logits']} host {h['logits']}", file=sys.stderr)
        sys.exit(1)
    compared += 1
if compared == 0:
    print("no frame classified on both sides", file=sys.stderr)
    sys.exit(1)
print(f"test-deb: {sys.argv[3]}: logits of {compared} frames equal the host's byte for byte "
      f"(board {board[0]['kernels']}, host {next(iter(host.values()))['kernels']}; top-1 {board[0]['labels'][0]})")
PY

  # Upgrade over an edited config keeps the edit; removal keeps it too (a conffile goes only with purge).
  sed -i 's/^top_k = .*/top_k = 3  # edited by the user/' "$r/etc/resnet-edge/resnet-edge.toml"
  chroot "$r" dpkg -i /tmp/newer.deb > "$work/upgrade-$suite.log" 2>&1 < /dev/null || { cat "$work/upgrade-$suite.log"; fail "$suite: upgrade failed"; }
  [ "$(chroot "$r" dpkg-query -W -f='${Version}' resnet-edge)" = "$version+1" ] || fail "$suite: the upgrade did not install $version+1"
  grep -q '^top_k = 3  # edited by the user' "$r/etc/resnet-edge/resnet-edge.toml" || fail "$suite: the upgrade replaced the edited config"
  chroot "$r" dpkg -r resnet-edge > "$work/remove-$suite.log" 2>&1 || { cat "$work/remove-$suite.log"; fail "$suite: dpkg -r failed"; }
  [ ! -e "$r/usr/bin/resnet-edge" ] || fail "$suite: removal left /usr/bin/resnet-edge"
  grep -q '^top_k = 3' "$r/etc/resnet-edge/resnet-edge.toml" || fail "$suite: removal (not purge) lost the edited config"
  umount "$r/proc"
  echo "test-deb: OK: $suite (glibc $glibc) under qemu $cpu: installed, serve ran INT8 on $want_kernels for $pkg_board, upgrade kept the edited config, removed ($((SECONDS - t)) s for serve and upgrade)"
}

for suite in $suites; do suite_check "$suite"; done
echo "test-deb: OK: $(basename "$deb") ($pkg_board) in $suites ($((SECONDS - start)) s)"
