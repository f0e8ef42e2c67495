#!/usr/bin/env bash
# Runs every fuzz target in the module for the given time each (default
# 5s, what CI affords; `make fuzz FUZZTIME=30m` for a long run). Targets
# are found with `go test -list`, so every func FuzzX in any _test.go file
# runs. A failing target does not stop the others; the script fails at
# the end, naming them. FUZZ_PARALLEL sets the fuzzing workers (default:
# go test's, GOMAXPROCS); FUZZ_TMPDIR their temporary directory;
# FUZZ_MINIMIZE the -fuzzminimizetime (default 500x).
# Usage: fuzz.sh [DURATION]
set -euo pipefail
t="${1:-5s}"
cd "$(dirname "$0")/.."
par=()
# Targets that write files (bbolt stores, transfers) fsync every input and
# crawl on a disk; their temporary directories go to tmpfs when there is one.
tmp="${FUZZ_TMPDIR:-${TMPDIR:-/tmp}}"
if [[ -z "${FUZZ_TMPDIR:-}" && -d /dev/shm && -w /dev/shm ]]; then tmp=/dev/shm; fi
if [[ -n "${FUZZ_PARALLEL:-}" ]]; then par=(-parallel "$FUZZ_PARALLEL"); fi
# go test minimizes every new interesting input for up to 60s, during
# which nothing else is tried: a short run would do little but minimize.
# Bounded in executions, minimizing takes well under a second.
minimize="${FUZZ_MINIMIZE:-500x}"
# Only packages whose tests mention a fuzz target are compiled for -list.
pkgs=$(grep -rl --include='*_test.go' --exclude-dir=.cache --exclude-dir=.git '^func Fuzz' . | xargs -n1 dirname | sort -u)
failed=()
flaked=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
n=0
for dir in $pkgs; do
  pkg="./${dir#./}"
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    n=$((n + 1))
    echo "== fuzz $pkg $target ($t)"
    # Go 1.26's fuzzing coordinator can report "context deadline exceeded"
    # when -fuzztime ends while a worker is mid-call (golang/go#75804, fixed
    # in Go 1.27). That failure writes no reproducer; a real one always
    # does ("Failing input written to ..."). Such a run is repeated once
    # and, if it happens again, counted as the toolchain's flake.
    for attempt in 1 2; do
      if TMPDIR="$tmp" go test -count=1 -run '^$' -fuzz "^${target}\$" -fuzztime "$t" -fuzzminimizetime "$minimize" "${par[@]}" "$pkg" 2>&1 | tee "$log"; then
        break
      fi
      if grep -q 'Failing input written' "$log" || ! grep -q 'context deadline exceeded' "$log"; then
        failed+=("$pkg $target")
        break
      fi
      if ((attempt == 2)); then
        flaked+=("$pkg $target")
      else
        echo "== $target: coordinator deadline race (golang/go#75804), no failing input; running it again"
      fi
    done
  done
done
echo "== $n fuzz targets, ${#failed[@]} failed, ${#flaked[@]} hit golang/go#75804 twice"
if ((${#flaked[@]})); then
  printf 'FLAKED (no failing input): %s\n' "${flaked[@]}"
fi
if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
