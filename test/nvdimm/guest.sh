#!/bin/bash
# PID 1 of the runner's guest, after the initramfs switched to the host's / (read-only
# 9p + tmpfs overlay). It reads the job that run.sh wrote into the shared folder, sets up
# the emulated NVDIMMs (fsdax on the first, devdax on the second), runs the job's command
# (the integration suite) with the device env vars set, records its status in the shared
# folder, and then powers off or hard-resets the machine (sysrq 'b': no sync, no unmount).
#
# Every line the host needs starts with "DAXFS-NVDIMM: ".
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8

repo=
for arg in $(cat /proc/cmdline); do
  case "$arg" in daxfs.repo=*) repo="${arg#daxfs.repo=}" ;; esac
done
share="$repo/build/nvdimm/share"

mark() { echo "DAXFS-NVDIMM: [$(cut -d' ' -f1 /proc/uptime)s] $*"; }
poweroff_now() { sync; echo o > /proc/sysrq-trigger; sleep 60; }
fail() {
  mark "FAIL guest: $*"
  [ -n "${out:-}" ] && [ -d "$out" ] && { echo "setup: $*" > "$out/error"; sync; }
  poweroff_now
}

[ -r "$share/job.env" ] || fail "no job file $share/job.env"
# shellcheck source=/dev/null
. "$share/job.env"
out="$share/$DAXFS_VM_STEP"
[ "${DAXFS_VM_DEBUG:-0}" = 1 ] && set -x
mkdir -p "$out" || fail "cannot write to $out"
mark "guest up, step $DAXFS_VM_STEP ($DAXFS_VM_PHASE), namespaces: $DAXFS_VM_NAMESPACES"

