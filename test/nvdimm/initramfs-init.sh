#!/bin/busybox sh
# /init of the runner's initramfs (busybox only). It loads the virtio, 9p and overlay
# modules, mounts the host's / read-only over virtio-9p under a tmpfs overlay, mounts the
# runner's writable share at the same path as on the host, and hands over to
# test/nvdimm/guest.sh from the repository. Any failure prints a marker line and powers off,
# so the host sees a clear reason instead of waiting for its timeout.
/bin/busybox --install -s /bin

fail() {
  echo "DAXFS-NVDIMM: FAIL initramfs: $*"
  echo o > /proc/sysrq-trigger
  sleep 30
}

mount -t proc proc /proc || fail "cannot mount /proc"
mount -t sysfs sys /sys || fail "cannot mount /sys"
mount -t devtmpfs dev /dev || fail "cannot mount /dev"

# Modules, in the order the host's modprobe resolved them (see run.sh).
while read -r ko; do
  [ -n "$ko" ] || continue
  insmod "/modules/$ko" || fail "insmod $ko failed"
done < /modules/order

repo=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    daxfs.repo=*) repo="${arg#daxfs.repo=}" ;;
  esac
done
[ -n "$repo" ] || fail "no daxfs.repo= on the kernel command line"

mkdir -p /host /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro hostroot /host \
  || fail "cannot mount the host's / over virtio-9p (tag hostroot)"
mount -t tmpfs -o size=768m tmpfs /rw || fail "cannot mount the overlay's tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work,index=off,xino=off overlay /newroot \
  || fail "cannot mount the overlay root"
[ -d "/newroot$repo" ] || fail "repository $repo not visible in the guest"
mkdir -p "/newroot$repo/build/nvdimm/share"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none share "/newroot$repo/build/nvdimm/share" \
  || fail "cannot mount the writable share (tag share)"

mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
echo "DAXFS-NVDIMM: initramfs done"
exec switch_root /newroot /bin/bash "$repo/test/nvdimm/guest.sh"
