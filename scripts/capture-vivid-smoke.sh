#!/usr/bin/env bash
# EdgeCapture against a real V4L2 driver: boots Debian's amd64 kernel in qemu (TCG) with the vivid virtual camera and
# runs `capture-bench` (built with a static Swift runtime) in a busybox initramfs:
#   probe, capture in auto/yuyv/rgb24/nv12/gray (each checks the one-pass tensor equals the reference path, exact=yes),
#   1280x720 auto, mjpeg refused (vivid has none), a missing node, permission denied for a user outside 'video',
#   and LatestFrameCapture across vivid's simulated disconnect (deviceGone -> reopen -> healthy).
# Prints the result lines and ends with "SMOKE PASS" or "SMOKE FAIL"; about 1 minute once the kernel is downloaded.
# Needs: qemu-system-x86 busybox-static v4l-utils libv4l-dev cpio kmod (apt). Work directory: $WORK (default /tmp/capture-vm).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/capture-vm}
mkdir -p "$WORK"
abi=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {sub("linux-image-", "", $2); print $2; exit}')
if [ ! -f "$WORK/kernel/boot/vmlinuz-$abi" ]; then
  (cd "$WORK" && apt-get download "linux-image-$abi" >/dev/null 2>&1 && dpkg -x linux-image-"$abi"_*.deb kernel && depmod -b kernel "$abi")
fi
(cd "$repo" && swift build -c release --scratch-path .build-cap-static --static-swift-stdlib --product capture-bench 2>&1 | grep -E "error|Compiling|Build" | tail -1)
bin="$repo/.build-cap-static/release/capture-bench"

root="$WORK/root"
rm -rf "$root" && mkdir -p "$root"/{bin,proc,sys,dev,tmp,etc,lib/modules}
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh mount insmod rmmod sleep echo cat ls poweroff tail su chgrp chmod; do ln -sf busybox "$root/bin/$a"; done
for m in $(modprobe -d "$WORK/kernel" -S "$abi" --show-depends vivid | awk '{print $2}'); do cp "$m" "$root/lib/modules/"; done
cp "$bin" "$root/bin/capture-bench"
cp "$(command -v v4l2-ctl)" "$root/bin/"
plugins=$(dirname "$(ldconfig -p | awk '/libv4l2.so.0 / {print $NF; exit}')")/libv4l/plugins
for lib in $( (ldd "$root/bin/capture-bench"; ldd "$root/bin/v4l2-ctl"; ldd "$plugins"/*.so) | awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u); do
  mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"
done
mkdir -p "$root$plugins" && cp "$plugins"/*.so "$root$plugins/"
cat > "$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
export PATH=/bin
for m in rc-core cec mc videodev videobuf2-common videobuf2-v4l2 videobuf2-memops videobuf2-vmalloc videobuf2-dma-contig v4l2-dv-timings v4l2-tpg; do
  insmod /lib/modules/$m.ko 2>/dev/null
done
insmod /lib/modules/vivid.ko n_devs=1 node_types=0x1 num_inputs=1 input_types=0x0
sleep 1
capture-bench probe /dev/video0 | grep -E "^(driver|card|auto|needs)"
for f in auto yuyv rgb24 nv12 gray; do capture-bench capture /dev/video0 8 640x480 30 $f 2>&1 | tail -1; done
capture-bench capture /dev/video0 5 1280x720 30 auto 2>&1 | tail -1
capture-bench capture /dev/video0 2 640x480 30 mjpeg 2>&1 | cut -c1-80
capture-bench capture /dev/video7 2>&1 | tail -1
echo "root:x:0:0::/:/bin/sh" > /etc/passwd; echo "cam:x:1000:1000::/tmp:/bin/sh" >> /etc/passwd
echo "root:x:0:" > /etc/group; echo "video:x:44:" >> /etc/group
chgrp video /dev/video0; chmod 660 /dev/video0
su -s /bin/sh cam -c "capture-bench capture /dev/video0 2" 2>&1 | tail -1
chmod 666 /dev/video0
capture-bench watch /dev/video0 6 > /tmp/watch.log 2>&1 &
sleep 2.5
v4l2-ctl -d /dev/video0 -c disconnect=1
wait
grep -E "healthy=no" /tmp/watch.log | head -1
tail -1 /tmp/watch.log
echo "SMOKE END"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$WORK/initrd.gz"

timeout 600 qemu-system-x86_64 -machine q35 -cpu max -accel tcg,thread=multi -m 1024 -smp 2 -nographic -no-reboot -nic none \
  -kernel "$WORK/kernel/boot/vmlinuz-$abi" -initrd "$WORK/initrd.gz" \
  -append "console=ttyS0 loglevel=3 panic=-1 rdinit=/init" > "$WORK/console.log" 2>&1 || true
grep -E "^(driver|card|auto|needs|CAPTURE|capture-bench|WATCH|SMOKE)" "$WORK/console.log" | tr -d '\r' | tee "$WORK/result.txt"
r="$WORK/result.txt"
ok=1
[ "$(grep -c '^CAPTURE ok .*exact=yes' "$r")" -eq 6 ] || ok=0
grep -q "format=nv12 size=1280x720" "$r" || ok=0
grep -q "does not offer mjpeg" "$r" || ok=0
grep -q "device missing: /dev/video7" "$r" || ok=0
grep -q "permission denied: /dev/video0 .*'video' group" "$r" || ok=0
grep -q "healthy=no .*device gone" "$r" || ok=0
grep -q "WATCH end .*reopens=[1-9].*healthy=true" "$r" || ok=0
grep -q "SMOKE END" "$r" || ok=0
if [ $ok = 1 ]; then echo "SMOKE PASS"; else echo "SMOKE FAIL (console: $WORK/console.log)"; exit 1; fi
