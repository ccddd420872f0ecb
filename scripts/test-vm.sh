#!/usr/bin/env bash
# The VM integration test of the camera daemon (issue 6): boots a Debian 6.1 kernel with the vivid virtual camera
# and a Debian bookworm root with real systemd under qemu (TCG), runs `systemctl start resnet-edge` on /dev/video0
# there, and checks the results API, the metrics, camera unplug/replug, reload, the watchdog and stop (the checks
# are in scripts/vm/ci-run.sh, which prints `CI: ...` lines on the serial console).
#
#   bash scripts/test-vm.sh [amd64|arm64]
#
# env: RESNET_EDGE_BIN      the resnet-edge binary to test (default: build it here, release, static Swift runtime;
#                            arm64: cross-toolchains/build-release.sh's binary)
#      RESNET_EDGE_SHARED   ../shared (the reference models)
#      VM_CACHE             cache directory (default /var/cache/resnet-edge-vm)
#      VM_TIMEOUT           overall qemu timeout in seconds (default 600)
#      VM_REFRESH=1         fetch the newest kernel ABI and rebuild the cached root
#      VM_KEEP=1            keep the run's root tree and images in $VM_CACHE/<arch>/run
# Needs root (apt-get, debootstrap). The first run downloads the kernel and debootstraps the root (cached).
# Exit status 0 only if the guest printed `CI: RESULT PASS`.
set -euo pipefail
arch=${1:-amd64}
root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/scripts/vm
shared=${RESNET_EDGE_SHARED:-$root/../shared}
cache=${VM_CACHE:-/var/cache/resnet-edge-vm}
timeout_s=${VM_TIMEOUT:-600}
mirror=http://deb.debian.org/debian
start=$SECONDS
log() { echo "test-vm: $*"; }
die() { echo "test-vm: FAIL: $*" >&2; exit 1; }
stage() { log "$1 took $((SECONDS - t)) s"; }

case $arch in
  amd64)
    qemu=qemu-system-x86_64; qemu_pkg=qemu-system-x86; console=ttyS0; triplet=x86_64-linux-gnu
    # TCG, although /dev/kvm answers here: under KVM qemu 7.2 aborts with -cpu host or max ("failed to set MSR 0x10a",
    # IA32_ARCH_CAPABILITIES) and, with -cpu host,-arch-capabilities, the kernel stops after "Probing EDD" (25 s
    # tried): this machine's nested KVM cannot run the guest.
    qemu_machine=(-machine q35 -cpu max -accel tcg,thread=multi)
    ;;
  arm64)
    qemu=qemu-system-aarch64; qemu_pkg="qemu-system-arm qemu-user-static binfmt-support"; console=ttyAMA0
    triplet=aarch64-linux-gnu
    qemu_machine=(-machine virt -cpu cortex-a72 -accel tcg,thread=multi)
    ;;
  *) die "usage: test-vm.sh [amd64|arm64]" ;;
esac
[ "$(id -u)" = 0 ] || die "needs root (apt-get, debootstrap)"
work=$cache/$arch
mkdir -p "$work/debs"
# One run per architecture at a time (the cache and the run directory are shared).
exec 9> "$work/.lock"
flock -n 9 || { log "waiting for another test-vm.sh $arch run to finish"; flock 9; }

# ---------------------------------------------------------------- host packages
t=$SECONDS
need=()
for p in $qemu_pkg debootstrap e2fsprogs cpio kmod; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ "$arch" = arm64 ]; then
  # debootstrap's second stage runs arm64 binaries through qemu-user + binfmt_misc (lost on a new container).
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
fi
# Another architecture's packages (kernel, busybox) come through a private apt state under the cache, as
# cross-toolchains/ does: the host's dpkg architecture list is not touched.
aptopts=()
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
  a=$work/apt
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial"; touch "$a/status"
  aptopts=(-o "APT::Architecture=$arch" -o "APT::Architectures=$arch" -o "Dir::State::Lists=$a/lists"
           -o "Dir::State::status=$a/status" -o "Dir::Cache=$a/cache")
  [ -n "$(ls "$a/lists" | grep Packages || true)" ] || apt-get "${aptopts[@]}" update -qq
