#!/usr/bin/env bash
# Provide toxiproxy-server (and toxiproxy-cli) 2.12.0 in the directory given as $1.
#   1. an existing toxiproxy-server of that version on PATH is linked in;
#   2. else both are built with `go install` at v2.12.0, the version set through -ldflags;
#   3. else a clear message says how to get it, and the script fails.
set -euo pipefail
want="2.12.0"
dest="${1:?usage: install-toxiproxy.sh DEST_DIR}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"

version_of() { "$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true; }

if [ -x "$dest/toxiproxy-server" ] && [ "$(version_of "$dest/toxiproxy-server")" = "$want" ]; then
  exit 0
fi

existing="$(PATH="${PATH//$dest:/}" command -v toxiproxy-server || true)"
if [ -n "$existing" ] && [ "$(version_of "$existing")" = "$want" ]; then
  ln -sf "$existing" "$dest/toxiproxy-server"
  echo "toxiproxy-server $want: using $existing"
  exit 0
fi

if command -v go >/dev/null 2>&1; then
  echo "toxiproxy-server $want: building with go install (about 30 s the first time)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  GOBIN="$tmp" go install \
    -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=$want" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@v$want" \
    "github.com/Shopify/toxiproxy/v2/cmd/cli@v$want"
  install -m 0755 "$tmp/server" "$dest/toxiproxy-server"
  install -m 0755 "$tmp/cli" "$dest/toxiproxy-cli"
  got="$(version_of "$dest/toxiproxy-server")"
  if [ "$got" != "$want" ]; then
    echo "toxiproxy-server: built binary reports version '$got', expected $want" >&2
    exit 1
  fi
  exit 0
fi

cat >&2 <<MSG
toxiproxy-server $want was not found and Go is not installed, so it cannot be built.
Get it one of these ways, then run 'make setup' again:
  - install Go (https://go.dev/doc/install) and re-run 'make setup', or
  - put a toxiproxy-server $want binary on PATH (release assets of Shopify/toxiproxy), or
  - run one elsewhere (e.g. docker-compose.staging.yml) and export TOXIPROXY_URL=http://HOST:8474
MSG
exit 1
