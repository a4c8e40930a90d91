#!/bin/sh
# Planner quality on real traces (Bitbrains, Microsoft cloud monitoring,
# NAB from ../shared/datasets; a dataset that is absent is skipped): each
# trace is a component on one of four partitions (bench/quality_prepare.py
# says how), a 01:00-05:00 update window is planned on each of 7 days from
# the history before that day, and what actually happened is replayed
# through the plan (simulate). All of it is done at three capacity levels,
# tight, moderate and roomy (the prepare script's factors, and why), with
# plan --accept-risk so that a plan whose proof fails is still written and
# replayed; how many needed it is counted. Per dataset, level and resource
# it prints:
#  - reliability: the online partitions' steps (host-steps) binned by the
#    plan's predicted P(overload), with the mean prediction, the observed
#    overload frequency and whether it is within [0.5x, 1.5x] of the
#    prediction, +-1 point; then the share of all host-steps overloaded
#    against epsilon = 1 - confidence (cpu 5%, memory 1%). A plan's proof
#    leaves out the partitions where the shortage rule cut someone, so the
#    level's line also counts the partition-waves the plans predicted
#    above epsilon and how many of them shared capacity;
#  - reserve against violations: per method (the plan, static peak,
#    VPA-like, reactive, and VPA-like scaled to the plan's reserve) the
#    share of component-steps with demand above the allocation and the
#    mean reserved capacity (the baselines are sized from the history
#    alone, so only the plan's figures change with the level); then the
#    targets: cpu reserved at least 10% below VPA-like and 25% below the
#    static peak, memory reserved at most VPA-like's, fewer violation
#    steps than VPA-like, host overloads at most epsilon.
# Then the reliability pooled over the datasets, per resource and level.
# Usage: bench/quality.sh path/to/adpart-update (ADP_BENCH_KEEP=DIR keeps
# the inputs, plans and replays in DIR)
set -eu
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
TOP=$(cd "$(dirname "$0")/.." && pwd)
DATA="$TOP/../shared/datasets"
if [ ! -d "$DATA" ]; then
	echo "quality: skipped (../shared/datasets absent)"
	exit 0
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/adpart-quality.XXXXXX")
[ -n "${ADP_BENCH_KEEP:-}" ] && rmdir "$TMP" && TMP=$ADP_BENCH_KEEP && mkdir -p "$TMP"
[ -n "${ADP_BENCH_KEEP:-}" ] || trap 'rm -rf "$TMP"' EXIT
rm -f "$TMP/infeasible.txt"
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
	done <"$d/days.txt"
	while read -r level factor; do
		o="$d/$level"
		mkdir -p "$o"
		rm -f "$o"/plan-* "$o"/sim-*
		while read -r day; do
			rc=0
			"$BIN" plan --inventory "$d/inventory-$level.json" --schedule "$d/schedule-$day.json" \
				--history "$d/history.csv" --now "${day}T00:00:00Z" --accept-risk \
				--plan-file "$o/plan-$day.json" -o json >"$o/plan-$day.out" 2>"$o/plan-$day.err" </dev/null ||
				rc=$?
			# 2: plan written (a failing proof accepted and recorded); 3: no plan fits.
			if [ "$rc" -ne 2 ] && [ "$rc" -ne 3 ]; then
				echo "quality: plan for $(basename "$d") $level ($factor) $day failed ($rc):" >&2
				cat "$o/plan-$day.err" >&2
				exit 1
			fi
			if [ "$rc" -eq 3 ]; then
				echo "$(basename "$d") $level $day: infeasible, not replayed: $(grep -c '"advice"' "$o/plan-$day.out") shortfalls" >>"$TMP/infeasible.txt"
				continue
			fi
			"$BIN" simulate "$o/plan-$day.json" --history "$d/history.csv" -o json >"$o/sim-$day.json" </dev/null
		done <"$d/days.txt"
	done <"$TMP/levels.txt"
