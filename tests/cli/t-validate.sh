# validate: inputs, plans, tampering, json output.
run "validate demo inputs" 0 validate "$TD/demo/inventory.json" "$TD/demo/schedule.json"
expect_out "inventory.json: valid inventory: 4 partitions, 12 components"
expect_out "schedule.json: valid schedule 'kernel-2018-05': 4 partitions, 1 at a time"

run "schedule against its inventory" 0 validate -i "$TD/demo/inventory.json" "$TD/demo/schedule.json"

sed 's/"node-d"$/"node-x"/' "$TD/demo/schedule.json" > sched-x.json
run "schedule naming an unknown partition" 1 validate -i "$TD/demo/inventory.json" sched-x.json
expect_err "sched-x.json:[0-9]+: partitions\\[3\\]: unknown partition 'node-x'"

run "validate json output" 1 validate -o json "$TD/demo/inventory.json" "$TD/bad/malformed.json"
expect_out '"valid": true'
expect_out '"valid": false'

"$BIN" plan -i "$TD/demo/inventory.json" -s "$TD/demo/schedule.json" --now 2018-05-06T00:00:00Z -f v.json >/dev/null
sed 's/"sha256": "\([0-9a-f]\)/"sha256": "0\1/; s/"sha256": "0\([0-9a-f]\{63\}\)[0-9a-f]"/"sha256": "0\1"/' v.json > tampered.json
run "an edited plan is refused" 1 validate tampered.json
expect_err "tampered.json:[0-9]+: digest: does not match the inputs listed"

# Edits that leave a well-formed plan are caught by the seal over the
# whole body: validate and apply --dry-run refuse each one (they passed
# when the digest covered the inputs only).
for edit in 'p["expires_at"] = "2099-01-01T00:00:00Z"' \
	'p["steps"][3]["target"] = p["steps"][3].get("target") or "node-a"; p["steps"][3]["timeout"] += 1' \
	'p["partitions"][0]["capacity"]["cpu"] *= 2' \
	'p["steps"] = p["steps"][:5]; p["rollback_steps"] = []' \
	'p.pop("seal")'; do
	/usr/bin/python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(p, open(sys.argv[3], "w"), indent=2)' v.json "$edit" edited.json
	run "an edited plan is refused: $edit" 1 validate edited.json
	expect_err "edited.json:([0-9]+:)? seal: (does not match the plan's content|missing)"
	run "apply --dry-run refuses it too: $edit" 6 apply --dry-run --now 2018-05-06T00:00:00Z edited.json
	expect_err "edited.json:([0-9]+:)? seal"
done
/usr/bin/python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))
json.dump(p, open(sys.argv[2], "w"), indent=4)' v.json reindented.json
run "a plan only re-indented still validates" 0 validate reindented.json

sed 's/"format_version": 1/"format_version": 99/' v.json > future.json
run "an unknown format version is refused" 1 validate future.json
expect_err "future.json:2: format_version: unsupported plan format 99"

head -c 2000 v.json > truncated.json
run "a truncated plan is refused" 1 validate truncated.json
expect_err "truncated.json:[0-9]+:[0-9]+: malformed JSON"

echo '{"hello": 1}' > what.json
run "unknown kind of file" 1 validate what.json
expect_err "cannot tell what this file is"

run "validate needs a file" 64 validate
expect_err "name at least one file"

# An inventory without zones gives a plan that reads back.
sed '/"zone":/d' "$TD/demo/inventory.json" | sed "s|\"history/|\"$TD/demo/history/|" > nozone.json
"$BIN" plan -i nozone.json -s "$TD/demo/schedule.json" --now 2018-05-06T00:00:00Z -f nozone-plan.json >/dev/null
run "a plan over partitions without zones validates" 0 validate nozone-plan.json
expect_out "valid plan"

