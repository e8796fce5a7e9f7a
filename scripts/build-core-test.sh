#!/usr/bin/env bash
# Builds the native core's own C++ test (no Node inside) into build/core_test, when any
# source is newer than the binary. Run by `npm test` (pretest); kept out of binding.gyp so
# the addon's source build and the prebuilds compile only the addon.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/core_test
sources=(native/core/*.cpp native/test/core_test.cpp)
if [ -x "$out" ] && [ -z "$(find "${sources[@]}" native/core/*.h -newer "$out" 2>/dev/null)" ]; then exit 0; fi
mkdir -p build
${CXX:-g++} -std=c++17 -O2 -Wall -Wextra -pthread -o "$out.tmp" "${sources[@]}"
mv "$out.tmp" "$out"
