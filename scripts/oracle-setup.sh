#!/bin/sh
# Installs the TFLite oracle (LiteRT.js under Node.js, see
# ../shared/tools/oracle/README.md) into a cache directory and prints the
# path of its oracle.mjs. Idempotent: `npm ci` runs only when the cache has
# no node_modules or the package-lock.json changed.
#
#   scripts/oracle-setup.sh            # prints e.g. /repo/.cache/oracle/oracle.mjs
#   export EDGED_ORACLE=$(dirname "$(scripts/oracle-setup.sh)")
#
# Environment:
#   EDGED_ORACLE_SRC    oracle sources (default: <repo>/../shared/tools/oracle)
#   EDGED_ORACLE_CACHE  install directory (default: <repo>/.cache/oracle,
#                       which the differential test looks at when
#                       EDGED_ORACLE is unset)
# Needs node >= 20 and npm (the npm registry is the only thing fetched).
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
src=${EDGED_ORACLE_SRC:-$repo/../shared/tools/oracle}
dst=${EDGED_ORACLE_CACHE:-$repo/.cache/oracle}

if [ ! -f "$src/oracle.mjs" ] || [ ! -f "$src/package-lock.json" ]; then
	echo "oracle-setup: no oracle sources in $src (set EDGED_ORACLE_SRC)" >&2
	exit 1
fi
command -v node >/dev/null 2>&1 || { echo "oracle-setup: node is not installed (need Node.js >= 20)" >&2; exit 1; }

mkdir -p "$dst"
# Copy the sources (not node_modules: npm ci recreates it from the lock).
for f in "$src"/* "$src"/.npmrc; do
	[ -e "$f" ] || continue
	case $(basename "$f") in node_modules) continue ;; esac
	cp -f "$f" "$dst/"
	chmod u+w "$dst/$(basename "$f")"
done

lock_sum=$(cksum <"$dst/package-lock.json")
stamp="$dst/node_modules/.edged-lock-cksum"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
	if [ -d "$src/node_modules/@litertjs/core" ] && [ ! -d "$dst/node_modules" ]; then
		# The source already has its dependencies installed from the
		# same lock file: reuse them instead of downloading.
		cp -R "$src/node_modules" "$dst/"
	else
		command -v npm >/dev/null 2>&1 || { echo "oracle-setup: npm is not installed" >&2; exit 1; }
		(cd "$dst" && npm ci --no-audit --no-fund >&2)
	fi
	echo "$lock_sum" >"$stamp"
fi
echo "$dst/oracle.mjs"
