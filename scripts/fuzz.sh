#!/usr/bin/env bash
# Runs every fuzz target in the module for the given time each (default 15s).
# Usage: fuzz.sh [DURATION]
set -euo pipefail
t="${1:-15s}"
cd "$(dirname "$0")/.."
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
  pkg="./$(dirname "${f#./}")"
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r target; do
    echo "== fuzz $pkg $target ($t)"
    go test -count=1 -run '^$' -fuzz "^${target}\$" -fuzztime "$t" "$pkg"
  done
done
