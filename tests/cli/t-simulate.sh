# simulate: replay actual load through a plan and the baselines.
DEMO="$TD/demo"
"$BIN" plan --inventory "$DEMO/inventory.json" --schedule "$DEMO/schedule.json" \
	--now 2018-05-06T00:00:00Z --plan-file "$TMP/sim-plan.json" >/dev/null 2>&1

# api-01's history goes past the window, so its steps there are counted.
run simulate-inventory 0 simulate "$TMP/sim-plan.json" --inventory "$DEMO/inventory.json" &&
	expect_out '^api-01 +cpu +plan +[1-9]' && expect_out 'BREACH' && expect_out 'static-peak' && expect_out 'vpa' &&
	expect_out 'reactive' && expect_out '^PARTITION +RESOURCE +STEPS +OVERLOADS +ABOVE-BOUND'

run simulate-json 0 simulate "$TMP/sim-plan.json" --inventory "$DEMO/inventory.json" -o json &&
	expect_out '"methods"' && expect_out '"mean_slack"' && expect_out '"guarantee_breaches"' &&
	expect_out '"partitions"' && expect_out '"mean_reserved"'

# Every component at 2 cores through the window: the partitions' totals
# are known, so overloads and the plan's bound can be counted.
/usr/bin/python3 -c '
import json, sys, datetime
p = json.load(open(sys.argv[1]))
comps = sorted({x["component"] for w in p["waves"] for x in w["placements"]})
t = datetime.datetime(2018, 5, 6, 0, 0, tzinfo=datetime.timezone.utc)
print("timestamp,component,resource,value")
while t < datetime.datetime(2018, 5, 6, 6, 0, tzinfo=datetime.timezone.utc):
    for c in comps:
        print("%s,%s,cpu,2" % (t.strftime("%Y-%m-%dT%H:%M:%SZ"), c))
    t += datetime.timedelta(minutes=5)' "$TMP/sim-plan.json" > "$TMP/flat.csv"
run simulate-partitions 0 simulate "$TMP/sim-plan.json" --history "$TMP/flat.csv" &&
	expect_out '^node-[a-d] +cpu +[1-9][0-9]* +[0-9]+ +[0-9]+ '
run simulate-partitions-json 0 simulate "$TMP/sim-plan.json" --history "$TMP/flat.csv" -o json &&
	expect_out '"overloads": [0-9]' && expect_out '"above_bound": [0-9]' && expect_out '"peak_utilisation": [0-9]'

run simulate-no-actuals 64 simulate "$TMP/sim-plan.json"
expect_err 'give the actual load with --history or --inventory'

run simulate-no-plan 64 simulate
expect_err 'name the plan to simulate'

run simulate-missing-plan 1 simulate "$TMP/nope.json" --history "$TMP/nope.csv"
expect_err '^adpart-update: .*nope\.json'

run simulate-missing-history 1 simulate "$TMP/sim-plan.json" --history "$TMP/nope.csv"
expect_err '^adpart-update: .*nope\.csv'

run simulate-bad-output 64 simulate "$TMP/sim-plan.json" --history x.csv -o yaml
expect_err "unknown output format 'yaml'"
