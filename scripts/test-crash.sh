#!/usr/bin/env bash
# npm run test:crash: the crash-consistency suite in full (every workload, fence and seed),
# then one line with the totals: "crash: N workloads, M images checked, F failures".
# Extra arguments go to jest (e.g. a file: npm run test:crash -- test/crash/seq1.test.ts).
set -uo pipefail
cd "$(dirname "$0")/.."
tally=$(mktemp)
trap 'rm -f "$tally"' EXIT
DAXFS_CRASH=long DAXFS_CRASH_TALLY="$tally" npx jest --testTimeout 21600000 "${@:-test/crash}"
rc=$?
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const sum = (k) => lines.reduce((n, l) => n + l[k], 0);
console.log(`crash: ${sum("workloads")} workloads, ${sum("images")} images checked, ${sum("failures")} failures`);
' "$tally"
exit $rc
