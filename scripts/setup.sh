#!/usr/bin/env bash
# Installs everything umt needs on Debian 12 and builds it into build/.
# Idempotent: run it again after a pull. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  # libraries
  libtorch-dev libopenblas0-openmp libopencv-dev libsndfile1-dev libsamplerate0-dev
  libtinyxml2-dev libcli11-dev libspdlog-dev libgtest-dev libzip-dev nlohmann-json3-dev
  libfluidsynth-dev libpoppler-cpp-dev libssl-dev
  # training, data and test tools
  python3-torch python3-numpy python3-mir-eval libjemalloc2
  fluid-soundfont-gm timgm6mb-soundfont musescore3
  # data factory (scripts/build_dataset.py): page images, MIDI files, SVG rasterizing, eval SoundFont
  python3-opencv python3-scipy python3-mido librsvg2-bin musescore-general-soundfont
  # the Slurm job-array test (tests/cli/slurm_test.cpp starts a private single-node cluster)
  slurm-wlm munge
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js (for verovio) only when none is installed: a NodeSource build already brings npm.
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# verovio (engraver used by the data factory and layout checks), pinned, installed locally.
if [ ! -d tools/node_modules/verovio ] && command -v npm >/dev/null; then
  mkdir -p tools
  npm install --silent --no-audit --no-fund --prefix tools verovio@4.3.1 >/dev/null 2>&1 \
    || echo "setup: warning: npm install verovio failed; verovio-based checks will be skipped"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$(nproc)"
echo "setup: done. Try: build/umt --help"
