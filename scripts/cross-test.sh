#!/usr/bin/env bash
# Runs the given packages' tests for linux/arm64 and linux/arm (armv7) under
# qemu-user-static, in -short mode. Tests that start the test binary again
# run it under the emulator named in EDGED_TEST_EMULATOR (see
# internal/testenv.SelfCommand). Usage: cross-test.sh PKG...
set -euo pipefail
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./runtime/...)
export CGO_ENABLED=0
for q in qemu-aarch64-static qemu-arm-static; do
  command -v "$q" >/dev/null || { echo "cross-test: $q not found (apt-get install qemu-user-static)" >&2; exit 1; }
done
echo "== arm64 (qemu-aarch64-static)"
EDGED_TEST_EMULATOR=qemu-aarch64-static GOARCH=arm64 go test -count=1 -short -timeout 30m -exec qemu-aarch64-static "${pkgs[@]}"
# The default qemu CPU ("max") has the dot product. The kernels and the
# golden models run again on a Cortex-A53 (NEON without SDOT/UDOT: Pi 3
# and 4, Jetson Nano, Coral Dev Board), and detection is checked on both.
echo "== arm64 without the dot product (QEMU_CPU=cortex-a53)"
QEMU_CPU=cortex-a53 EDGED_WANT_VARIANT=neon GOARCH=arm64 go test -count=1 -short -timeout 30m -exec qemu-aarch64-static ./runtime/kernels/
QEMU_CPU=cortex-a53 GOARCH=arm64 go test -count=1 -short -timeout 30m -exec qemu-aarch64-static -run 'Golden' ./runtime/tflite/
echo "== arm64 with the dot product (QEMU_CPU=cortex-a76)"
QEMU_CPU=cortex-a76 EDGED_WANT_VARIANT=dotprod GOARCH=arm64 go test -count=1 -short -exec qemu-aarch64-static -run 'TestDetectedVariant' ./runtime/kernels/
echo "== armv7 (qemu-arm-static)"
EDGED_TEST_EMULATOR=qemu-arm-static GOARCH=arm GOARM=7 go test -count=1 -short -timeout 30m -exec qemu-arm-static "${pkgs[@]}"