done
if [ -f "$TMP/infeasible.txt" ]; then cat "$TMP/infeasible.txt"; fi
/usr/bin/python3 - "$TMP" <<'PY'
import glob, json, os, sys
top = sys.argv[1]
eps = {"cpu": 0.05, "memory": 0.01, "io": 0.05, "net": 0.05}
unit = {"cpu": (1.0, "cores"), "memory": (2**30, "GiB")}
levels = [ln.split() for ln in open(os.path.join(top, "levels.txt")) if ln.strip()]
METHODS = (("plan", "plan"), ("static-peak", "static peak"), ("vpa", "VPA-like"), ("reactive", "reactive"),
           ("vpa-equal-reserve", "VPA-like at the plan's reserve"))


def verdict(ok):
    return "MET" if ok else "MISSED"


def pct(x):
    return "%.2f%%" % (100.0 * x)


def load(d, level):
    """Sums a dataset's replays at one level."""
    r = {"plans": 0, "accepted": 0, "reductions": 0, "risky": 0, "risky_shared": 0, "windows": 0, "part": {}, "cal": {}, "comp": {},
         "ncomps": {}}
    for f in sorted(glob.glob(os.path.join(d, level, "plan-*.json"))):
        p = json.load(open(f))
        r["plans"] += 1
        r["accepted"] += (not p["proof"]["holds"]) and p["proof"]["risk_accepted"]
        red = {(x["wave"], x["partition"], x["resource"]) for x in p.get("reductions") or []}
        r["reductions"] += len(p.get("reductions") or [])
        # Partition-waves the plan itself predicts above epsilon; the proof
        # leaves out those where the shortage rule cut someone.
        for w in p["waves"]:
            for u in w["utilisation"]:
                if u["overload_probability"] > eps[u["resource"]] + 1e-9:
                    r["risky"] += 1
                    r["risky_shared"] += (w["index"], u["partition"], u["resource"]) in red
    for f in sorted(glob.glob(os.path.join(d, level, "sim-*.json"))):
        doc = json.load(open(f))
        r["windows"] += 1
        for x in doc["partitions"]:
            t = r["part"].setdefault(x["resource"], [0, 0, 0, 0])
            t[0] += x["steps"]; t[1] += x["overloads"]; t[2] += x["bound_steps"]; t[3] += x["above_bound"]
        for c in doc["calibration"]:
            bins = r["cal"].setdefault(c["resource"], [])
            for i, b in enumerate(c["bins"]):
                if i == len(bins):
                    bins.append([b["from"], b["to"], 0, 0.0, 0])
                bins[i][2] += b["steps"]
                bins[i][3] += (b["mean_predicted"] or 0) * b["steps"]
                bins[i][4] += b["overloads"]
        for row in doc["components"]:
            r["ncomps"].setdefault(row["resource"], set()).add(row["component"])
            for m, st in row["methods"].items():
                t = r["comp"].setdefault((row["resource"], m), [0, 0, 0.0])
                t[0] += st["steps"]; t[1] += st["violations"]; t[2] += st["mean_reserved"] * st["steps"]
    return r


def reliability(bins, part, res, ind):
    """The calibration table of one resource, and the host-overload line."""
    print("%s%-13s %7s %10s %9s  %s" % (ind, "P(overload)", "steps", "predicted", "observed", "within"))
    n = o = 0
    ps = 0.0
    for lo, hi, k, s, v in bins:
        n += k; o += v; ps += s
        if not k:
            continue
        pred, obs = s / k, v / k
        ok = max(0.0, 0.5 * pred - 0.01) <= obs <= 1.5 * pred + 0.01
        print("%s%-13s %7d %10s %9s  %s%s" % (ind, "[%g%%, %g%%%s" % (100 * lo, 100 * hi, "]" if hi >= 1 else ")"), k,
                                              pct(pred), pct(obs), "yes" if ok else "NO",
                                              " (under 20 steps)" if k < 20 else ""))
    if n:
        print("%s%-13s %7d %10s %9s" % (ind, "all", n, pct(ps / n), pct(o / n)))
    if part and part[0]:
        f = part[1] / part[0]
        print("%shost overloads %s of %d host-steps, target eps %g%%: %s (above the plan's bound: %s)" %
              (ind, pct(f), part[0], 100 * eps[res], verdict(f <= eps[res]), pct(part[3] / max(part[2], 1))))


