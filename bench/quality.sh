#!/bin/sh
# Planner quality on real traces (Bitbrains, Microsoft cloud monitoring,
# NAB from ../shared/datasets; a dataset that is absent is skipped): each
# trace is a component on one of four partitions (bench/quality_prepare.py
# says how), a 01:00-05:00 update window is planned on each of 7 days from
# the history before that day, and what actually happened is replayed
# through the plan (simulate). Per dataset and resource it prints:
#  - partitions: share of online partition-steps whose actual total went
#    over the capacity (overload) and over the plan's bound at its
#    confidence, against the target epsilon = 1 - confidence;
#  - components: share of steps with demand above the allocation
#    (violations) and the mean reserved capacity, for the plan, static
#    peak, VPA-like and reactive sizing, and VPA-like scaled to the
#    plan's total reserved capacity (vpa-equal-reserve).
# Usage: bench/quality.sh path/to/adpart-update
set -eu
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
TOP=$(cd "$(dirname "$0")/.." && pwd)
DATA="$TOP/../shared/datasets"
if [ ! -d "$DATA" ]; then
	echo "quality: skipped (../shared/datasets absent)"
	exit 0
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/adpart-quality.XXXXXX")
[ -n "${ADP_BENCH_KEEP:-}" ] && TMP=$ADP_BENCH_KEEP && mkdir -p "$TMP"
[ -n "${ADP_BENCH_KEEP:-}" ] || trap 'rm -rf "$TMP"' EXIT
/usr/bin/python3 "$TOP/bench/quality_prepare.py" "$DATA" "$TMP"
for d in "$TMP"/*/; do
	[ -f "$d/days.txt" ] || continue
	while read -r day; do
		cat >"$d/schedule-$day.json" <<JSON
{
  "name": "bench-$day",
  "window": { "start": "${day}T01:00:00Z", "end": "${day}T05:00:00Z", "timezone": "UTC" },
  "cutoff": "10m",
  "partitions": ["p1", "p2", "p3", "p4"],
  "max_concurrency": 1,
  "update_duration": { "default": "40m" },
  "drain_duration": "5m",
  "verify_duration": "5m",
  "step": "5m",
  "max_gap": "1h",
  "confidence": { "cpu": 0.95, "memory": 0.99, "io": 0.95, "net": 0.95 },
  "plan_ttl": "24h",
  "period": "1d"
}
JSON
		rc=0
		"$BIN" plan --inventory "$d/inventory.json" --schedule "$d/schedule-$day.json" \
			--history "$d/history.csv" --now "${day}T00:00:00Z" \
			--plan-file "$d/plan-$day.json" -o json >"$d/plan-$day.out" 2>"$d/plan-$day.err" || rc=$?
		# 2: plan written; 3: infeasible (no plan written).
		if [ "$rc" -ne 2 ] && [ "$rc" -ne 3 ]; then
			echo "quality: plan for $(basename "$d") $day failed ($rc):" >&2
			cat "$d/plan-$day.err" >&2
			exit 1
		fi
		if [ "$rc" -eq 3 ]; then
			echo "$(basename "$d") $day: infeasible, not replayed: $(grep -c '"advice"' "$d/plan-$day.out") shortfalls" >>"$TMP/infeasible.txt"
			continue
		fi
		"$BIN" simulate "$d/plan-$day.json" --inventory "$d/inventory.json" --history "$d/history.csv" \
			-o json >"$d/sim-$day.json"
	done <"$d/days.txt"
done
if [ -f "$TMP/infeasible.txt" ]; then cat "$TMP/infeasible.txt"; fi
/usr/bin/python3 - "$TMP" <<'PY'
import glob, json, os, sys
eps = {"cpu": 0.05, "memory": 0.01, "io": 0.05, "net": 0.05}
unit = {"cpu": (1.0, "cores"), "memory": (2**30, "GiB")}
for d in sorted(glob.glob(sys.argv[1] + "/*/")):
    sims = sorted(glob.glob(d + "sim-*.json"))
    if not sims:
        continue
    name = os.path.basename(d.rstrip("/"))
    part, comp, ncomps = {}, {}, {}
    for f in sims:
        doc = json.load(open(f))
        for x in doc["partitions"]:
            t = part.setdefault(x["resource"], [0, 0, 0, 0])
            t[0] += x["steps"]; t[1] += x["overloads"]; t[2] += x["bound_steps"]; t[3] += x["above_bound"]
        for row in doc["components"]:
            ncomps.setdefault(row["resource"], set()).add(row["component"])
            for m, st in row["methods"].items():
                t = comp.setdefault((row["resource"], m), [0, 0, 0.0])
                t[0] += st["steps"]; t[1] += st["violations"]; t[2] += st["mean_reserved"] * st["steps"]
    print("%s, %d windows" % (name, len(sims)))
    for r, t in sorted(part.items()):
        if t[0] == 0:
            continue
        print("  %-6s partitions: overload %.2f%% of %d steps, above the plan's bound %.2f%%, target eps %.0f%%" %
              (r, 100.0 * t[1] / t[0], t[0], 100.0 * t[3] / max(t[2], 1), 100 * eps[r]))
    for r in sorted({r for r, _ in comp}):
        rows = {m: t for (rr, m), t in comp.items() if rr == r and t[0]}
        if "plan" not in rows:
            continue
        dv, u = unit.get(r, (1.0, ""))
        ncomp = len({row for row in ncomps.get(r, ())})
        peak = rows.get("static-peak", [1, 0, 0])[2] or 1
        print("  %-6s components (%d), eps %.0f%%:" % (r, ncomp, 100 * eps[r]))
        for m in ("plan", "static-peak", "vpa", "reactive", "vpa-equal-reserve"):
            if m in rows:
                t = rows[m]
                # Mean reserved: the components' allocations summed, averaged over steps.
                print("    %-12s violations %6.2f%%  reserved %10.3f %-5s (%5.1f%% of static peak)" %
                      (m, 100.0 * t[1] / t[0], t[2] / t[0] * ncomp / dv, u, 100.0 * t[2] / peak))
        if "vpa" in rows:
            pl, vp, pt = rows["plan"], rows["vpa"], part.get(r, [0, 0, 1, 0])
            eq = rows.get("vpa-equal-reserve", vp)
            print("    goals: reserved <= 80%% of static peak %s; fewer violations than vpa %s%s; than vpa scaled "
                  "to the plan's reserve %s; above the bound <= eps %s" %
                  ("yes" if pl[2] <= 0.8 * peak else "NO", "yes" if pl[1] / pl[0] < vp[1] / vp[0] else "NO",
                   " at no more reserved" if pl[2] <= vp[2] else " (with more reserved)",
                   "yes" if pl[1] / pl[0] < eq[1] / eq[0] else "NO",
                   "yes" if pt[3] / max(pt[2], 1) <= eps[r] else "NO"))
PY
