#!/bin/bash
# npm run test:nvdimm: run test/integration inside a QEMU guest with emulated NVDIMMs
# (a real Linux kernel's nfit/libnvdimm/pmem/device-dax stack, ext4 mounted -o dax).
# See test/nvdimm/README.md for what each step does and for the options below.
#
#   bash test/nvdimm/run.sh [STEP...]     steps: suite powerfail eadr (default: suite powerfail)
#
# The last line printed is the summary of every guest test run:
#   nvdimm: N passed, N failed, N skipped
# and the exit status is 0 only if every step ran and no test failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
work="$repo/build/nvdimm"
share="$work/share"

steps=${DAXFS_NVDIMM_STEPS:-"suite powerfail"}
[ $# -gt 0 ] && steps="$*"
persistence=${DAXFS_NVDIMM_PERSISTENCE:-}          # '', cpu or mem-ctrl: the 'suite' and power-fail write boots
eadr_tests=${DAXFS_NVDIMM_EADR_TESTS:-eadr}         # jest path pattern of the tests run on an eADR machine
boot_timeout=${DAXFS_NVDIMM_BOOT_TIMEOUT:-240}      # seconds from qemu start to the guest's READY
boot_limit=${DAXFS_NVDIMM_STEP_TIMEOUT:-480}        # seconds for one boot, everything included
total_limit=${DAXFS_NVDIMM_TIMEOUT:-1200}           # seconds for all boots together
pmem_size=${DAXFS_NVDIMM_SIZE:-512M}                # each of the two NVDIMMs
guest_cmd=${DAXFS_NVDIMM_GUEST_CMD:-}               # replaces the jest command (debugging)
kernel_version=${DAXFS_NVDIMM_KERNEL:-}
smp=${DAXFS_NVDIMM_SMP:-2}

log() { echo "nvdimm: $*" >&2; }
die() { log "error: $*"; echo "nvdimm: 0 passed, 1 failed, 0 skipped"; exit 1; }

case "$persistence" in ''|cpu|mem-ctrl) ;; *) die "DAXFS_NVDIMM_PERSISTENCE must be cpu, mem-ctrl or empty, not '$persistence'";; esac
for s in $steps; do
  case "$s" in suite|eadr|powerfail) ;; *) die "unknown step '$s' (steps: suite powerfail eadr)";; esac
done
case "$repo" in *[[:space:]]*) die "the repository path must not contain spaces: $repo";; esac
if [ "$(uname -m)" != x86_64 ]; then
  echo "nvdimm: skipped (the runner needs an x86_64 Linux host, this is $(uname -m))"; exit 0
fi

# ---------------------------------------------------------------------------------------
# Packages (Debian). The apt lock may be held by someone else: wait for it, bounded.
# ---------------------------------------------------------------------------------------
packages="qemu-system-x86 linux-image-amd64 ndctl daxctl busybox-static cpio e2fsprogs"
ensure_packages() {
  local missing="" p
  for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  command -v apt-get >/dev/null || die "missing packages:$missing (and no apt-get to install them)"
  [ "$(id -u)" = 0 ] || die "missing packages:$missing; install them as root (apt-get install$missing)"
  log "installing:$missing"
  local apt="apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 900 $apt install $missing > "$work/apt.log" 2>&1; then
    timeout 600 apt-get -o DPkg::Lock::Timeout=600 -q update >> "$work/apt.log" 2>&1
    timeout 900 $apt install $missing >> "$work/apt.log" 2>&1 \
      || { tail -n 20 "$work/apt.log" >&2; die "apt-get install$missing failed (log: $work/apt.log)"; }
  fi
}

