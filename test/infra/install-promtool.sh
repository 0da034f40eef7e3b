#!/usr/bin/env bash
# Installs promtool (for `promtool check rules` / `promtool test rules` on the chart's alerts) from
# Debian's prometheus package without installing the service: `apt-get download` + `dpkg-deb -x`
# into the cache, then a symlink in $CACHE_DIR/bin. Idempotent; cached by package version.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DEST="$CACHE_DIR/promtool"
LINK="$BIN_DIR/promtool"

if [[ -x "$LINK" ]] && "$LINK" --version >/dev/null 2>&1; then
  log "promtool already installed: $("$LINK" --version 2>&1 | head -1)"
  exit 0
fi
command -v apt-get >/dev/null || die "promtool: apt-get not found (Debian needed)"
mkdir -p "$DEST" "$BIN_DIR"
deb=$(ls "$DEST"/prometheus_*.deb 2>/dev/null | head -1 || true)
if [[ -z "$deb" ]]; then
  log "promtool: apt-get download prometheus"
  (cd "$DEST" && apt-get download prometheus >/dev/null 2>"$DEST/download.log") ||
    (apt-get update >/dev/null && cd "$DEST" && apt-get download prometheus >/dev/null 2>"$DEST/download.log") ||
    die "promtool: apt-get download prometheus failed, see $DEST/download.log"
  deb=$(ls "$DEST"/prometheus_*.deb | head -1)
fi
rm -rf "$DEST/root"
dpkg-deb -x "$deb" "$DEST/root"
[[ -x "$DEST/root/usr/bin/promtool" ]] || die "promtool: $deb has no usr/bin/promtool"
ln -sfn "$DEST/root/usr/bin/promtool" "$LINK"
log "promtool installed: $("$LINK" --version 2>&1 | head -1) -> $LINK"
