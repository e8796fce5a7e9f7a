#!/usr/bin/env bash
# npm run prebuilds [-- x64|arm64 ...] [--check]
# Builds the Node-API prebuilt binaries with prebuildify into prebuilds/linux-<arch>/:
#   linux-x64   with the host's g++,
#   linux-arm64 with Debian's aarch64-linux-gnu cross compiler (installed if missing).
# Node's headers come from npm_config_nodedir (default /usr): nothing is downloaded.
# The build runs in a staged copy (binding.gyp, native/, package.json), so a developer's
# build/ is never wiped. Each binary's ELF machine must match its folder, or this fails;
# the minimum glibc and the libstdc++ symbol versions each needs are printed, with a warning
# when they are newer than what Node itself needs (PREBUILD_STRICT=1 makes that an error).
# JOBS (default 2) is passed to node-gyp for parallel compiles.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
CHECK_ONLY=0
ARCHES=()
for a in "$@"; do case $a in --check) CHECK_ONLY=1 ;; *) ARCHES+=("$a") ;; esac; done
[[ ${#ARCHES[@]} -gt 0 ]] || ARCHES=(x64 arm64)
export npm_config_nodedir=${npm_config_nodedir:-/usr}
NODE_VERSION=$(node -p process.versions.node)
PREBUILDIFY=$REPO/node_modules/.bin/prebuildify
log() { printf '[prebuild] %s\n' "$*" >&2; }
die() { printf '[prebuild] error: %s\n' "$*" >&2; exit 1; }

[[ -x $PREBUILDIFY ]] || die "prebuildify not installed: run npm ci first"
[[ -f $npm_config_nodedir/include/node/node_api.h ]] \
  || die "no Node headers in $npm_config_nodedir/include/node (set npm_config_nodedir to a Node install or headers dir)"

# expected `readelf -h` Machine for each npm arch
machine_of() {
  case $1 in
    x64) echo 'Advanced Micro Devices X86-64' ;;
    arm64) echo 'AArch64' ;;
    *) die "unsupported arch $1" ;;
  esac
}

