#!/usr/bin/env bash
# Installs every build, test and data dependency from Debian packages.
# Idempotent: packages already present are skipped by apt-get.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libopenblas-dev libopenblas0-openmp libopenblas0-pthread
      zlib1g-dev libcjson-dev libcmocka-dev dataset-fashion-mnist
      python3 python3-numpy python3-pytest gnuplot-nox clang libclang-rt-14-dev
      libopenmpi-dev openmpi-bin libdnnl-dev)
# python3-torch is optional: it only cross-checks fixtures and benchmarks.
if [ "${PDIFF_WITH_TORCH:-0}" = 1 ]; then pkgs+=(python3-torch); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
