#!/usr/bin/env bash
# Ensures headless Chromium (Debian package `chromium`) is installed for the report rendering tests
# (test/integration/report-*.test.ts drive it through playwright-core). Idempotent; needs root or sudo
# only when the package is missing.
set -euo pipefail

CHROMIUM_BIN="${FINSENTRY_CHROMIUM:-/usr/bin/chromium}"
if [[ -x "$CHROMIUM_BIN" ]]; then
  exit 0
fi

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "ensure-chromium: $CHROMIUM_BIN missing and not root; install the Debian package 'chromium'" >&2
    exit 1
  fi
fi

echo "ensure-chromium: installing Debian package chromium" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
"$CHROMIUM_BIN" --version >&2
