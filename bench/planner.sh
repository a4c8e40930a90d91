#!/bin/sh
# Plan quality against the baselines on the demo's real traces: for each
# of several past days, plan a 01:00-05:00 window from the history up to
# midnight, then replay what actually happened (simulate) through the plan
# and through static peak, VPA-like and reactive sizing. Prints, per method
# and resource, steps, violations (demand above allocation), violation
# rate and mean slack, summed over components and days.
# Usage: bench/planner.sh path/to/adpart-update
set -eu
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
TOP=$(cd "$(dirname "$0")/.." && pwd)
DEMO="$TOP/testdata/demo"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/adpart-bench.XXXXXX")
[ -n "${ADP_BENCH_KEEP:-}" ] && TMP=$ADP_BENCH_KEEP && mkdir -p "$TMP"
[ -n "${ADP_BENCH_KEEP:-}" ] || trap 'rm -rf "$TMP"' EXIT
for day in 2018-04-30 2018-05-01 2018-05-02 2018-05-03 2018-05-04 2018-05-05; do
	sed -e "s/2018-05-06T01:00:00Z/${day}T01:00:00Z/" -e "s/2018-05-06T05:00:00Z/${day}T05:00:00Z/" \
		"$DEMO/schedule.json" >"$TMP/schedule-$day.json"
	rc=0
	"$BIN" plan --inventory "$DEMO/inventory.json" --schedule "$TMP/schedule-$day.json" \
		--now "${day}T00:00:00Z" --plan-file "$TMP/plan-$day.json" >/dev/null 2>&1 || rc=$?
	# 2: plan written (0: nothing to do; 3, infeasible, writes no plan).
	[ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] || { echo "planner: plan for $day failed ($rc)" >&2; exit 1; }
	"$BIN" simulate "$TMP/plan-$day.json" --inventory "$DEMO/inventory.json" -o json >"$TMP/sim-$day.json"
done
/usr/bin/python3 - "$TMP" <<'PY'
import glob, json, sys
tot = {}
for f in sorted(glob.glob(sys.argv[1] + "/sim-*.json")):
    for row in json.load(open(f))["components"]:
        for m, st in row["methods"].items():
            t = tot.setdefault((row["resource"], m), [0, 0, 0.0, 0.0, 0])
            t[0] += st["steps"]; t[1] += st["violations"]
            t[2] += st["mean_slack"] * st["steps"]; t[3] += st["excess_sum"]; t[4] += st["guarantee_breaches"]
unit = {"cpu": (1.0, "cores"), "memory": (2**30, "GiB"), "io": (2**20, "MiB/s"), "net": (2**20, "MiB/s")}
print("planner quality vs baselines, 6 windows of 4 h, demo traces")
print("%-8s %-12s %7s %6s %8s %12s %12s %7s" % ("resource", "method", "steps", "viol", "rate", "mean slack", "excess sum", "breach"))
for (r, m), t in sorted(tot.items()):
    d, u = unit.get(r, (1.0, ""))
    if t[0] == 0:
        continue
    print("%-8s %-12s %7d %6d %7.2f%% %8.3f %-5s %8.3f %-5s %5d" % (r, m, t[0], t[1], 100.0 * t[1] / t[0],
          t[2] / t[0] / d, u, t[3] / d, u, t[4]))
PY
