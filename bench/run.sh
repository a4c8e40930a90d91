#!/bin/sh
# Runs every bench/*.sh (but this one) with the binary path as $1.
# Usage: bench/run.sh path/to/adpart-update
set -u
dir=$(cd "$(dirname "$0")" && pwd)
rc=0
for b in "$dir"/*.sh; do
	[ "$(basename "$b")" = run.sh ] && continue
	echo "== $(basename "$b")"
	sh "$b" "$1" || rc=1
done
exit $rc
