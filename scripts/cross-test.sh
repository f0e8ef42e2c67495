#!/usr/bin/env bash
# Runs the given packages' tests for linux/arm64 and linux/arm (armv7) under
# qemu-user-static, in -short mode. Usage: cross-test.sh PKG...
set -euo pipefail
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./runtime/...)
export CGO_ENABLED=0
for q in qemu-aarch64-static qemu-arm-static; do
  command -v "$q" >/dev/null || { echo "cross-test: $q not found (apt-get install qemu-user-static)" >&2; exit 1; }
done
echo "== arm64 (qemu-aarch64-static)"
GOARCH=arm64 go test -count=1 -short -timeout 30m -exec qemu-aarch64-static "${pkgs[@]}"
echo "== armv7 (qemu-arm-static)"
GOARCH=arm GOARM=7 go test -count=1 -short -timeout 30m -exec qemu-arm-static "${pkgs[@]}"
