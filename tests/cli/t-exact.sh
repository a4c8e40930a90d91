# plan --exact: every wave solved by the MILP too, the gap reported, the
# better placement kept, and bad limits refused.
EX_INV="$TD/demo/inventory.json"
EX_SCHED="$TD/demo/schedule.json"
EX_NOW=2018-05-06T00:00:00Z

run "plan --exact writes a plan" 2 plan -i "$EX_INV" -s "$EX_SCHED" --now $EX_NOW --exact=5 -f exact-plan.json
expect_out "^  exact: (optimal|feasible) in [0-9.]+s, cost [0-9.e+-]+ \\(heuristic [0-9.e+-]+\\), optimality gap [0-9.]+%"
if [ "$(grep -c '^  exact: ' "$TMP/out")" -eq 4 ]; then ok; else bad "expected one exact line per wave"; fi

run "the exact plan validates" 0 validate exact-plan.json

# Each wave's verdict: kept cost no worse than the heuristic's, gap from
# the bound, and the placements still one per replica.
if /usr/bin/python3 - exact-plan.json <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
for w in p["waves"]:
    e = w["exact"]
    assert e["status"] in ("optimal", "feasible"), e
    assert e["objective"] <= e["heuristic_objective"] + 1e-6, e
    assert e["bound"] <= e["objective"] + 1e-6, e
    assert 0 <= e["gap"] <= 1, e
    if e["replaced"]:
        assert e["heuristic_objective"] is None or e["objective"] < e["heuristic_objective"], e
    else:
        assert abs(e["objective"] - e["heuristic_objective"]) <= 1e-6, e
    seen = set()
    for x in w["placements"]:
        key = (x["component"], x["replica"])
        assert key not in seen, key
        seen.add(key)
        assert x["partition"] not in w["offline"], x
PY
then ok; else bad "exact verdicts in the plan are inconsistent"; fi

run "without --exact no verdict is written" 2 plan -i "$EX_INV" -s "$EX_SCHED" --now $EX_NOW --no-write -o json
if grep -q '"exact"' "$TMP/out"; then bad "exact object without --exact"; else ok; fi

run "--exact=0 is refused" 64 plan -i "$EX_INV" -s "$EX_SCHED" --now $EX_NOW --exact=0
expect_err "--exact=SECONDS expects a time limit from 0.001 to 3600 seconds, not '0'"

run "--exact=soon is refused" 64 plan -i "$EX_INV" -s "$EX_SCHED" --now $EX_NOW --exact=soon
expect_err "not 'soon'"

# Partitions an eighth of the size: the MILP cannot make it fit either,
# and says so per wave; the shortfalls are still reported.
sed 's/"cpu": 8,/"cpu": 1,/' "$EX_INV" | sed "s|\"history/|\"$TD/demo/history/|" > exact-small.json
run "exact mode does not hide an infeasible plan" 3 plan -i exact-small.json -s "$EX_SCHED" --now $EX_NOW --exact=2 --no-write
expect_out "^  exact: infeasible in "
expect_out "No plan fits"
