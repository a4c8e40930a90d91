#!/bin/sh
# Exact mode: the planner's wave heuristic (part_place_movers) against the
# MILP (GLPK) on the planner's wave problem, instances of 50 to 500
# components drawn from real traces (one wave with a tenth of the
# partitions offline, and every replica placed from scratch), all costs
# scored by part_wave_evaluate; then the heuristic and the scorer on every
# wave of 10,000 components and 500 partitions, with peak RSS.
# BENCH_MILP_SECONDS sets the MILP's time limit per instance (default 60),
# BENCH_SEEDS the seeds (default "1 2"; each seed is a new set of
# instances).
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(dirname "$1")
DATA="$TOP/../shared/datasets"
if [ ! -d "$DATA/nab" ] || [ ! -d "$DATA/ms-cloud-monitoring" ]; then
	echo "solver bench: ../shared/datasets absent, skipped"
	exit 0
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/adpart-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cc -std=c11 -D_GNU_SOURCE -O2 -I"$TOP" -o "$TMP/solver" "$TOP/bench/solver.c" "$BUILD/libadpart.a" \
	$(pkg-config --libs libgit2 libcurl jansson libarchive yaml-0.1 inih libcrypto zlib) -lglpk -lm
/usr/bin/python3 "$TOP/bench/solver_prepare.py" "$DATA" "$TMP/traces"
SECS=${BENCH_MILP_SECONDS:-60}
for SEED in ${BENCH_SEEDS:-1 2}; do
	echo "solver bench: one wave, a tenth of the partitions offline, 12 steps x 50 scenarios, MILP limit ${SECS}s, seed $SEED"
	"$TMP/solver" compare "$SEED" "$SECS" 50 100 200 500 -- "$TMP"/traces/*.txt
done
# Tight: capacity 1.2 x the cluster's total (1.0 is infeasible for every
# placement on these instances, as the MILP proves), where the greedy
# placement leaves partitions over and the search has work to do.
SEED=${BENCH_SEEDS:-1}
SEED=${SEED%% *}
echo "solver bench: tight (capacity 1.2 x the cluster's total), MILP limit ${SECS}s, seed $SEED"
BENCH_HEADROOM=1.2 "$TMP/solver" compare "$SEED" "$SECS" 50 100 200 500 -- "$TMP"/traces/*.txt
SEED=${BENCH_SEEDS:-1}
SEED=${SEED%% *}
echo "solver bench: every replica placed from scratch (no load staying), MILP limit ${SECS}s, seed $SEED"
"$TMP/solver" compare-all "$SEED" "$SECS" 50 100 200 500 -- "$TMP"/traces/*.txt
if [ -x /usr/bin/time ]; then
	/usr/bin/time -v "$TMP/solver" scale "$SEED" 10000 500 50 -- "$TMP"/traces/*.txt 2>"$TMP/time.txt"
	grep -E 'Maximum resident|Elapsed' "$TMP/time.txt" | sed 's/^[[:space:]]*/scale: /'
else
	"$TMP/solver" scale "$SEED" 10000 500 50 -- "$TMP"/traces/*.txt
fi
