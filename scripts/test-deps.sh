#!/usr/bin/env bash
# Installs what `make test` needs on a fresh Debian machine: qemu-user-static
# (arm64/armv7 test runs), libc6-arm64-cross (arm64 glibc for the dynamic
# flavour under qemu), mosquitto (MQTT integration tests), nats-server
# and rabbitmq-server (the broker matrix, internal/brokertest), binutils
# (readelf for the static-binary check), flatbuffers-compiler (flatc, for
# make gen's check that generated code is current), chromium (the status
# page's browser test), prometheus (promtool checks /metrics) and the TFLite
# oracle's npm packages. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

need=()
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v node >/dev/null || need+=(nodejs npm)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || command -v rabbitmq-server >/dev/null || need+=(rabbitmq-server)
command -v readelf >/dev/null || need+=(binutils)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v flatc >/dev/null || need+=(flatbuffers-compiler)
# The status page's test in a real headless browser; promtool checks /metrics.
command -v chromium >/dev/null || need+=(chromium)
command -v promtool >/dev/null || need+=(prometheus)
# The arm64 loader and glibc for the dynamic flavour's tests under qemu.
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Broker packages must not start their system services (the tests
    # run their own on free ports).
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=1
    fi
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    if [ -n "$policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
  else
    echo "test-deps: missing ${need[*]}; install them (sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
"$root/scripts/oracle-setup.sh" >/dev/null
echo "test-deps: ok (qemu $(qemu-aarch64-static --version | head -1 | awk '{print $3}'), node $(node --version), oracle $("$root/scripts/oracle-setup.sh"))"