# ---------------------------------------------------------------------------------------
# Kernel and initramfs: busybox, the modules the guest needs, and initramfs-init.sh as /init.
# ---------------------------------------------------------------------------------------
pick_kernel() {
  local v
  if [ -z "$kernel_version" ]; then
    for v in $(ls /lib/modules 2>/dev/null | sort -V); do
      [ -r "/boot/vmlinuz-$v" ] && kernel_version=$v
    done
  fi
  [ -n "$kernel_version" ] || die "no kernel found (/boot/vmlinuz-* with /lib/modules/*)"
  kernel="/boot/vmlinuz-$kernel_version"
  [ -r "$kernel" ] || die "$kernel is missing"
  [ -d "/lib/modules/$kernel_version" ] || die "/lib/modules/$kernel_version is missing"
}

# The Debian kernel is an xz-compressed bzImage; its decompressor takes tens of seconds
# under TCG. The kernel is built with CONFIG_PVH, so QEMU can boot the uncompressed ELF
# directly: unpack the payload once (offsets from the x86 boot protocol header) and keep it.
unpack_kernel() {
  local out="$work/vmlinux-$kernel_version" sects off len magic
  if [ -s "$out" ] && [ "$out" -nt "$kernel" ]; then kernel="$out"; return 0; fi
  grep -qx 'CONFIG_PVH=y' "/boot/config-$kernel_version" 2>/dev/null || { log "kernel has no PVH entry: booting the bzImage (slower)"; return 0; }
  sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$kernel" | tr -d ' ')
  off=$(od -An -tu4 -j $((0x248)) -N4 "$kernel" | tr -d ' ')
  len=$(od -An -tu4 -j $((0x24c)) -N4 "$kernel" | tr -d ' ')
  [ -n "$sects" ] && [ -n "$off" ] && [ -n "$len" ] || { log "cannot read $kernel's header: booting the bzImage"; return 0; }
  [ "$sects" = 0 ] && sects=4
  magic=$(tail -c +$(( (sects + 1) * 512 + off + 1 )) "$kernel" | head -c 6 | od -An -tx1 | tr -d ' \n')
  local unz
  case "$magic" in
    fd377a585a00) unz="xz -dc --single-stream" ;;
    1f8b*) unz="gzip -dc" ;;
    28b52ffd*) unz="zstd -dc" ;;
    *) log "unknown kernel compression (magic $magic): booting the bzImage"; return 0 ;;
  esac
  tail -c +$(( (sects + 1) * 512 + off + 1 )) "$kernel" | head -c "$len" | $unz > "$out.tmp" 2>/dev/null
  if [ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
    mv "$out.tmp" "$out"; kernel="$out"
  else
    rm -f "$out.tmp"; log "could not unpack $kernel: booting the bzImage (slower)"
  fi
}

build_initramfs() {
  local root="$work/initramfs" m line ko
  rm -rf "$root"; mkdir -p "$root"/{bin,dev,proc,sys,modules}
  cp /bin/busybox "$root/bin/busybox" || die "no /bin/busybox (package busybox-static)"
  if ldd "$root/bin/busybox" >/dev/null 2>&1; then die "/bin/busybox is not static (install busybox-static)"; fi
  install -m 0755 "$here/initramfs-init.sh" "$root/init"
  : > "$root/modules/order"
  # virtio, 9p and overlay to reach the host's /; the NVDIMM stack (nfit finds the NVDIMMs in
  # the ACPI tables, nd_pmem gives /dev/pmemN, dax_pmem and device_dax /dev/daxN.M) and ext4
  # too: busybox's insmod from the initramfs is much faster than modprobe over 9p under TCG.
  for m in virtio_pci virtio_blk 9pnet_virtio 9p overlay nfit nd_pmem dax_pmem device_dax ext4; do
    # -C /dev/null: no install hooks (ndctl adds one for libnvdimm), just the modules.
    modprobe -C /dev/null --show-depends -S "$kernel_version" "$m" > "$work/deps.txt" 2>&1 \
      || { cat "$work/deps.txt" >&2; die "module $m not found for kernel $kernel_version"; }
    while read -r line; do
      case "$line" in
        insmod\ *) ko=${line#insmod }; ko=${ko%% *} ;;
        *) continue ;;                       # builtin, or an install hook
      esac
      case "$ko" in *.ko) ;; *) die "compressed module $ko: not supported by the initramfs builder";; esac
      grep -qx "$(basename "$ko")" "$root/modules/order" && continue
      cp "$ko" "$root/modules/" || die "cannot copy $ko"
      basename "$ko" >> "$root/modules/order"
    done < "$work/deps.txt"
  done
  (cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz" \
    || die "cpio of the initramfs failed"
}

