#!/usr/bin/env bash
# npm run test:install
# Installs the packed tarball the way a user does, on a machine with no compiler:
#   1. `npm pack --dry-run` lists prebuilds/, dist/ JS and types, the native sources,
#      binding.gyp, README and LICENSE, and no tests, build dirs or caches;
#   2. `npm pack`, then in a fresh folder with a PATH that holds node, npm and a shell but
#      no gcc/g++/cc/make/python3, `npm install <tarball>`; then require('daxfs') maps,
#      writes, persists and reads a file with PREBUILDS_ONLY=1 (a silent source build would
#      need the missing compiler, and a build/ folder in the package is a failure);
#   3. the same with --ignore-scripts (npm may skip a dependency's install script);
#   4. arm64: `npm install --cpu=arm64 --os=linux <tarball>` and the same smoke test in the
#      arm64 Node 20 under qemu-aarch64 (skipped with a reason when the tools are missing);
#   5. with the prebuild removed, require('daxfs') says how to build from source, and
#      `npm rebuild daxfs` with a compiler builds from the packed sources (DAXFS_INSTALL_SOURCE=0
#      skips this).
# Missing prebuilds and dist/ are built first. Ends with `install: N passed, N failed`.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
export npm_config_nodedir=${npm_config_nodedir:-/usr}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/daxfs-install.XXXXXX")
LOGS=$WORK/logs; mkdir -p "$LOGS"
KEEP=0
trap '[[ $KEEP == 1 ]] || rm -rf "$WORK"' EXIT
T0=$SECONDS
passed=0 failed=0 skipped=0
ARM64=${DAXFS_INSTALL_ARM64:-1}

say() { printf '%s\n' "$*"; }
check() {  # check NAME LOGNAME -- COMMAND...
  local name=$1 log=$LOGS/$2; shift 3
  local t=$SECONDS rc
  "$@" >"$log" 2>&1; rc=$?
  if [[ $rc -eq 0 ]]; then
    passed=$((passed + 1)); say "ok   $name ($((SECONDS - t)) s)"
  else
    failed=$((failed + 1)); KEEP=1
    say "FAIL $name (exit $rc, $((SECONDS - t)) s); log $log:"; sed 's/^/     | /' "$log" | tail -n 40
  fi
  return $rc
}
finish() {
  say "(test:install took $((SECONDS - T0)) s)"
  say "install: $passed passed, $failed failed${skipped:+, $skipped skipped}"
  [[ $failed -eq 0 ]]
  exit
}

# ---------------------------------------------------------------- what goes in
stale() {
  local f
  f=$(ls "prebuilds/linux-$1/"*.node 2>/dev/null | head -n1)
  [[ -z $f ]] && return 0
  [[ -n $(find native binding.gyp -newer "$f" -type f -print -quit) ]]
}
need=()
for a in x64 arm64; do
  [[ $a == arm64 && $ARM64 == 0 ]] && continue
  stale "$a" && need+=("$a")
