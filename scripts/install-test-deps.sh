#!/usr/bin/env bash
# Test-only system packages, installed when missing and we are root (CI); otherwise the tests
# that need them skip and say how to install them.
# - Debian's chromium renders report.html in the report tests.
# - GoReplay 1.3.2 records the notes example in tests/capture/test_notes_recording.py; it is
#   built with Go (cgo) against libpcap (Debian's libpcap-dev) into BIN_DIR (default .venv/bin).
set -euo pipefail
BIN_DIR="${1:-.venv/bin}"
root=0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  root=1
fi
apt_updated=0
apt_install() {
  if [ "$apt_updated" = "0" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  if [ "$root" = "1" ]; then
    echo "installing chromium for the HTML report tests (apt-get)"
    apt_install chromium
  else
    echo "note: chromium is not installed; the HTML report browser tests will be skipped" >&2
    echo "      (Debian/Ubuntu: sudo apt-get install chromium)" >&2
  fi
fi

if [ ! -x "$BIN_DIR/goreplay" ] && ! command -v goreplay >/dev/null 2>&1 \
    && ! command -v gor >/dev/null 2>&1; then
  if [ "$root" = "1" ] && command -v go >/dev/null 2>&1; then
    echo "building GoReplay 1.3.2 for the recording tests (libpcap-dev, go install)"
    [ -e /usr/include/pcap.h ] || apt_install libpcap-dev
    mkdir -p "$BIN_DIR"
    CGO_ENABLED=1 GOBIN="$(cd "$BIN_DIR" && pwd)" go install github.com/buger/goreplay@v1.3.2
  else
    echo "note: GoReplay is not installed; the GoReplay recording test will be skipped" >&2
    echo "      (apt-get install libpcap-dev; GOBIN=\$PWD/.venv/bin go install github.com/buger/goreplay@v1.3.2)" >&2
  fi
fi
