# plan --store: records plans in a git plan store.
DEMO="-i $TD/demo/inventory.json -s $TD/demo/schedule.json --now 2018-05-06T00:00:00Z"
run "plan --store creates the store" 2 plan $DEMO -f p1.json --store st && expect_err "serial 1\)"
expect_file st/HEAD
run "second plan increments the serial" 2 plan $DEMO -f p2.json --store st && expect_err "serial 2\)"
if git -C st log --format=%s | head -n 1 | grep -Eq '^plan kernel-2018-05 serial 2 window .* digest [0-9a-f]{64}$'; then ok; else name="commit message"; bad "bad commit message"; fi
if git -C st show HEAD:kernel-2018-05/plans/2.json | cmp -s - p2.json; then ok; else name="stored plan"; bad "stored plan differs from the written one"; fi
export ADPART_STORE=st2
name="stored summary"
if git -C st show HEAD:kernel-2018-05/plans/2.txt >summary.txt 2>&1 && grep -q "^Wave 1 " summary.txt &&
	grep -q "steps to apply" summary.txt && ! grep -q "$(printf '\033')" summary.txt; then ok
else bad "the human summary is not beside the plan: $(head -3 summary.txt)"; fi
run "ADPART_STORE is the default store" 2 plan $DEMO -f p3.json && expect_file st2/HEAD
unset ADPART_STORE
mkdir -p notgit && echo x >notgit/HEAD
run "a store that is not a repository is refused" 1 plan $DEMO -f p4.json --store notgit && expect_err "plan store 'notgit': not a valid git repository"
run "--no-write records nothing" 2 plan $DEMO --no-write --store st3 && expect_no_file st3

# history and show read the store made above (two plans in st).
run "history lists newest first" 0 history --store st && expect_out "^[0-9a-f]{12}  .*  plan kernel-2018-05 serial 2 "
if [ "$(wc -l <"$TMP/out")" -eq 2 ] && sed -n 2p "$TMP/out" | grep -q "serial 1 "; then ok; else name="history order"; bad "expected serial 2 then serial 1"; fi
run "history --output json" 0 history --store st -o json && expect_out '"summary": "plan kernel-2018-05 serial 1 '
run "history of a missing store" 1 history --store nosuch && expect_err "plan store 'nosuch' does not exist"
run "history without a store" 64 history && expect_err "--store or ADPART_STORE is required"
run "show a commit" 0 show --store st HEAD~1 && expect_out "^plan kernel-2018-05 serial 1 "
run "show SCHEDULE/SERIAL as json" 0 show --store st -o json kernel-2018-05/2
if cmp -s "$TMP/out" p2.json; then ok; else name="show json"; bad "show -o json differs from the plan file"; fi
run "show an unknown ref" 1 show --store st nope && expect_err "has no reference 'nope'"
run "show an unknown serial" 1 show --store st kernel-2018-05/9 && expect_err "has no plan 'kernel-2018-05/9'"
run "show needs a REF" 64 show --store st && expect_err "a REF is required"

