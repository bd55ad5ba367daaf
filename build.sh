#!/usr/bin/env bash
# RBE Workbench build script.
#   ./build.sh run    install missing packages, build, start the workbench on the default
#                     model (without a display: generate text with rbe-infer instead)
#   ./build.sh test   install missing packages, build, run every test (CTest)
#   ./build.sh build  install missing packages, build only
# Environment: BUILD_DIR (default build), JOBS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

# Debian packages the build and the tests need.
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libtbb-dev libeigen3-dev nlohmann-json3-dev libcli11-dev libzstd-dev
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev libopenblas-dev
  python3 python3-numpy
  # The Qt 6 workbench (libqt6opengl6-dev: Qt Charts needs Qt6OpenGL's CMake files).
  qt6-base-dev qt6-charts-dev qt6-tools-dev qt6-tools-dev-tools qt6-l10n-tools qt6-qpa-plugins
  libqt6opengl6-dev libgl-dev
)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "build.sh: installing missing packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

configure_and_build() {
  local gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
    cmake -S . -B "$BUILD_DIR" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release
  else
    cmake -S . -B "$BUILD_DIR" >/dev/null
  fi
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

cmd=${1:-build}
case "$cmd" in
  build)
    install_missing
    configure_and_build
    ;;
  test)
    install_missing
    configure_and_build
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
    ;;
  run)
    install_missing
    configure_and_build
    shift || true
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x "$BUILD_DIR/app/workbench/rbe-workbench" ]; then
      exec "$BUILD_DIR/app/workbench/rbe-workbench" --model resources/models/mini-shakespeare "$@"
    fi
    if [ -x "$BUILD_DIR/app/workbench/rbe-workbench" ]; then
      echo "build.sh: no display (\$DISPLAY / \$WAYLAND_DISPLAY unset), so instead of the workbench here is" \
        "text from the default model (rbe-infer). Render the workbench headless with:" \
        "$BUILD_DIR/app/workbench/rbe-workbench --screenshot workbench.png" >&2
    else
      echo "build.sh: the workbench was not built (Qt 6 missing); generating text with rbe-infer instead." >&2
    fi
    exec "$BUILD_DIR/app/rbe-infer" --model resources/models/mini-shakespeare \
      --prompt "ROMEO:" --max-tokens 400 --temperature 0.8 --seed 42 "$@"
    ;;
  *)
    echo "usage: ./build.sh run|test|build" >&2
    exit 2
    ;;
esac