# The planner's optional fields are checked too.
sed 's/"cpu": 8,/"cpu": 3,/' "$TD/demo/inventory.json" | sed "s|\"history/|\"$TD/demo/history/|" > tight-inv.json
"$BIN" plan -i tight-inv.json -s "$TD/demo/schedule.json" --now 2018-05-06T00:00:00Z -f tight.json --accept-risk >/dev/null
run "a plan with reductions validates" 0 validate tight.json
expect_out "valid plan .*[1-9][0-9]* reductions"
/usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1])); r = p["reductions"][0]; r["granted"] = r["wanted"] + 1
json.dump(p, open(sys.argv[2], "w"), indent=2)' tight.json greedy.json
run "a reduction granting more than wanted is refused" 1 validate greedy.json
expect_err "greedy.json:[0-9]+: reductions\\[0\\].granted: a reduction grants at most what was wanted"
/usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1])); p["waves"][0]["utilisation"][0]["overload_by_step"][0] = 1.5
json.dump(p, open(sys.argv[2], "w"), indent=2)' tight.json prob.json
run "an overload probability above 1 is refused" 1 validate prob.json
expect_err "prob.json:[0-9]+: waves\\[0\\].utilisation\\[0\\].overload_by_step\\[0\\]: expected a probability from 0 to 1"
/usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1])); p["waves"][0]["utilisation"][0]["at_confidence"] = [1]
json.dump(p, open(sys.argv[2], "w"), indent=2)' tight.json bound.json
run "a bound of the wrong length is refused" 1 validate bound.json
expect_err "bound.json:[0-9]+: waves\\[0\\].utilisation\\[0\\].at_confidence: expected an array of [0-9]+ numbers"
/usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1])); p["waves"][0]["absorbed"] = [{"component": "mongo-01", "replica": 0, "partition": "node-b"}]
json.dump(p, open(sys.argv[2], "w"), indent=2)' tight.json absorbed.json
run "an absorbed replica on an online partition is refused" 1 validate absorbed.json
expect_err "absorbed.json:[0-9]+: waves\\[0\\].absorbed\\[0\\].partition: an absorbed replica's partition must be offline in its wave"
/usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1])); del p["rollback_check"]["fits"]
json.dump(p, open(sys.argv[2], "w"), indent=2)' tight.json rb.json
run "a rollback check without its verdict is refused" 1 validate rb.json
expect_err "rb.json:[0-9]+: rollback_check: missing boolean field 'fits'"

# The proof: a plan whose predicted P(overload) is above epsilon (here
# edited in and re-sealed, as a planner mistake would write it) is
# reported by validate and refused by apply unless its risk was accepted.
RESEAL="$(dirname "$BIN")/plan-reseal"
# reseal_edit IN OUT CODE: the plan IN with the Python CODE applied to its
# document p, re-sealed into OUT (the unsealed edit is OUT.edit).
reseal_edit() {
	/usr/bin/python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(p, open(sys.argv[2], "w"), indent=2)' "$1" "$2.edit" "$3" && "$RESEAL" "$2.edit" "$2"
}
reseal_edit v.json risky.json '
u = p["waves"][0]["utilisation"][0]
u["overload_probability"] = 0.5
u["overload_by_step"] = [0.5 for _ in u["overload_by_step"]]'
run "validate reports a failing proof" 0 validate risky.json
expect_out "proof FAILS: apply refuses it"
run "apply refuses a plan whose proof fails" 6 apply --dry-run --now 2018-05-06T00:00:00Z risky.json
expect_err "the plan's proof fails .* its risk was not accepted"
reseal_edit risky.json accepted.json 'p["proof"]["risk_accepted"] = True'
run "validate says the risk was accepted" 0 validate accepted.json
expect_out "proof FAILS \(risk accepted\)"
run "apply takes a plan whose risk was accepted" 0 apply --dry-run --now 2018-05-06T00:00:00Z accepted.json
# Reservations: what each partition sets aside sums to at most its
# capacity in every wave the planner writes, each between the replica's
# guarantee and its limit; a plan where they do not (edited in and
# re-sealed) is refused by validate and apply, naming the wave, the
# partition and the sums; a reservation above its limit likewise.
name="reservations fit every partition and sit under their limits"
if /usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
cap = {x["name"]: x["capacity"] for x in p["partitions"]}
assert p["proof"]["reservations_fit"] is True
for w in p["waves"]:
    tot = {}
    for x in w["placements"]:
        for r, v in x["reservation"].items():
            assert 0 <= v <= x["allocation"][r] + 1e-9, (x, r)
            tot[(x["partition"], r)] = tot.get((x["partition"], r), 0) + v
    for (part, r), v in tot.items():
        assert cap[part][r] <= 0 or v <= cap[part][r] + 1e-9, (part, r, v)
' v.json; then ok; else bad "reservations"; fi
reseal_edit v.json overbooked.json '
w = p["waves"][1]
part = w["placements"][0]["partition"]
cap = [x for x in p["partitions"] if x["name"] == part][0]["capacity"]["cpu"]
for x in w["placements"]:
    if x["partition"] == part:
        x["reservation"]["cpu"] = x["allocation"]["cpu"] = cap
