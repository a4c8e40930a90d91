#!/bin/sh
# The profiler's own CPU cost: `profile` at a 1 s interval over 200
# processes for DURATION seconds (default 30). Target: under 1 % of one
# core. Usage: bench/profile.sh path/to/adpart-update [seconds]
# With TEXTFILE=1 in the environment it also writes the Prometheus textfile.
set -eu
BIN=$1
SECS=${2:-30}
NPROC=200
TMP=$(mktemp -d "${TMPDIR:-/tmp}/adpart-bench.XXXXXX")
pids=""
cleanup() {
	[ -n "$pids" ] && kill $pids 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
# 200 idle processes with a distinctive name: copies of sleep.
cp "$(command -v sleep)" "$TMP/adpbench"
i=0
while [ $i -lt $NPROC ]; do
	"$TMP/adpbench" $((SECS + 60)) &
	pids="$pids $!"
	i=$((i + 1))
done
"$BIN" profile --name adpbench --group-by pid --interval 1s --duration "${SECS}s" \
	--output-file "$TMP/h.csv" ${TEXTFILE:+--textfile "$TMP/h.prom"}
# utime and stime of the finished child, from the shell's accounting:
# `times` prints the children's user and system time on its second line.
# (not in a command substitution: a subshell has no children).
times >"$TMP/times"
set -- $(sed -n 2p "$TMP/times")
user=$1
sys=$2
secs() { echo "$1" | awk -F'[ms]' '{ print $1 * 60 + $2 }'; }
u=$(secs "$user")
s=$(secs "$sys")
rows=$(($(wc -l <"$TMP/h.csv") - 1))
comps=$(awk -F, 'NR > 1 { print $2 }' "$TMP/h.csv" | sort -u | wc -l)
awk -v u="$u" -v s="$s" -v t="$SECS" -v n="$NPROC" -v c="$comps" -v r="$rows" 'BEGIN {
	pct = 100 * (u + s) / t
	printf "profile: %d processes (%d components seen), 1s interval, %ds: cpu %.3fs user + %.3fs sys = %.2f%% of one core (target < 1%%), %d rows\n", n, c, t, u, s, pct, r
	exit !(pct < 1)
}'
