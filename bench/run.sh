#!/bin/sh
# Runs every bench/*.sh (but this one) with the binary's path as $1.
set -u
BIN=$1
DIR=$(dirname "$0")
rc=0
for b in "$DIR"/*.sh; do
	[ "$(basename "$b")" = run.sh ] && continue
	echo "== $(basename "$b")"
	sh "$b" "$BIN" || rc=1
done
exit $rc