fi
stage "host packages"

# apt-get download with one apt-get update retry (the lists may be stale or missing on a new machine).
fetch() { # DIR PKG...
  local dir=$1; shift
  (cd "$dir" && apt-get "${aptopts[@]}" download -qq "$@" >/dev/null 2>&1) ||
    { apt-get "${aptopts[@]}" update -qq && (cd "$dir" && apt-get "${aptopts[@]}" download -qq "$@" >/dev/null); }
}

# ---------------------------------------------------------------- kernel + modules (cached)
t=$SECONDS
kabi=
[ "${VM_REFRESH:-0}" = 1 ] || kabi=$(cat "$work/kernel.abi" 2>/dev/null || true)
if [ -z "$kabi" ]; then
  kabi=$(apt-cache "${aptopts[@]}" depends "linux-image-$arch" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$kabi" ] || { apt-get "${aptopts[@]}" update -qq
    kabi=$(apt-cache "${aptopts[@]}" depends "linux-image-$arch" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'); }
  kabi=${kabi#linux-image-}; kabi=${kabi%:*}
  [ -n "$kabi" ] || die "cannot find the kernel ABI (apt-cache depends linux-image-$arch)"
fi
kver=$kabi                                    # e.g. 6.1.0-56-amd64
kdir=$work/kernel-$kver
# The modules the VM needs: the root disk (virtio, ext4) and the vivid chain. vivid gets a single webcam-type
# capture node, /dev/video0.
vivid_opts="n_devs=1 node_types=0x1 num_inputs=1 input_types=0x0"
if [ ! -e "$kdir/.complete" ]; then
  log "kernel $kver: downloading and extracting"
  rm -rf "$kdir"; mkdir -p "$kdir"
  rm -f "$work/debs"/linux-image-"$kver"_*.deb
  fetch "$work/debs" "linux-image-$kver"
  x=$(mktemp -d "$work/kx.XXXXXX")
  dpkg -x "$work/debs"/linux-image-"$kver"_*.deb "$x"
  if [ -d "$x/usr/lib/modules" ] && [ ! -d "$x/lib/modules" ]; then mkdir -p "$x/lib"; mv "$x/usr/lib/modules" "$x/lib/"; fi
  if [ "$arch" = arm64 ]; then zcat "$x/boot/vmlinuz-$kver" > "$kdir/vmlinuz" 2>/dev/null || cp "$x/boot/vmlinuz-$kver" "$kdir/vmlinuz"
  else cp "$x/boot/vmlinuz-$kver" "$kdir/vmlinuz"; fi
  depmod -b "$x" "$kver"
  # insmod order, with options; builtins are skipped.
  for mod in virtio_pci virtio_blk ext4; do modprobe -d "$x" -S "$kver" --show-depends "$mod"; done > "$kdir/deps"
  modprobe -d "$x" -S "$kver" --show-depends vivid $vivid_opts >> "$kdir/deps"
  : > "$kdir/modules.load"
  awk '$1 == "insmod" {print}' "$kdir/deps" | while read -r _ path args; do
    rel=${path#"$x"/lib/modules/"$kver"/}
    grep -q "^$rel\( \|$\)" "$kdir/modules.load" || echo "$rel $args" >> "$kdir/modules.load"
    mkdir -p "$kdir/modules/$(dirname "$rel")"
    cp "$path" "$kdir/modules/$rel"
  done
  grep -q 'vivid.ko' "$kdir/modules.load" || die "no vivid module in linux-image-$kver"
  case $(head -c2 "$kdir/modules/$(grep vivid.ko "$kdir/modules.load" | cut -d' ' -f1)" | od -An -tx1 | tr -d ' ') in
    7f45) ;; *) die "kernel modules are compressed; busybox insmod cannot load them" ;; esac
  cp "$x/lib/modules/$kver"/modules.order "$x/lib/modules/$kver"/modules.builtin* "$kdir/modules/"
  rm -rf "$x"
  echo "$kver" > "$work/kernel.abi"
  touch "$kdir/.complete"
fi
stage "kernel $kver ($(wc -l < "$kdir/modules.load") modules)"

# ---------------------------------------------------------------- initramfs (cached)
t=$SECONDS
initrd=$work/initrd-$kver.cpio.gz
ihash=$(cat "$here/init.sh" "$kdir/modules.load" | sha256sum | cut -c1-12)
if [ ! -e "$initrd" ] || [ "$(cat "$initrd.hash" 2>/dev/null)" != "$ihash" ]; then
  log "initramfs: building"
  rm -f "$work/debs"/busybox-static_*.deb
  fetch "$work/debs" busybox-static
  x=$(mktemp -d "$work/ix.XXXXXX")
  dpkg -x "$work/debs"/busybox-static_*.deb "$x/pkg"
  mkdir -p "$x/ir/bin" "$x/ir/proc" "$x/ir/sys" "$x/ir/dev" "$x/ir/newroot" "$x/ir/lib/modules"
  cp "$x/pkg/bin/busybox" "$x/ir/bin/busybox"
  cp "$here/init.sh" "$x/ir/init"; chmod 755 "$x/ir/init"
  cp -r "$kdir/modules/." "$x/ir/lib/modules/"
  rm -f "$x/ir/lib/modules"/modules.*
  cp "$kdir/modules.load" "$x/ir/modules.load"
  (cd "$x/ir" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp"
  mv "$initrd.tmp" "$initrd"; echo "$ihash" > "$initrd.hash"
  rm -rf "$x"
fi
stage "initramfs ($(du -k "$initrd" | cut -f1) KB)"

# ---------------------------------------------------------------- the binary under test
t=$SECONDS
bin=${RESNET_EDGE_BIN:-}
if [ -z "$bin" ]; then
  if [ "$arch" = amd64 ]; then
    log "building the release binary (swift build -c release --static-swift-stdlib --product resnet-edge)"
    (cd "$root" && swift build -c release --static-swift-stdlib --product resnet-edge >/dev/null) ||
      die "swift build -c release --static-swift-stdlib failed"
    bin=$root/.build/release/resnet-edge
  else
    log "building the aarch64 release binary (cross-toolchains/build-release.sh)"
    (cd "$root" && bash cross-toolchains/build-release.sh > "$work/build-release.log" 2>&1) ||
      { tail -20 "$work/build-release.log"; die "cross-toolchains/build-release.sh failed"; }
    bin=$root/.build-aarch64-release/resnet-edge-aarch64
  fi
fi
[ -x "$bin" ] || die "no binary at $bin"
file_arch=$(readelf -h "$bin" | awk -F: '/Machine:/ {gsub(/^ +/, "", $2); print $2}')
case $arch:$file_arch in
  amd64:*X86-64*|arm64:*AArch64*) ;;
  *) die "$bin is a $file_arch binary, not $arch" ;;
esac
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
runpath=$(readelf -d "$bin" | sed -n 's/.*(R\(UN\)\?PATH).*\[\(.*\)\]/\2/p' | head -1)
stage "binary $bin (NEEDED: $needed)"

# ---------------------------------------------------------------- the guest root (cached, pristine)
t=$SECONDS
# The daemon's runtime libraries (see `readelf -d` above: libopenblas, libturbojpeg, libpng16, zlib, libstdc++,
# libgcc_s, libc; libv4l2 once the capture module uses it), systemd, and the tools ci-run.sh uses.
root_pkgs="systemd systemd-sysv udev dbus kmod procps libv4l-0 v4l-utils curl netcat-openbsd jq
  libopenblas0-pthread libturbojpeg0 libpng16-16 zlib1g libstdc++6 libgcc-s1"
rhash=$( (echo "$arch $root_pkgs"; sed -n '/^ *# ROOT-SETUP-BEGIN/,/^ *# ROOT-SETUP-END/p' "$0") | sha256sum | cut -c1-12)
rootdir=$work/root-$rhash
if [ "${VM_REFRESH:-0}" = 1 ]; then rm -rf "$rootdir"; fi
if [ ! -e "$rootdir/.complete" ]; then
  log "guest root: debootstrap bookworm ($arch)"
  rm -rf "$work"/root-* "$work/root.tmp"
  debootstrap --variant=minbase --arch="$arch" --include="$(echo $root_pkgs | tr ' ' ',')" \
    bookworm "$work/root.tmp" "$mirror" > "$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; die "debootstrap failed (log: $work/debootstrap.log)"; }
  r=$work/root.tmp
  # ROOT-SETUP-BEGIN (changing this block rebuilds the cached root)
  echo resnet-edge-ci > "$r/etc/hostname"
  echo 5e7c0ffee000000000000000000c1000 > "$r/etc/machine-id"
  for u in getty@tty1.service serial-getty@ttyS0.service serial-getty@ttyAMA0.service console-getty.service \
           systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
           e2scrub_all.timer fstrim.timer man-db.timer systemd-tmpfiles-clean.timer; do
    ln -sf /dev/null "$r/etc/systemd/system/$u"
  done
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*_Packages
  # ROOT-SETUP-END
  touch "$r/.complete"
  mv "$r" "$rootdir"
fi
# Every library the binary needs must be in the root (else name the package to add above). Symbolic links are
# followed inside the root (alternatives links are absolute).
in_root() { # PATH (absolute, inside the root): exists there?
  local p=$1 n=0 l
  while [ $n -lt 16 ]; do
    if [ -L "$rootdir$p" ]; then
      l=$(readlink "$rootdir$p"); case $l in /*) p=$l ;; *) p=$(dirname "$p")/$l ;; esac
    else [ -e "$rootdir$p" ]; return; fi
    n=$((n + 1))
  done
  return 1
}
missing=
for lib in $needed; do
  found=
  for d in /lib/$triplet /usr/lib/$triplet /lib /usr/lib /lib64; do in_root "$d/$lib" && found=1 && break; done
  if [ -z "$found" ] && [ -n "$runpath" ] && [ -e "${runpath%%:*}/$lib" ]; then found=runpath; fi
  [ -n "$found" ] || missing+=" $lib"
done
[ -z "$missing" ] || die "the guest root lacks$missing, which $bin needs: add the packages to root_pkgs"
stage "guest root ($(du -sm "$rootdir" | cut -f1) MB)"

# ---------------------------------------------------------------- this run's image: a copy + the payload
t=$SECONDS
run=$work/run
rm -rf "$run"; mkdir -p "$run"
# Hard links: fast, and the pristine root stays untouched as long as the payload only adds new files.
cp -al "$rootdir" "$run/root"
r=$run/root
put() { # MODE SRC DEST (DEST must be new: never write through a hard link into the cached root)
  local dst=$r$3
  mkdir -p "$(dirname "$dst")"
  rm -f "$dst"
  install -m "$1" "$2" "$dst"
}
# The kernel's modules (the guest unloads and reloads vivid), vivid's options for modprobe.
mkdir -p "$r/lib/modules/$kver"
cp -r "$kdir/modules/." "$r/lib/modules/$kver/"
depmod -b "$r" "$kver"
echo "options vivid $vivid_opts" > "$run/vivid.conf"; put 644 "$run/vivid.conf" /etc/modprobe.d/vivid.conf
# Without its symbols (the unstripped release binary is about 100 MB).
if [ "$arch" = amd64 ] && command -v strip >/dev/null; then strip -o "$run/resnet-edge" "$bin"; else cp "$bin" "$run/resnet-edge"; fi
put 755 "$run/resnet-edge" /usr/bin/resnet-edge
# A binary with a dynamic Swift runtime: copy the runtime libraries to the RUNPATH it names.
if [ -n "$runpath" ]; then
  for lib in $needed; do
    [ -e "${runpath%%:*}/$lib" ] && put 644 "${runpath%%:*}/$lib" "${runpath%%:*}/$lib"
  done
fi
put 644 "$root/systemd/resnet-edge.service" /lib/systemd/system/resnet-edge.service
m=$shared/models
put 644 "$m/resnet18-fashion-mnist.onnx" /usr/share/resnet-edge/models/model.onnx
# The model a reload switches to: the reference calibrated to INT8 (`resnet-edge calibrate`, a .rem file; cached per
# calibrating binary), so the reload visibly changes model and precision. For the rpi4 profile: the arm64 guest
# (Cortex-A72 on a "linux,dummy-virt" device tree) and the amd64 guest are no known board (generic profiles) and run any board's file with a note. Without a host binary or the data set:
# the BatchNorm variant of the reference (ONNX, slower to load under emulation).
calib_bin=
if [ "$arch" = amd64 ]; then calib_bin=$bin; elif [ -x "$root/.build/release/resnet-edge" ]; then calib_bin=$root/.build/release/resnet-edge; fi
reload_model=model-bn.onnx
if [ -n "$calib_bin" ] && [ -d /usr/share/datasets/fashion-mnist ]; then
  rem=$cache/reference-int8-rpi4-$(sha256sum "$calib_bin" "$m/resnet18-fashion-mnist.onnx" | sha256sum | cut -c1-12).rem
  if [ ! -e "$rem" ]; then
    rm -f "$cache"/reference-int8-*.rem
    "$calib_bin" calibrate --model "$m/resnet18-fashion-mnist.onnx" --dataset /usr/share/datasets/fashion-mnist \
      --limit 100 --board rpi4 --out "$rem.tmp" > "$cache/calibrate.log" 2>&1 && mv "$rem.tmp" "$rem" ||
      log "calibrate failed (see $cache/calibrate.log): reloading to the BatchNorm ONNX instead"
  fi
  [ -e "$rem" ] && { put 644 "$rem" /usr/share/resnet-edge/models/model-int8.rem; reload_model=model-int8.rem; }
fi
[ "$reload_model" != model-bn.onnx ] || put 644 "$m/resnet18-fashion-mnist-bn.onnx" /usr/share/resnet-edge/models/model-bn.onnx
put 644 "$m/labels.txt" /usr/share/resnet-edge/models/labels.txt
head -c 100000 "$m/resnet18-fashion-mnist.onnx" > "$run/model-bad.onnx"
put 644 "$run/model-bad.onnx" /usr/share/resnet-edge/models/model-bad.onnx
# The config: camera /dev/video0 at 640x480 (vivid), the reference model with its preprocessing; every other key
# keeps the daemon's default.
cat > "$run/resnet-edge.toml" <<'EOF'
# scripts/test-vm.sh: the VM integration test's configuration
[model]
path = "/usr/share/resnet-edge/models/model.onnx"
labels = "/usr/share/resnet-edge/models/labels.txt"
preprocess = "fashion-mnist"

[source]
kind = "camera"
device = "/dev/video0"
width = 640
height = 480

[results]
socket = "/run/resnet-edge/results.sock"
http_listen = "127.0.0.1:8089"

[log]
summary_interval = 10
EOF
put 644 "$run/resnet-edge.toml" /etc/resnet-edge/resnet-edge.toml
# The package's life under real systemd (amd64: the guest's architecture): cross-toolchains/package-deb.sh makes a
# generic package of the same binary (FP32 reference: this phase is about installing, not speed) and a newer version
# of it; ci-run.sh installs it, starts it, upgrades it over an edited config (the service is restarted, the edit
# kept) and removes it (the service stops).
if [ "$arch" = amd64 ]; then
  rm -rf "$run/pkg"
  bash "$root/cross-toolchains/package-deb.sh" --board generic --model "$m/resnet18-fashion-mnist.onnx" --fp32 --preprocess fashion-mnist \
      --labels "$m/labels.txt" --binary "$bin" --host-binary "$bin" --out "$run/pkg" > "$run/package-deb.log" 2>&1 \
    || { cat "$run/package-deb.log"; die "package-deb.sh (amd64, generic) failed"; }
  deb=$(ls "$run"/pkg/resnet-edge_*_amd64.deb)
  dpkg-deb -R "$deb" "$run/pkg/newer"
  sed -i 's/^Version: \(.*\)/Version: \1+1/' "$run/pkg/newer/DEBIAN/control"
  dpkg-deb --root-owner-group -Zxz --build "$run/pkg/newer" "$run/pkg/newer.deb" >/dev/null
  put 644 "$deb" /root/resnet-edge.deb
  put 644 "$run/pkg/newer.deb" /root/resnet-edge-newer.deb
fi
put 755 "$here/ci-run.sh" /usr/local/bin/ci-run.sh
put 644 "$here/ci-run.service" /etc/systemd/system/ci-run.service
mkdir -p "$r/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/ci-run.service "$r/etc/systemd/system/multi-user.target.wants/ci-run.service"
printf 'arch=%s\nreload_model=%s\n' "$arch" "$reload_model" > "$run/ci-env"; put 644 "$run/ci-env" /etc/ci-env
mkfs.ext4 -q -F -L root -d "$r" "$run/rootfs.ext4" 1536M
truncate -s 64M "$run/results.img"
[ "${VM_KEEP:-0}" = 1 ] || rm -rf "$r"
stage "image"

# ---------------------------------------------------------------- boot
t=$SECONDS
log "booting $qemu (${qemu_machine[*]}, timeout ${timeout_s} s); console: $run/console.log"
set +e
timeout "$timeout_s" "$qemu" "${qemu_machine[@]}" -m 1536 -smp 2 -display none -monitor none -serial stdio \
  -no-reboot -nic none \
  -kernel "$kdir/vmlinuz" -initrd "$initrd" \
  -append "console=$console loglevel=4 panic=-1 rdinit=/init systemd.show_status=error" \
  -drive file="$run/rootfs.ext4",format=raw,if=none,id=root -device virtio-blk-pci,drive=root \
  -drive file="$run/results.img",format=raw,if=none,id=res -device virtio-blk-pci,drive=res \
  < /dev/null 2>&1 | tr -d '\r' | tee "$run/console.log" | grep --line-buffered '^CI: ' | grep --line-buffered -v '^CI: journal'
qrc=${PIPESTATUS[0]}
set -e
stage "VM (qemu exit $qrc)"
(cd "$run" && mkdir -p results && tar xf results.img -C results 2>/dev/null) || true
[ "$qrc" != 124 ] || log "qemu timed out after $timeout_s s"
echo "test-vm: figures:"
grep '^CI: FIGURE ' "$run/console.log" | sed 's/^CI: FIGURE //' > "$run/figures.txt" || true
sed 's/^/test-vm:   /' "$run/figures.txt"
log "total $((SECONDS - start)) s; in $run: console.log, figures.txt, results/journal.txt (the guest's whole journal)"
if grep -q '^CI: RESULT PASS' "$run/console.log"; then
  echo "test-vm: PASS"
  exit 0
fi
grep '^CI: RESULT' "$run/console.log" || tail -30 "$run/console.log"
echo "test-vm: FAIL"
exit 1
