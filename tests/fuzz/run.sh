#!/bin/sh
# Runs each fuzz harness for a while on a copy of its corpus and prints
# what it did: executions, coverage (libFuzzer's cov: edges and ft:
# features), and any crash, leak, UB or hang it found (kept as
# BUILD/fuzz/NAME/crash-* etc.). New inputs go to BUILD/fuzz/NAME/corpus,
# never into the repository's corpus: a finding is added there by hand
# (see HACKING.md).
# Usage: tests/fuzz/run.sh BUILD SECONDS NAME...
set -u
BUILD=$1
SECONDS_EACH=$2
shift 2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
found=0
summary=""
for n in "$@"; do
	bin="$BUILD/tests/fuzz/fuzz-$n"
	work="$BUILD/fuzz/$n"
	mkdir -p "$work/corpus"
	cp "$TOP/tests/fuzz/corpus/$n"/* "$work/corpus/" 2>/dev/null
	echo "fuzz: $n for ${SECONDS_EACH}s" >&2
	"$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
	cov=$(grep -E '^#[0-9]+' "$work/log" | grep -o 'cov: [0-9]*' | tail -n 1)
	ft=$(grep -E '^#[0-9]+' "$work/log" | grep -o 'ft: [0-9]*' | tail -n 1)
	art=$(ls "$work" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | tr '\n' ' ')
	if [ "$rc" -ne 0 ] || [ -n "$art" ]; then
		found=1
		what="FOUND (exit $rc): ${art:-see $work/log}"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz:)|runtime error' "$work/log" | head -n 5 >&2
	else
		what="nothing found"
	fi
	summary="$summary$n: ${execs:-?} execs, ${cov:-cov: ?}, ${ft:-ft: ?}, $(ls "$work/corpus" | wc -l) inputs; $what
"
done
printf '%s' "$summary"
exit $found
