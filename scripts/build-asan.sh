#!/usr/bin/env bash
# Builds the addon with AddressSanitizer and UndefinedBehaviorSanitizer into
# build-asan/daxfs.node, leaving build/Release alone. Load it with DAXFS_ADDON (and the
# runtime preloaded: see scripts/asan-env.sh). Sources come from binding.gyp, so a file
# added there is built here too. Rebuilds only when a source is newer than the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build-asan/daxfs.node
mapfile -t sources < <(node -e '
  const gyp = require("fs").readFileSync("binding.gyp", "utf8");
  const g = JSON.parse(gyp.replace(/#.*$/gm, ""));
  const t = g.targets.find((x) => x.target_name === "daxfs");
  for (const s of t.sources) {
    if (s === "<@(core_sources)") g.variables.core_sources.forEach((c) => console.log(c));
    else console.log(s);
  }')
if [ -f "$out" ] && [ -z "$(find "${sources[@]}" native/core/*.h native/binding/*.h binding.gyp -newer "$out" 2>/dev/null)" ]; then
  echo "build-asan: $out is up to date"
  exit 0
fi
node_include=${NODE_INCLUDE:-}
if [ -z "$node_include" ]; then
  for d in "${npm_config_nodedir:-}/include/node" /usr/include/node "$(dirname "$(dirname "$(command -v node)")")/include/node"; do
    [ -f "$d/node_api.h" ] && { node_include=$d; break; }
  done
fi
[ -n "$node_include" ] || { echo "build-asan: node_api.h not found (set NODE_INCLUDE)" >&2; exit 1; }
mkdir -p build-asan/obj
# -O1 keeps stack traces readable; the same defines and warnings as binding.gyp. Two
# compilers at once (the machine has two cores), then one link.
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -fno-exceptions -fvisibility=hidden
       -fsanitize=address,undefined -fno-sanitize-recover=undefined -fPIC -DNAPI_VERSION=8 -I"$node_include")
export CXX_BIN=${CXX:-g++}
printf '%s\n' "${sources[@]}" | xargs -P "${JOBS:-2}" -I{} sh -c \
  's=$1; shift; exec "$CXX_BIN" "$@" -c "$s" -o "build-asan/obj/$(echo "$s" | tr / _).o"' _ {} "${flags[@]}"
objects=()
for s in "${sources[@]}"; do objects+=("build-asan/obj/$(echo "$s" | tr / _).o"); done
"$CXX_BIN" -shared -fsanitize=address,undefined -o "$out.tmp" "${objects[@]}"
mv "$out.tmp" "$out"
echo "build-asan: built $out"