# --check: build nothing; fail unless every prebuild is present, of the right machine and
# newer than binding.gyp and native/ (for `prepublishOnly`).
if [[ $CHECK_ONLY == 1 ]]; then
  bad=0
  for arch in "${ARCHES[@]}"; do
    shopt -s nullglob; bins=(prebuilds/linux-$arch/*.node); shopt -u nullglob
    if [[ ${#bins[@]} -ne 1 ]]; then
      log "prebuilds/linux-$arch: expected one .node, found ${#bins[@]} (run npm run prebuilds)"; bad=1; continue
    fi
    got=$(readelf -h "${bins[0]}" | sed -n 's/^ *Machine: *//p')
    [[ $got == "$(machine_of "$arch")" ]] || { log "${bins[0]} is built for '$got'"; bad=1; }
    newer=$(find native binding.gyp -newer "${bins[0]}" -type f -print -quit)
    [[ -z $newer ]] || { log "${bins[0]} is older than $newer (run npm run prebuilds)"; bad=1; }
    [[ $bad == 1 ]] || log "${bins[0]}: ok ($got)"
  done
  exit $bad
fi

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/daxfs-prebuild.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
cp package.json binding.gyp "$STAGE/"
cp -r native "$STAGE/native"
ln -s "$REPO/node_modules" "$STAGE/node_modules"

# Prints what a binary needs from the C and C++ runtimes (versioned symbol references).
report_needs() {
  local bin=$1 arch=$2 objdump=objdump needs glibc cxx
  [[ $arch == arm64 ]] && command -v aarch64-linux-gnu-objdump >/dev/null && objdump=aarch64-linux-gnu-objdump
  needs=$($objdump -T "$bin" | grep -oE '\b(GLIBC|GLIBCXX|CXXABI|GCC)_[0-9.]+' | sort -u -V || true)
  glibc=$(grep '^GLIBC_' <<<"$needs" | sort -V | tail -n1 || true)
  cxx=$(grep -E '^(GLIBCXX|CXXABI|GCC)_' <<<"$needs" | tr '\n' ' ' || true)
  printf '  %-26s %s\n' "minimum glibc:" "${glibc#GLIBC_}"
  printf '  %-26s %s\n' "glibc symbols needing it:" \
    "$($objdump -T "$bin" | awk -v v="$glibc" '$0 ~ v"[ )]" {print $NF}' | sort -u | tr '\n' ' ')"
  printf '  %-26s %s\n' "libstdc++/libgcc versions:" "${cxx:-none}"
  # Node itself needs some glibc and libstdc++: a prebuild should need no newer ones.
  local node_glibc node_cxx cxxmax
  node_glibc=$(objdump -T "$(command -v node)" 2>/dev/null | grep -oE '\bGLIBC_[0-9.]+' | sort -uV | tail -n1 || true)
  node_cxx=$(objdump -T "$(command -v node)" 2>/dev/null | grep -oE '\bGLIBCXX_[0-9.]+' | sort -uV | tail -n1 || true)
  cxxmax=$(grep '^GLIBCXX_' <<<"$needs" | sort -V | tail -n1 || true)
  newer() { [[ -n $1 && -n $2 && $1 != "$2" && $(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n1) == "$1" ]]; }
  if newer "$glibc" "$node_glibc" || newer "$cxxmax" "$node_cxx"; then
    printf '  WARNING: needs %s, newer than Node itself (%s): it will not load on every system Node runs on\n' \
      "$glibc${cxxmax:+ and $cxxmax}" "$node_glibc and $node_cxx"
    [[ ${PREBUILD_STRICT:-0} == 1 ]] && die "PREBUILD_STRICT=1: linux-$arch needs a newer C/C++ runtime than Node"
  fi
  printf '  %-26s %s\n' "shared libraries needed:" \
    "$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
}

for arch in "${ARCHES[@]}"; do
  want=$(machine_of "$arch")
  args=(--napi --strip --tag-libc --platform linux --arch "$arch" --target "node@$NODE_VERSION")
  envs=(JOBS="${JOBS:-2}")
  if [[ $arch == arm64 && $(uname -m) != aarch64 ]]; then
    bash "$REPO/scripts/arm64/toolchain.sh" cross
    envs+=(CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++
          AR=aarch64-linux-gnu-ar STRIP=aarch64-linux-gnu-strip)
    args+=(--strip-bin aarch64-linux-gnu-strip)
  elif [[ $arch == x64 && $(uname -m) != x86_64 ]]; then
    die "building linux-x64 on $(uname -m) is not supported by this script"
  fi
  log "linux-$arch: prebuildify ${args[*]} ${envs[*]}"
  rm -rf "$STAGE/build" "$STAGE/prebuilds"
  start=$SECONDS
  (cd "$STAGE" && env "${envs[@]}" "$PREBUILDIFY" "${args[@]}") || die "prebuildify failed for linux-$arch"
  shopt -s nullglob; bins=("$STAGE/prebuilds/linux-$arch/"*.node); shopt -u nullglob
  [[ ${#bins[@]} -eq 1 ]] || die "expected one .node in prebuilds/linux-$arch, found ${#bins[@]}"
  bin=${bins[0]}
  got=$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')
  if [[ $got != "$want" ]]; then
    die "prebuilds/linux-$arch/$(basename "$bin") is built for '$got', not '$want' (cross compiler not used?)"
  fi
  echo "prebuilds/linux-$arch/$(basename "$bin"): $(file -b "$bin" | cut -d, -f1-2), $(stat -c %s "$bin") bytes, $((SECONDS - start)) s"
  report_needs "$bin" "$arch"
  rm -rf "$REPO/prebuilds/linux-$arch"
  mkdir -p "$REPO/prebuilds"
  cp -r "$STAGE/prebuilds/linux-$arch" "$REPO/prebuilds/linux-$arch"
done