p["proof"]["risk_accepted"] = True'
run "validate refuses reservations over a capacity" 1 validate overbooked.json
expect_err "overbooked.json:[0-9]+: waves\[1\]\.placements: the cpu reservations on '[^']+' sum to [0-9.]+, above its capacity [0-9.]+: no host can honour them"
run "apply refuses them, even with the risk accepted" 6 apply --dry-run --now 2018-05-06T00:00:00Z overbooked.json
expect_err "no host can honour them"
reseal_edit v.json overlimit.json '
x = p["waves"][0]["placements"][0]
x["reservation"]["memory"] = x["allocation"]["memory"] * 2'
run "a reservation above its limit is refused" 1 validate overlimit.json
expect_err "overlimit.json:[0-9]+: waves\[0\]\.placements\[0\]\.reservation\.memory: a reservation of [0-9.e+]+ is above the allocation"
reseal_edit v.json overguarantee.json '
x = p["waves"][0]["placements"][0]
x["guarantee"] = dict((r, 0) for r in x["reservation"])
x["guarantee"]["cpu"] = x["reservation"]["cpu"] + 1'
run "a guarantee above its reservation is refused" 1 validate overguarantee.json
expect_err "overguarantee.json:[0-9]+: waves\[0\]\.placements\[0\]\.guarantee\.cpu: a guarantee of [0-9.e+]+ is above the reservation"
# Consolidation advice that does not hold together (edited in and
# re-sealed): a partition the plan does not have, a capacity freed that
# is not theirs, a P(overload) above epsilon, every partition emptied.
name="a plan that fits records whether partitions could go empty"
if /usr/bin/python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["consolidation"]
assert c["checked"] is True and isinstance(c["partitions"], list) and c["tried"] <= c["candidates"] == 4' v.json
then ok; else bad "no consolidation block in v.json"; fi
reseal_edit v.json consol-unknown.json '
c = p["consolidation"]; c["partitions"] = ["node-x"]'
run "consolidation naming an unknown partition is refused" 1 validate consol-unknown.json
expect_err "consol-unknown.json:[0-9]+: consolidation\.partitions\[0\]: partition 'node-x' is not among the plan's partitions"
reseal_edit v.json consol-freed.json '
c = p["consolidation"]; c["partitions"] = ["node-b"]; c["tried"] = max(c["tried"], 1)
c["freed"] = {"cpu": 16, "memory": 34359738368, "io": 400000000, "net": 125000000}'
run "consolidation freeing more than the partitions' capacity is refused" 1 validate consol-freed.json
expect_err "consol-freed.json:[0-9]+: consolidation\.freed\.cpu: 16 is not the capacity of the partitions listed \(8\)"
reseal_edit v.json consol-risky.json '
c = p["consolidation"]; c["partitions"] = ["node-b"]; c["tried"] = max(c["tried"], 1)
c["freed"] = [x for x in p["partitions"] if x["name"] == "node-b"][0]["capacity"]
c["worst_overload_probability"]["cpu"] = 0.3'
run "consolidation above epsilon is refused" 1 validate consol-risky.json
expect_err "consol-risky.json:[0-9]+: consolidation\.worst_overload_probability\.cpu: 0\.3 is above epsilon 0\.05: the proof would not hold"
reseal_edit v.json consol-all.json '
c = p["consolidation"]; c["partitions"] = [x["name"] for x in p["partitions"]]; c["tried"] = c["candidates"]'
run "consolidation emptying every partition is refused" 1 validate consol-all.json
expect_err "consol-all.json:[0-9]+: consolidation\.partitions: not every partition can go empty"
run "apply refuses such a plan too" 6 apply --dry-run --now 2018-05-06T00:00:00Z consol-all.json
expect_err "consol-all.json:[0-9]+: consolidation\.partitions: not every partition can go empty"
# validate refuses what apply would refuse as stale: a plan whose input
# changed since it was made, or is gone.
cp "$TD/demo/schedule.json" sched-own.json
"$BIN" plan -i "$TD/demo/inventory.json" -s sched-own.json --now 2018-05-06T00:00:00Z -f own.json >/dev/null
run "a plan whose inputs are unchanged validates" 0 validate own.json
printf '\n' >> sched-own.json
run "validate refuses a plan whose schedule changed" 1 validate own.json
expect_err "own.json: stale plan: schedule 'sched-own.json' changed since the plan was made: plan again"
rm sched-own.json
run "validate refuses a plan whose schedule is gone" 1 validate own.json
expect_err "stale plan: schedule 'sched-own.json' cannot be read"
run "a plan that holds says so" 0 validate v.json
expect_out "proof holds"
name="the plan's top level carries the proof"
if /usr/bin/python3 -c 'import json, sys; p = json.load(open(sys.argv[1])); sys.exit(not (p["proof"]["holds"] is True and p["proof"]["risk_accepted"] is False and len(p["proof"]["resources"]) >= 2))' v.json; then ok; else bad "no proof at the top"; fi
