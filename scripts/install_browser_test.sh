#!/usr/bin/env bash
# Installs what the browser test of `stackgan serve` needs (Debian 12): Chromium and its
# WebDriver from Debian, Selenium from PyPI into .venv-e2e. Idempotent: skips what is there.
# Tests/StackGANCLITests/ServeEndToEndTests.swift runs scripts/e2e_serve.py with .venv-e2e/bin/python.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(chromium chromium-driver python3-venv)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install_browser_test: chromium, chromium-driver and python3-venv present"
else
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if .venv-e2e/bin/python -c "import selenium" 2>/dev/null; then
    echo "install_browser_test: selenium present in .venv-e2e"
else
    python3 -m venv .venv-e2e
    .venv-e2e/bin/pip install -q "selenium>=4.20,<5"
fi
