#!/usr/bin/env bash
# Test-only system packages: Debian's chromium renders report.html in the report tests.
# Installed with apt-get when missing and we are root; otherwise the two browser tests skip
# and say how to install it.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the HTML report tests (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
else
  echo "note: chromium is not installed; the HTML report browser tests will be skipped" >&2
  echo "      (Debian/Ubuntu: sudo apt-get install chromium)" >&2
fi
