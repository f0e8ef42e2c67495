#!/usr/bin/env bash
# Proves the default binaries are fully static (no dynamic section).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
for arch in amd64 arm64; do
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags '-s -w' -o "$tmp/$arch/" ./cmd/...
  for b in "$tmp/$arch"/*; do
    if readelf -d "$b" 2>/dev/null | grep -q NEEDED; then
      echo "check: $b is dynamically linked" >&2; exit 1
    fi
    printf 'check: %-8s %-8s static, %s bytes\n' "$arch" "$(basename "$b")" "$(stat -c %s "$b")"
  done
done