# Reading files over 9p is what makes Node slow to start in the guest (jest's first start
# reads thousands of files: about a minute). node_modules and the node binary go on a
# read-only ext4 image on a virtio disk instead; guest.sh mounts it over the repository's
# node_modules. It is rebuilt when node_modules or node changes.
build_modules_image() {
  local img="$work/node_modules.img" stage="$work/modules-image" node_bin
  node_bin=$(command -v node)
  if [ -s "$img" ] && [ "$img" -nt "$repo/node_modules" ] && [ "$img" -nt "$node_bin" ] \
     && { [ ! -e "$repo/node_modules/.package-lock.json" ] || [ "$img" -nt "$repo/node_modules/.package-lock.json" ]; }; then
    return 0
  fi
  rm -rf "$stage" "$img"; mkdir -p "$stage/bin"
  cp -al "$repo/node_modules" "$stage/node_modules" 2>/dev/null || cp -a "$repo/node_modules" "$stage/node_modules" \
    || die "cannot stage node_modules for the guest image"
  cp "$node_bin" "$stage/bin/node" || die "cannot stage $node_bin"
  local mb; mb=$(( $(du -sm "$stage" | cut -f1) * 3 / 2 + 64 ))
  mkfs.ext4 -q -F -b 4096 -L daxfs-modules -d "$stage" "$img" "${mb}M" > "$work/mkfs-image.log" 2>&1 \
    || { cat "$work/mkfs-image.log" >&2; die "mkfs.ext4 -d of the node_modules image failed"; }
  rm -rf "$stage"
}

