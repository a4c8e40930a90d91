#!/bin/sh
# Known events on a real trace (issue 21): NAB's nyc_taxi (passengers per
# 30 minutes, a load-like series) taken as one component's cpu (10,000
# passengers a core) and New Year's night, 2015-01-01 00:00-04:00 UTC, a
# surge the series' past nights never showed (three to eight times a
# winter weeknight). A window over that night is planned an hour before
# it, without the event and with it declared at a few multipliers an
# operator might guess, and the actual night is replayed through each
# plan (simulate): the steps where the load exceeded the allocation, the
# largest excess and the allocation's mean against the actual mean.
set -eu
BIN=$1
TOP=$(cd "$(dirname "$0")/.." && pwd)
SRC="$TOP/../shared/datasets/nab/realKnownCause/nyc_taxi.csv"
if [ ! -f "$SRC" ]; then
	echo "events: skipped ($SRC absent)"
	exit 0
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/adpart-events.XXXXXX")
trap "" EXIT
# History in the long CSV format, cores = passengers / 10,000.
awk -F, 'NR > 1 { sub(" ", "T", $1); printf "%sZ,taxi,cpu,%.4f\n", $1, $2 / 10000 }' "$SRC" >"$TMP/history.csv"
sed -i '1i timestamp,component,resource,value' "$TMP/history.csv"
cat >"$TMP/inventory.json" <<JSON
{"partitions": [{"name": "p1", "capacity": {"cpu": 32, "memory": "64GiB"}},
                {"name": "p2", "capacity": {"cpu": 32, "memory": "64GiB"}}],
 "components": [{"name": "taxi", "placement": ["p1"], "min": {"cpu": 0.125}}]}
JSON
# sched FILE [MULTIPLIER]
sched() {
	ev=""
	[ -n "${2:-}" ] && ev=", \"events\": [{\"start\": \"2015-01-01T00:00:00Z\", \"end\": \"2015-01-01T05:00:00Z\",
	  \"multiplier\": {\"cpu\": $2}, \"reason\": \"New Year's night\"}]"
	cat >"$1" <<JSON
{"name": "nye", "window": {"start": "2015-01-01T00:00:00Z", "end": "2015-01-01T04:00:00Z"}, "cutoff": "0s",
 "partitions": ["p1"], "max_concurrency": 1, "update_duration": {"default": "2h"}, "drain_duration": "30m",
 "verify_duration": "30m", "step": "30m", "period": "1d", "plan_ttl": "24h"$ev}
JSON
}
echo "events: NAB nyc_taxi as cpu (10,000 passengers a core), New Year's night 2015-01-01 00:00-04:00 UTC,"
echo "  planned at 2014-12-31T23:00:00Z and replayed against what happened"
printf '  %-30s %12s %14s %14s\n' "method" "violations" "worst excess" "reserved"
for m in none 2 3 4; do
	if [ "$m" = none ]; then sched "$TMP/s-$m.json"; else sched "$TMP/s-$m.json" "$m"; fi
	rc=0
	"$BIN" plan -i "$TMP/inventory.json" -s "$TMP/s-$m.json" -H "$TMP/history.csv" --now 2014-12-31T23:00:00Z \
		-f "$TMP/p-$m.json" >/dev/null 2>"$TMP/err-$m" || rc=$?
	if [ "$rc" -ne 2 ]; then
		echo "events: plan ($m) failed with $rc:" >&2
		cat "$TMP/err-$m" >&2
		exit 1
	fi
	"$BIN" simulate "$TMP/p-$m.json" -H "$TMP/history.csv" -o json >"$TMP/sim-$m.json"
	/usr/bin/python3 - "$TMP/sim-$m.json" "$m" <<'PY'
import json, sys
sim, m = json.load(open(sys.argv[1])), sys.argv[2]
c = next(c for c in sim["components"] if c["component"] == "taxi" and c["resource"] == "cpu")
rows = [("plan without the event" if m == "none" else "plan, event declared cpu x%s" % m, c["methods"]["plan"])]
if m == "none":
    rows += [("VPA-like", c["methods"]["vpa"]), ("static peak", c["methods"]["static-peak"])]
for label, x in rows:
    print("  %-30s %5d of %-4d %9.2f cores %8.2f cores" % (label, x["violations"], x["steps"], x["excess_max"],
                                                          x["mean_reserved"]))
PY
done