# A tmpfs for scratch files, but never over the repository: a checkout under /tmp (as a CI
# clone may be) would vanish under it, and with it the shared folder.
case "$repo/" in
  /tmp/*) mkdir -p /mnt/daxfs-tmp && mount -t tmpfs -o size=256m tmpfs /mnt/daxfs-tmp || fail "cannot mount tmpfs on /mnt/daxfs-tmp"
          export TMPDIR=/mnt/daxfs-tmp ;;
  *)      mount -t tmpfs -o size=256m tmpfs /tmp || fail "cannot mount tmpfs on /tmp" ;;
esac
case "$repo/" in
  /run/*) ;;
  *) mount -t tmpfs tmpfs /run || fail "cannot mount tmpfs on /run" ;;
esac
hostname daxfs-nvdimm 2>/dev/null || true

# node_modules and node from the read-only disk image (run.sh: build_modules_image).
mkdir -p /mnt/daxfs-modules
mount -t ext4 -o ro /dev/vda /mnt/daxfs-modules || fail "cannot mount the node_modules image (/dev/vda)"
if [ -d "$repo/node_modules" ]; then
  mount --bind /mnt/daxfs-modules/node_modules "$repo/node_modules" || fail "cannot bind-mount node_modules"
fi
export PATH="/mnt/daxfs-modules/bin:$PATH"

# The NVDIMM stack (the initramfs loaded these modules already: check).
for m in nfit nd_pmem dax_pmem device_dax ext4; do
  [ -d "/sys/module/$m" ] || modprobe --ignore-install "$m" || fail "module $m is not loaded and modprobe $m failed"
done

wait_for() { # wait_for SECONDS TEST-ARGS...
  local n=$(( $1 * 10 )); shift
  while ! test "$@"; do
    n=$(( n - 1 )); [ "$n" -gt 0 ] || return 1
    sleep 0.1
  done
}

fs_ns=namespace0.0 dev_ns=namespace1.0
wait_for 30 -e "/sys/bus/nd/devices/$fs_ns" || fail "$fs_ns did not appear (nfit/libnvdimm found no NVDIMM?)"
wait_for 30 -e "/sys/bus/nd/devices/$dev_ns" || fail "$dev_ns did not appear"
for r in /sys/bus/nd/devices/region*; do
  mark "$(basename "$r") persistence_domain: $(cat "$r/persistence_domain" 2>/dev/null || echo '(none)')"
done

if [ "$DAXFS_VM_NAMESPACES" = create ]; then
  ndctl create-namespace -f -e "$fs_ns" -m fsdax > "$out/ndctl-fsdax.json" 2>&1 \
    || { cat "$out/ndctl-fsdax.json"; fail "ndctl create-namespace -m fsdax failed"; }
  ndctl create-namespace -f -e "$dev_ns" -m devdax > "$out/ndctl-devdax.json" 2>&1 \
    || { cat "$out/ndctl-devdax.json"; fail "ndctl create-namespace -m devdax failed"; }
fi

# The block device of the fsdax namespace and the character device of the devdax one, found
# through sysfs (their names depend on probe order, not on the namespace's).
find_dev() { # find_dev NAMESPACE GLOB
  local d
  for d in /sys/bus/nd/devices/$2; do
    [ -e "$d/namespace" ] || continue
    [ "$(cat "$d/namespace" 2>/dev/null)" = "$1" ] || continue
    echo "$d"; return 0
  done
  return 1
}
blk= chr=
for _ in $(seq 300); do
  pfn=$(find_dev "$fs_ns" 'pfn*') && blk=$(basename "$(ls -d "$pfn"/block/* 2>/dev/null || true)")
  dax=$(find_dev "$dev_ns" 'dax*') && chr=$(basename "$(ls -d "$dax"/dax*.* 2>/dev/null || true)")
  [ -n "$blk" ] && [ -n "$chr" ] && [ -b "/dev/$blk" ] && [ -c "/dev/$chr" ] && break
  blk= chr=; sleep 0.1
done
[ -n "$blk" ] || fail "no fsdax block device for $fs_ns (ndctl list -N: $(ndctl list -N 2>&1 | tr -d '\n '))"
[ -n "$chr" ] || fail "no device-DAX node for $dev_ns (daxctl list: $(daxctl list 2>&1 | tr -d '\n '))"
mark "fsdax /dev/$blk, devdax /dev/$chr"

pmem_dir=/mnt/pmem
mkdir -p "$pmem_dir"
if [ "$DAXFS_VM_NAMESPACES" = create ]; then
  mkfs.ext4 -q -F -b 4096 -L daxfs-it "/dev/$blk" > "$out/mkfs.log" 2>&1 \
    || { cat "$out/mkfs.log"; fail "mkfs.ext4 /dev/$blk failed"; }
fi
mount -t ext4 -o "$DAXFS_VM_MOUNT_OPTIONS" "/dev/$blk" "$pmem_dir" || fail "mount -o $DAXFS_VM_MOUNT_OPTIONS /dev/$blk failed"
grep -q " $pmem_dir ext4 .*dax" /proc/mounts || fail "$pmem_dir is not mounted with dax: $(grep " $pmem_dir " /proc/mounts)"
{ ndctl list -RNu; daxctl list -u; } > "$out/devices.json" 2>&1 || true

mark "READY"
cd "$repo" || fail "cannot cd to $repo"
export CI=true
export DAXFS_TEST_PMEM_DIR="$pmem_dir"
export DAXFS_TEST_DAX_DEVICE="/dev/$chr"
export DAXFS_TEST_ALLOW_REMOUNT=1
export DAXFS_TEST_EXPECT_EADR="$DAXFS_VM_EXPECT_EADR"
export DAXFS_TEST_POWERFAIL_PHASE="$DAXFS_VM_PHASE"
export DAXFS_TEST_POWERFAIL_TOKEN="$DAXFS_VM_TOKEN"
[ "$DAXFS_VM_PHASE" = none ] && unset DAXFS_TEST_POWERFAIL_PHASE DAXFS_TEST_POWERFAIL_TOKEN

start=$(date +%s)
mark "RUN $DAXFS_VM_COMMAND"
bash -c "$DAXFS_VM_COMMAND" 2>&1 | tee "$out/output.log"
status=${PIPESTATUS[0]}
echo "$status" > "$out/status"
mark "DONE status=$status seconds=$(( $(date +%s) - start ))"
# The share is 9p without a cache: its writes are on the host already. Sync only that
# filesystem; a global sync would also sync the pmem mount before a power-fail step.
sync -f "$out/status" 2>/dev/null || true

if [ "$DAXFS_VM_END" = crash ]; then
  mark "hard reset (sysrq b): no sync, no unmount"
  echo b > /proc/sysrq-trigger
  sleep 60
fi
umount "$pmem_dir" || mark "umount $pmem_dir failed"
poweroff_now