done
if [[ ${#need[@]} -gt 0 ]]; then
  check "prebuild ${need[*]}" prebuild.log -- bash scripts/prebuild.sh "${need[@]}" || finish
fi
if [[ ! -f dist/index.js || -n $(find lib -newer dist/index.js -name '*.ts' -print -quit 2>/dev/null) ]]; then
  check "build:ts" build-ts.log -- npm run build:ts || finish
fi

# ---------------------------------------------------------------- 1. file list
say "== npm pack --dry-run"
npm pack --dry-run --json --ignore-scripts 2>/dev/null >"$WORK/files.json"
check "published files: prebuilds, dist JS and types, native sources, binding.gyp, README, LICENSE, bench, examples; no tests or build dirs" files.log -- \
  node -e '
    const [{ files }] = require(process.argv[1]);
    const paths = files.map((f) => f.path);
    const problems = [];
    const must = [
      [/^prebuilds\/linux-x64\/[^/]+\.node$/, "the linux-x64 prebuild"],
      [/^prebuilds\/linux-arm64\/[^/]+\.node$/, "the linux-arm64 prebuild"],
      [/^dist\/index\.js$/, "dist/index.js"], [/^dist\/index\.d\.ts$/, "dist/index.d.ts"],
      [/^dist\/native\.js$/, "dist/native.js (the loader)"],
      [/^native\/core\/[^/]+\.cpp$/, "native/core sources"], [/^native\/binding\/[^/]+\.cc$/, "native/binding sources"],
      [/^binding\.gyp$/, "binding.gyp"], [/^README\.md$/, "README.md"], [/^LICENSE$/, "LICENSE"],
      [/^package\.json$/, "package.json"], [/^scripts\/install\.js$/, "scripts/install.js"],
      [/^bench\/run\.js$/, "bench/run.js (daxfs bench)"], [/^bench\/peers\/pmem_peer\.c$/, "the libpmem peer source"],
      [/^examples\/log\.js$/, "examples/log.js"], [/^examples\/kv\.js$/, "examples/kv.js"],
    ];
    for (const [re, what] of must) if (!paths.some((p) => re.test(p))) problems.push(`missing: ${what}`);
    const never = [
      [/(^|\/)test\//, "a test folder"], [/\.test\.[jt]s$/, "a test file"], [/(^|\/)__tests__\//, "a test folder"],
      [/^build\//, "build/"], [/(^|\/)\.cache\//, ".cache/"], [/^\.ci\//, ".ci/"],
      [/^bench\/results\.json$/, "bench results"], [/^bench\/peers\/pmem_peer$/, "the built peer binary"],
      [/\.tgz$/, "a tarball"], [/^node_modules\//, "node_modules/"], [/^coverage\//, "coverage/"],
      [/^lib\/.*\.ts$/, "TypeScript sources (dist/ holds the compiled JS and types)"],
      [/(^|\/)obj\.target\//, "object files"], [/\.o$/, "object files"],
      [/\.(img|pmem)$/, "an image file"],
    ];
    for (const p of paths) {
      const hit = never.find(([re]) => re.test(p));
      if (hit) problems.push(`should not be published (${hit[1]}): ${p}`);
    }
    const size = files.reduce((n, f) => n + f.size, 0);
    console.log(`${paths.length} files, ${(size / 1024).toFixed(0)} KiB unpacked; prebuilds: ${paths.filter((p) => p.startsWith("prebuilds/")).join(", ")}`);
    if (problems.length) { console.log(problems.join("\n")); process.exit(1); }
  ' "$WORK/files.json"
sed 's/^/     /' "$LOGS/files.log" | head -n 3

# ---------------------------------------------------------------- 2. pack and install
say "== npm pack"
check "npm pack" pack.log -- npm pack --ignore-scripts --pack-destination "$WORK" || finish
TARBALL=$(ls "$WORK"/daxfs-*.tgz | head -n1)
say "     $(basename "$TARBALL"), $(( $(stat -c %s "$TARBALL") / 1024 )) KiB"

# A bin folder with node, npm, npx and the shell tools npm and the install script use,
# and no compiler, make or python.
BIN=$WORK/bin; mkdir -p "$BIN"
for tool in node npm npx sh bash env cat ls mkdir rm cp mv ln chmod uname tar gzip sed grep dirname basename timeout; do
  p=$(command -v "$tool" 2>/dev/null) && ln -sf "$p" "$BIN/$tool"
done
NOCC_PATH=$BIN
for tool in gcc g++ cc c++ make python3 python clang; do
  if PATH=$NOCC_PATH command -v "$tool" >/dev/null 2>&1; then
    echo "internal error: $tool is on the stripped PATH"; failed=$((failed + 1)); finish
  fi
done

# install_into DIR [npm args...]: a fresh app folder, npm install of the tarball in it
install_into() {
  local dir=$1; shift
  mkdir -p "$dir"
  printf '{ "name": "daxfs-install-test", "version": "1.0.0", "private": true }\n' >"$dir/package.json"
  cp scripts/arm64/smoke.js "$dir/smoke.js"
  (cd "$dir" && env -i HOME="$HOME" PATH="$NOCC_PATH" npm_config_nodedir="$npm_config_nodedir" \
     npm install --no-audit --no-fund --no-update-notifier --foreground-scripts "$@" "$TARBALL")
}
# no_source_build DIR: the package holds no build/ (node-gyp was not run)
no_source_build() {
  if [[ -e $1/node_modules/daxfs/build ]]; then
    echo "node_modules/daxfs/build exists: the install built from source"; return 1
  fi
}
smoke_x64() {
  (cd "$1" && env -i HOME="$HOME" PATH="$NOCC_PATH" PREBUILDS_ONLY=1 node smoke.js daxfs "$WORK")
}

say "== npm install <tarball> with no compiler on PATH (x64, Node $(node -v))"
APP=$WORK/app
if check "npm install <tarball> succeeds without gcc/g++/make/python3" install.log -- install_into "$APP"; then
  if grep -q 'daxfs: using the prebuilt binary' "$LOGS/install.log"; then
    say "     install script: $(grep 'daxfs: using the prebuilt binary' "$LOGS/install.log" | head -n1)"
  else
    say "     install script: did not report a prebuild (npm skipped it, or it printed nothing)"
  fi
  check "no source build happened (no build/ in node_modules/daxfs)" nobuild.log -- no_source_build "$APP"
  check "require('daxfs') with PREBUILDS_ONLY=1 maps, writes, persists, reads" smoke.log -- smoke_x64 "$APP"
  grep -E '^(platform|smoke)' "$LOGS/smoke.log" | sed 's/^/     /'
fi

say "== npm install --ignore-scripts <tarball> (as when npm skips a dependency's scripts)"
APP2=$WORK/app-noscripts
if check "npm install --ignore-scripts <tarball>" install-noscripts.log -- install_into "$APP2" --ignore-scripts; then
  check "require('daxfs') with PREBUILDS_ONLY=1 works without the install script" smoke-noscripts.log -- smoke_x64 "$APP2"
fi

# ---------------------------------------------------------------- 5. no prebuild: message, source build
if [[ ${DAXFS_INSTALL_SOURCE:-1} == 1 && -d $APP2/node_modules/daxfs ]]; then
  say "== no matching prebuild: the error says what to do; npm rebuild builds from the package's sources"
  rm -rf "$APP2/node_modules/daxfs/prebuilds/linux-x64"
  no_prebuild_message() {
    local out
    out=$(cd "$APP2" && env -i HOME="$HOME" PATH="$NOCC_PATH" node -e "require('daxfs')" 2>&1) && { echo "require('daxfs') succeeded without a binary"; return 1; }
    grep -E 'daxfs:|build from source|rebuild' <<<"$out" | head -n 4
    grep -q 'build from source' <<<"$out" || { echo "the message does not say how to build from source"; return 1; }
  }
  check "without a prebuild, require('daxfs') fails with a message that says how to build from source" nomatch.log -- no_prebuild_message
  sed 's/^/     /' "$LOGS/nomatch.log" | head -n 4
  source_build() {
    (cd "$APP2" && JOBS=${JOBS:-2} npm rebuild daxfs --foreground-scripts --no-update-notifier) || return 1
    [[ -f $APP2/node_modules/daxfs/build/Release/daxfs.node ]] || { echo "no build/Release/daxfs.node"; return 1; }
    (cd "$APP2" && node smoke.js daxfs "$WORK")
  }
  check "npm rebuild daxfs (compiler on PATH) builds from the packed sources, and it works" source-build.log -- source_build
fi

# ---------------------------------------------------------------- 4. arm64
if [[ $ARM64 == 0 ]]; then
  say "== arm64: skipped (DAXFS_INSTALL_ARM64=0)"; skipped=$((skipped + 1))
else
  say "== arm64: npm install --cpu=arm64 --os=linux <tarball>, run under qemu-aarch64"
  bash scripts/arm64/toolchain.sh qemu sysroot node >"$LOGS/toolchain.log" 2>&1; rc=$?
  if [[ $rc -ne 0 ]]; then
    say "     skipped: $(grep unavailable: "$LOGS/toolchain.log" | head -n1 | sed 's/.*unavailable: //')"
    skipped=$((skipped + 1))
    [[ $rc -eq 3 ]] || { failed=$((failed + 1)); KEEP=1; }
  else
    eval "$(bash scripts/arm64/toolchain.sh --env 2>/dev/null)"
    APP3=$WORK/app-arm64
    if check "npm install --cpu=arm64 --os=linux <tarball>" install-arm64.log -- install_into "$APP3" --cpu=arm64 --os=linux; then
      smoke_arm64() {
        (cd "$APP3" && env -i HOME="$HOME" PATH="$NOCC_PATH" PREBUILDS_ONLY=1 timeout 600 \
          "$DAXFS_QEMU_AARCH64" -cpu max -L "$DAXFS_ARM64_SYSROOT" "$DAXFS_NODE_ARM64" smoke.js daxfs "$WORK")
      }
      check "arm64 Node 20: require('daxfs') with PREBUILDS_ONLY=1 maps, writes, persists, reads" smoke-arm64.log -- smoke_arm64
      grep -E '^(platform|smoke)' "$LOGS/smoke-arm64.log" | sed 's/^/     /'
    fi
  fi
fi
[[ $skipped -gt 0 ]] || skipped=
finish
