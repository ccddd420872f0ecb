#!/bin/busybox sh
# /init of the test VM's initramfs (scripts/test-vm.sh): load the virtio/ext4 and vivid module chains (the list
# and their options are in /modules.load, made by modprobe --show-depends on the host), mount the ext4 root
# from the first virtio disk and hand over to systemd.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "initramfs: up at $(cut -d' ' -f1 /proc/uptime) s"
while read -r path args; do
  [ -n "$path" ] || continue
  # shellcheck disable=SC2086
  insmod "/lib/modules/$path" $args 2>/dev/null || echo "initramfs: insmod $path failed" >&2
done < /modules.load
echo "initramfs: modules loaded at $(cut -d' ' -f1 /proc/uptime) s"
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mkdir -p /newroot
if ! mount -t ext4 -o rw /dev/vda /newroot; then
  echo "CI: RESULT FAIL initramfs could not mount the root disk"
  poweroff -f
fi
umount /sys /proc
umount /dev 2>/dev/null
exec switch_root /newroot /lib/systemd/systemd