# ---------------------------------------------------------------------------------------
# One boot of the guest.
# ---------------------------------------------------------------------------------------
qemu_pid=
cleanup() { [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

new_backing_files() {
  local i
  for i in 0 1; do
    rm -f "$work/nvdimm$i.pmem"
    truncate -s "$pmem_size" "$work/nvdimm$i.pmem" || die "cannot create $work/nvdimm$i.pmem"
  done
}

jest_cmd() { # jest_cmd OUTDIR [PATTERN...]
  local out=$1; shift
  echo "node node_modules/jest/bin/jest.js --config test/nvdimm/jest.guest.config.js --runInBand --ci" \
       "--json --outputFile=$out/jest.json --cacheDirectory=/tmp/jest-cache $*"
}

# boot NAME PERSISTENCE NAMESPACES(create|keep) END(poweroff|crash) PHASE EXPECT_EADR COMMAND
# Returns 0 when the guest ran COMMAND and it exited 0; prints the console live.
boot() {
  local name=$1 pers=$2 ns=$3 end=$4 phase=$5 eadr=$6 cmd=$7
  local out="$share/$name" console="$work/$name.console.log" machine="pc,nvdimm=on"
  [ -n "$pers" ] && machine="$machine,nvdimm-persistence=$pers"
  rm -rf "$out"; mkdir -p "$out"; : > "$console"
  {
    echo "DAXFS_VM_STEP=$name"
    echo "DAXFS_VM_NAMESPACES=$ns"
    echo "DAXFS_VM_END=$end"
    echo "DAXFS_VM_PHASE=$phase"
    echo "DAXFS_VM_TOKEN=$token"
    echo "DAXFS_VM_EXPECT_EADR=$eadr"
    echo "DAXFS_VM_DEBUG=${DAXFS_NVDIMM_DEBUG:-0}"
    # Power-fail boots: a long journal commit interval, so that only what daxfs made
    # durable itself (MAP_SYNC faults, fsync) is on the media at the reset.
    if [ "$phase" = none ]; then echo "DAXFS_VM_MOUNT_OPTIONS=dax"; else echo "DAXFS_VM_MOUNT_OPTIONS=dax,commit=600"; fi
    printf 'DAXFS_VM_COMMAND=%q\n' "$cmd"
  } > "$share/job.env"

  local t0=$SECONDS limit=$boot_limit left=$(( total_limit - (SECONDS - boots_started) ))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -le 30 ]; then
    log "FAILED boot '$name': not started, the runner's ${total_limit}s (DAXFS_NVDIMM_TIMEOUT) are used up"
    echo "not started: out of time" > "$out/error"
    return 1
  fi
  log "boot '$name': -machine $machine, namespaces $ns, ends with $end (at most ${limit}s)"
  local kernel_log="quiet loglevel=4"
  [ "${DAXFS_NVDIMM_DEBUG:-0}" = 1 ] && kernel_log="loglevel=7 printk.time=1"
  # The guest runs under TCG: side-channel mitigations (page-table isolation, retpolines)
  # only slow its syscalls down, and 5-level paging only slows its page walks.
  qemu-system-x86_64 -nodefaults -display none -no-reboot \
    -machine "$machine" -accel tcg,thread=multi -cpu max,la57=off -smp "$smp" \
    -m 2G,slots=2,maxmem=4G \
    -object "memory-backend-file,id=mem0,share=on,mem-path=$work/nvdimm0.pmem,size=$pmem_size" \
    -device nvdimm,id=nv0,memdev=mem0 \
    -object "memory-backend-file,id=mem1,share=on,mem-path=$work/nvdimm1.pmem,size=$pmem_size" \
    -device nvdimm,id=nv1,memdev=mem1 \
    -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
    -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
    -fsdev "local,id=share,path=$share,security_model=none" \
    -device virtio-9p-pci,fsdev=share,mount_tag=share \
    -drive "file=$work/node_modules.img,format=raw,if=virtio,readonly=on" \
    -kernel "$kernel" -initrd "$work/initramfs.cpio.gz" \
    -append "console=ttyS0 $kernel_log mitigations=off panic=-1 daxfs.repo=$repo" \
    -serial "file:$console" > "$work/$name.qemu.log" 2>&1 &
  qemu_pid=$!
  tail -n +1 -f --pid="$qemu_pid" "$console" 2>/dev/null \
    | while IFS= read -r line; do printf '  vm %3ds| %s\n' $((SECONDS - t0)) "${line%$'\r'}"; done >&2 &
  local tail_pid=$! why=""
  while kill -0 "$qemu_pid" 2>/dev/null; do
    sleep 1
    if ! grep -qa '^DAXFS-NVDIMM: .*\] READY' "$console" && [ $((SECONDS - t0)) -ge "$boot_timeout" ]; then
      why="the guest was not ready after ${boot_timeout}s"; break
    fi
    if [ $((SECONDS - t0)) -ge "$limit" ]; then
      why="the boot took longer than ${limit}s"; break
    fi
  done
  if [ -n "$why" ]; then
    kill "$qemu_pid" 2>/dev/null; sleep 1; kill -9 "$qemu_pid" 2>/dev/null
  fi
  wait "$qemu_pid" 2>/dev/null; local qrc=$?
  qemu_pid=
  wait "$tail_pid" 2>/dev/null
  log "boot '$name' ended after $((SECONDS - t0))s (qemu exit $qrc)"
  [ -s "$work/$name.qemu.log" ] && sed 's/^/  qemu| /' "$work/$name.qemu.log" >&2
  if [ -z "$why" ] && [ ! -f "$out/status" ]; then
    why=$(grep -a '^DAXFS-NVDIMM: \(\[[^]]*\] \)\?FAIL' "$console" | head -n 1)
    [ -n "$why" ] || why="the guest stopped before its command finished"
  fi
  if [ -n "$why" ]; then
    log "FAILED boot '$name': $why"
    log "last lines of the guest console ($console):"
    tail -n 40 "$console" | sed 's/\r$//; s/^/  console| /' >&2
    echo "$why" > "$out/error"
    return 1
  fi
  local status; status=$(cat "$out/status")
  [ "$status" = 0 ] || log "step '$name': the guest command exited $status"
  [ "$status" = 0 ]
}

# ---------------------------------------------------------------------------------------
mkdir -p "$work" "$share" || die "cannot create $work"
started=$SECONDS
ensure_packages
for c in qemu-system-x86_64 ndctl daxctl mkfs.ext4 cpio node; do
  command -v "$c" >/dev/null || die "$c not found"
done
pick_kernel
unpack_kernel
build_initramfs
if [ -z "$guest_cmd" ]; then
  # The guest runs the package as built (dist/ and the addon) and the integration tests
  # transpiled to JavaScript beforehand (see compile-tests.js).
  [ -r "$repo/node_modules/jest/bin/jest.js" ] || die "jest is not installed: run 'npm ci' first"
  if [ -z "$(ls "$repo"/build/Release/*.node 2>/dev/null)" ] && [ -z "$(ls "$repo"/prebuilds/linux-x64/*.node 2>/dev/null)" ]; then
    die "the native addon is not built: run 'npm run build' first"
  fi
  [ -r "$repo/dist/index.js" ] || die "dist/ is not built: run 'npm run build:ts' first"
  stale=$(find "$repo/lib" -name '*.ts' -newer "$repo/dist/index.js" 2>/dev/null | head -n 3)
  [ -z "$stale" ] || log "warning: dist/ is older than $(echo $stale): the guest tests the old build (npm run build:ts)"
  node "$here/compile-tests.js" "$work/it" >&2 || die "cannot transpile test/integration"
fi
build_modules_image
rm -rf "$share"/suite "$share"/eadr "$share"/powerfail-* "$share/job.env"
token="$(date +%s)-$$-$RANDOM"
log "kernel $kernel_version, steps: $steps"

failed_steps=0
boots_started=$SECONDS
for s in $steps; do
  case "$s" in
    suite)
      eadr=0; [ "$persistence" = cpu ] && eadr=1
      new_backing_files
      boot suite "$persistence" create poweroff none "$eadr" "${guest_cmd:-$(jest_cmd "$share/suite")}" \
        || failed_steps=$((failed_steps + 1)) ;;
    eadr)
      new_backing_files
      boot eadr cpu create poweroff none 1 "${guest_cmd:-$(jest_cmd "$share/eadr" "$eadr_tests")}" \
        || failed_steps=$((failed_steps + 1)) ;;
    powerfail)
      # Write, hard-reset the guest, then boot again on the same backing files (the
      # namespaces and the ext4 filesystem are found again, not recreated) and verify.
      # The verify boot is an eADR machine (nvdimm-persistence=cpu: reading back does not
      # depend on it) and also runs the eADR tests, which saves a boot of their own.
      new_backing_files
      eadr=0; [ "$persistence" = cpu ] && eadr=1
      if boot powerfail-write "$persistence" create crash write "$eadr" "${guest_cmd:-$(jest_cmd "$share/powerfail-write" powerfail)}"; then
        boot powerfail-verify cpu keep poweroff verify 1 "${guest_cmd:-$(jest_cmd "$share/powerfail-verify" powerfail "$eadr_tests")}" \
          || failed_steps=$((failed_steps + 1))
      else
        failed_steps=$((failed_steps + 1))
        log "skipping powerfail-verify: the write boot failed"
      fi ;;
  esac
done

log "all steps took $((SECONDS - started))s"
summary=$(node "$here/summarize.js" "$share" $steps); summary_rc=$?
[ -n "$summary" ] || summary="nvdimm: 0 passed, 1 failed, 0 skipped"
echo "$summary"
[ "$summary_rc" = 0 ] && [ "$failed_steps" = 0 ]