def reserve(r, res, ind):
    rows = {m: t for (rr, m), t in r["comp"].items() if rr == res and t[0]}
    if "plan" not in rows:
        return
    dv, u = unit.get(res, (1.0, ""))
    ncomp = len(r["ncomps"].get(res, ()))
    print("%s%-31s %10s %14s" % (ind, "method", "violations", "reserved"))
    for m, label in METHODS:
        if m in rows:
            t = rows[m]
            # Mean reserved: the components' allocations summed, averaged over steps.
            print("%s%-31s %10s %8.2f %-5s" % (ind, label, pct(t[1] / t[0]), t[2] / t[0] * ncomp / dv, u))
    pl, vp, pk = rows["plan"], rows.get("vpa"), rows.get("static-peak")
    part = r["part"].get(res, [0, 0, 0, 0])
    goals = []
    if res == "cpu" and vp and pk:
        goals.append("reserved >= 10%% below VPA-like %s (%+.1f%%)" % (verdict(pl[2] <= 0.9 * vp[2]),
                                                                        100.0 * (pl[2] / vp[2] - 1)))
        goals.append("reserved >= 25%% below static peak %s (%+.1f%%)" % (verdict(pl[2] <= 0.75 * pk[2]),
                                                                           100.0 * (pl[2] / pk[2] - 1)))
    elif vp:
        goals.append("reserved <= VPA-like %s (%+.1f%%)" % (verdict(pl[2] <= vp[2]), 100.0 * (pl[2] / vp[2] - 1)))
    if vp:
        goals.append("fewer violation steps than VPA-like %s (%d vs %d)" % (verdict(pl[1] < vp[1]), pl[1], vp[1]))
    if part[0]:
        goals.append("host overloads <= eps %s" % verdict(part[1] / part[0] <= eps[res]))
    print("%stargets: %s" % (ind, "; ".join(goals)))


pooled = {}
for d in sorted(glob.glob(top + "/*/")):
    if not os.path.exists(os.path.join(d, "basis.json")):
        continue
    name = os.path.basename(d.rstrip("/"))
    basis = json.load(open(os.path.join(d, "basis.json")))
    print("%s: capacity basis per partition %s" %
          (name, ", ".join("%s %.2f %s" % (res, v / unit[res][0], unit[res][1]) for res, v in sorted(basis.items()))))
    for level, factor in levels:
        r = load(d, level)
        if not r["windows"]:
            print("  %s (%s x basis): nothing replayed" % (level, factor))
            continue
        print("  %s (%s x basis): %d plans written, %d needed --accept-risk, %d replayed; %d shortage reductions; "
              "%d partition-waves predicted above eps, %d of them sharing capacity" %
              (level, factor, r["plans"], r["accepted"], r["windows"], r["reductions"], r["risky"], r["risky_shared"]))
        for res in sorted(r["part"]):
            if not r["part"][res][0]:
                continue
            print("    %s, %d components, eps %g%%:" % (res, len(r["ncomps"].get(res, ())), 100 * eps[res]))
            reliability(r["cal"].get(res, []), r["part"][res], res, "      ")
            reserve(r, res, "      ")
            pl = pooled.setdefault((res, level), {"bins": [], "part": [0, 0, 0, 0], "sets": []})
            pl["sets"].append(name)
            for i, b in enumerate(r["cal"].get(res, [])):
                if i == len(pl["bins"]):
                    pl["bins"].append([b[0], b[1], 0, 0.0, 0])
                for j in (2, 3, 4):
                    pl["bins"][i][j] += b[j]
            pl["part"] = [a + b for a, b in zip(pl["part"], r["part"][res])]
print("pooled over the datasets:")
for res in sorted({res for res, _ in pooled}):
    for level, factor in levels:
        pl = pooled.get((res, level))
        if pl:
            print("  %s, %s (%s):" % (res, level, ", ".join(pl["sets"])))
            reliability(pl["bins"], pl["part"], res, "    ")
PY