# diff: the same inputs give the same waves; a plan of another schedule differs.
run "diff of equal plans" 0 diff --store st kernel-2018-05/1 kernel-2018-05/2 && expect_out "^0 changes from kernel-2018-05/1 to kernel-2018-05/2"
run "diff --output json of equal plans" 0 diff --store st -o json kernel-2018-05/1 kernel-2018-05/2 && expect_out '^\[\]$'
sed 's/"kernel-2018-05"/"kernel-b"/' "$TD/demo/schedule.json" >sb.json
# Without node-a in the update list the waves differ.
sed 's/"node-a",//' sb.json >sc.json
if cmp -s sb.json sc.json; then name="schedule edit"; bad "node-a not removed from the schedule"; else ok; fi
run "plan a smaller schedule" 2 plan -i "$TD/demo/inventory.json" -s sc.json --now 2018-05-06T00:00:00Z -f p5.json --store st
A=$(git -C st rev-parse HEAD~1) B=$(git -C st rev-parse HEAD)
run "diff across schedules shows wave changes" 2 diff --store st "$A" "$B" && expect_out "^  [-+~] wave wave 1"
run "diff json has ops" 2 diff --store st -o json "$A" "$B" && expect_out '"op": "[-+~]"'
# An input that changed is named first, and allocations are shown in units.
cp -r "$TD/demo" dd
run "plan before an input change" 2 plan -i dd/inventory.json -s dd/schedule.json --now 2018-05-06T00:00:00Z -f d1.json --store sd
sed 's/"scale": 0.0004/"scale": 0.0006/' dd/inventory.json >dd/inv2.json && mv dd/inv2.json dd/inventory.json
run "plan after it" 2 plan -i dd/inventory.json -s dd/schedule.json --now 2018-05-06T00:00:00Z -f d2.json --store sd
run "diff names the input that changed" 2 diff --store sd kernel-2018-05/1 kernel-2018-05/2
expect_out "^  ~ input .*dd/inventory.json: its content changed$"
if sed -n 1p "$TMP/out" | grep -q " input "; then ok; else name="diff order"; bad "the input is not the first change: $(sed -n 1p "$TMP/out")"; fi
expect_out "^  ~ allocation wave [0-9]+ mongo-01#[01]: cpu [0-9.]+ cores -> [0-9.]+ cores"
expect_out "^  ~ reservation wave [0-9]+ mongo-01#[01]: cpu [0-9.]+ cores -> [0-9.]+ cores"
run "diff json has the input" 2 diff --store sd -o json kernel-2018-05/1 kernel-2018-05/2 && expect_out '"what": "input"'
# The consolidation advice: none on the demo's 8 cores, some partitions
# on 12; the diff names each of the second plan's, and only those.
cp -r "$TD/demo" dc
run "plan on 8 cores" 2 plan -i dc/inventory.json -s dc/schedule.json --now 2018-05-06T00:00:00Z -f c1.json --store sc
sed 's/"cpu": 8,/"cpu": 12,/' dc/inventory.json >dc/inv2.json && mv dc/inv2.json dc/inventory.json
run "plan on 12 cores" 2 plan -i dc/inventory.json -s dc/schedule.json --now 2018-05-06T00:00:00Z -f c2.json --store sc
run "diff names the partitions that could now go empty" 2 diff --store sc kernel-2018-05/1 kernel-2018-05/2
name="diff: one line per partition the advice added"
want=$(/usr/bin/python3 -c 'import json, sys
a, b = (json.load(open(f))["consolidation"]["partitions"] for f in sys.argv[1:3])
print(" ".join(sorted(set(b) - set(a))))' c1.json c2.json)
got=$(sed -n 's/^  + consolidation \(node-[a-d]\): "could go empty"$/\1/p' "$TMP/out" | sort | tr '\n' ' ' | sed 's/ $//')
if [ -n "$want" ] && [ "$got" = "$want" ] && ! grep -q "^  - consolidation" "$TMP/out"; then ok; else bad "diff says '$got', the plans '$want'"; fi
run "diff with an unknown ref" 1 diff --store st kernel-2018-05/1 nope && expect_err "has no reference 'nope'"
run "diff needs two plans" 64 diff --store st kernel-2018-05/1 && expect_err "two plans A and B are required"
run "diff of a missing store" 1 diff --store nosuch a b && expect_err "plan store 'nosuch' does not exist"

# The plan file carries the store's lineage and serial, and still validates.
if grep -Eq '"serial": 2,?$' p2.json && grep -Eq '"lineage": "[0-9a-f-]{36}"' p2.json; then ok; else name="lineage in plan"; bad "p2.json lacks lineage or serial 2"; fi
run "a plan with lineage validates" 0 validate p2.json
run "plan without a store" 2 plan $DEMO -f p6.json && expect_file p6.json
if grep -q '"lineage"' p6.json; then name="no store, no lineage"; bad "p6.json has a lineage"; else ok; fi
sed 's/"serial": 2/"serial": 0/' p2.json >bad-serial.json
run "a serial below 1 is refused" 1 validate bad-serial.json && expect_err "serial"
