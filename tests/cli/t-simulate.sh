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

# Calibration: the plan edited (and re-sealed) to predict P(overload)
# 30% at even steps and 7% at odd ones for cpu, with every component at
# 1000 cores, so that every cpu host-step is over capacity: the [20%,
# 50%) and [5%, 10%) bins hold the even and odd steps, all overloads;
# memory has no actual load, so no bins. The expected counts are the
# plan's own (its online partitions' steps).
/usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
even = odd = 0
for w in p["waves"]:
    for u in w["utilisation"]:
        n = len(u["p50"])
        if u["resource"] == "cpu":
            u["overload_by_step"] = [0.3 if i % 2 == 0 else 0.07 for i in range(n)]
            u["overload_probability"] = 0.3 if n else 0
            even += (n + 1) // 2
            odd += n // 2
        else:
            u["overload_by_step"] = [0.005] * n
            u["overload_probability"] = 0.005 if n else 0
json.dump(p, open(sys.argv[2], "w"), indent=2)
open(sys.argv[3], "w").write("%d %d\n" % (even, odd))' "$TMP/sim-plan.json" "$TMP/calib-edit.json" "$TMP/calib-n"
"$(dirname "$BIN")/plan-reseal" "$TMP/calib-edit.json" "$TMP/calib-plan.json"
sed 's/,cpu,2$/,cpu,1000/' "$TMP/flat.csv" >"$TMP/huge.csv"
read -r even odd <"$TMP/calib-n"
run simulate-calibration 0 simulate "$TMP/calib-plan.json" --history "$TMP/huge.csv" &&
	expect_out '^RESOURCE +P\(OVERLOAD\) +STEPS +MEAN PRED +OVERLOADS +OBSERVED' &&
	expect_out "^cpu +\[20%, 50%\) +$even +30\.00% +$even +100\.00%" &&
	expect_out "^cpu +\[5%, 10%\) +$odd +7\.00% +$odd +100\.00%" &&
	expect_out "^cpu +all +$((even + odd)) +$((even + odd)) +100\.00%"
name="simulate-calibration: no memory bins without memory load"
if grep -q '^memory ' "$TMP/out"; then bad "memory bins"; else ok; fi
run simulate-calibration-json 0 simulate "$TMP/calib-plan.json" --history "$TMP/huge.csv" -o json
name="simulate-calibration-json: bins"
if /usr/bin/python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["calibration"]
even, odd = int(sys.argv[2]), int(sys.argv[3])
assert [x["resource"] for x in c] == ["cpu"], c
b = {(x["from"], x["to"]): x for x in c[0]["bins"]}
assert len(b) == 7 and c[0]["steps"] == even + odd and c[0]["overloads"] == even + odd
assert b[(0.2, 0.5)]["steps"] == even and b[(0.2, 0.5)]["overloads"] == even
assert abs(b[(0.2, 0.5)]["mean_predicted"] - 0.3) < 1e-9 and b[(0.2, 0.5)]["observed"] == 1
assert b[(0.05, 0.1)]["steps"] == odd and abs(b[(0.05, 0.1)]["mean_predicted"] - 0.07) < 1e-9
assert b[(0.0, 0.01)]["steps"] == 0 and b[(0.0, 0.01)]["mean_predicted"] is None
' "$TMP/out" "$even" "$odd"; then ok; else bad "calibration bins differ"; fi
# At 0 cores nothing is over capacity: the same bins, no overloads.
sed 's/,cpu,2$/,cpu,0/' "$TMP/flat.csv" >"$TMP/zero.csv"
run simulate-calibration-none 0 simulate "$TMP/calib-plan.json" --history "$TMP/zero.csv" &&
	expect_out "^cpu +\[20%, 50%\) +$even +30\.00% +0 +0\.00%"

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
