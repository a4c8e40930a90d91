#!/bin/sh
# Runs every bench/*.sh with the binary's path and prints their figures.
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
DIR=$(cd "$(dirname "$0")" && pwd)
status=0
for b in "$DIR"/*.sh; do
	[ "$(basename "$b")" = run.sh ] && continue
	echo "== $(basename "$b" .sh)"
	sh "$b" "$BIN" || status=1
done
exit $status
