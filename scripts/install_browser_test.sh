#!/usr/bin/env bash
# Installs what the browser test of `stackgan serve` needs (Debian 12): Chromium and its
# WebDriver from Debian, Selenium from PyPI into .venv-e2e. Idempotent: skips what is there.
# Tests/StackGANCLITests/ServeEndToEndTests.swift runs scripts/e2e_serve.py with .venv-e2e/bin/python.
set -euo pipefail
. "$(dirname "$0")/apt_missing.sh"
cd "$(dirname "$0")/.."
packages=(chromium chromium-driver python3-venv)
apt_install_missing install_browser_test "${packages[@]}"
if .venv-e2e/bin/python -c "import selenium" 2>/dev/null; then
    echo "install_browser_test: selenium present in .venv-e2e"
else
    python3 -m venv .venv-e2e
    .venv-e2e/bin/pip install -q "selenium>=4.20,<5"
fi
