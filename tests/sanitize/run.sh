#!/usr/bin/env bash
# Builds the engine, the CLIs, the workbench (where Qt 6 is installed) and the
# tests with AddressSanitizer and UndefinedBehaviorSanitizer (GCC, -O1) in
# their own folder and runs every CTest test there, the GUI tests offscreen: a
# memory error, a leak, undefined behaviour or an instruction this CPU lacks
# fails the test that hit it. Not part of CI (the build takes about 40 minutes
# on 2 cores, the tests about 15 more). RBE_BUILD_GUI=OFF in the environment
# leaves Qt out.
# Usage: tests/sanitize/run.sh [BUILD_DIR, default build-asan] [extra ctest arguments, e.g. -R Codec]
set -euo pipefail
build=${1:-build-asan}
shift || true
src=$(cd "$(dirname "$0")/../.." && pwd)
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
[[ -f $build/CMakeCache.txt ]] && gen=()
cmake -S "$src" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -fno-omit-frame-pointer $san" \
  -DCMAKE_EXE_LINKER_FLAGS="$san" -DCMAKE_SHARED_LINKER_FLAGS="$san" -DRBE_BUILD_GUI="${RBE_BUILD_GUI:-AUTO}" -DRBE_CUDA=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" -j"$(nproc)" --timeout 1800 --output-on-failure "$@"
