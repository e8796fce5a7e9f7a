#!/usr/bin/env bash
# The native API fuzz against the AddressSanitizer + UndefinedBehaviorSanitizer build of the
# addon (scripts/build-asan.sh, made here when missing or stale), and with FUZZ_ASAN_JEST=1
# the jest tests of test/pmem under it too. The last line is
# "fuzz-asan: N passed, N failed" (fuzz children without and with a crash, plus the jest
# counts) for .ci/run; "fuzz-asan: skipped (...)" where there is no compiler or libasan.
#   FUZZ_CALLS  calls in all (default 4000)   FUZZ_SEED  the first child's seed (CI: fixed)
set -uo pipefail
cd "$(dirname "$0")/.."

libasan=$(gcc -print-file-name=libasan.so 2>/dev/null)
if ! command -v g++ >/dev/null || [ ! -f "$libasan" ]; then
  echo "fuzz-asan: skipped (needs g++ and libasan: apt-get install g++)"
  exit 0
fi
[ -f dist/testing/fuzz-native.js ] || npx tsc -p tsconfig.json || { echo "fuzz-asan: 0 passed, 1 failed"; exit 1; }
if ! bash scripts/build-asan.sh; then
  echo "fuzz-asan: 0 passed, 1 failed"
  exit 1
fi

passed=0 failed=0
seed=${FUZZ_SEED:-}
[ -z "$seed" ] && [ -n "${CI:-}" ] && seed=20261126   # CI replays one seed: a red CI is reproducible
log=$(mktemp)
node dist/testing/fuzz-native.js --asan --calls "${FUZZ_CALLS:-4000}" --per-child 1000 ${seed:+--seed "$seed"} | tee "$log"
line=$(grep -E '^fuzz native: [0-9]+ calls in [0-9]+ children, [0-9]+ crashes' "$log" | tail -1)
if [ -n "$line" ]; then
  children=$(sed -E 's/.* in ([0-9]+) children.*/\1/' <<<"$line")
  crashes=$(sed -E 's/.*, ([0-9]+) crashes.*/\1/' <<<"$line")
  passed=$((children - crashes)); failed=$crashes
else
  failed=1
fi

if [ "${FUZZ_ASAN_JEST:-0}" = 1 ]; then
  # jest itself loads the addon: the whole process tree gets the runtime and the ASan build.
  json=$(mktemp)
  LD_PRELOAD="$libasan" ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    DAXFS_ADDON="$PWD/build-asan/daxfs.node" npx jest test/pmem --json --outputFile="$json" 2>&1 | tail -40
  if [ -s "$json" ]; then
    read -r p f < <(node -e 'const r=require(process.argv[1]); console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites)' "$json")
    passed=$((passed + p)); failed=$((failed + f))
  else
    failed=$((failed + 1))
  fi
  rm -f "$json"
fi
rm -f "$log"
echo "fuzz-asan: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
