# plan: the demo, exit codes, and each class of bad input.
DEMO_INV="$TD/demo/inventory.json"
DEMO_SCHED="$TD/demo/schedule.json"
NOW=2018-05-06T00:00:00Z

run "plan demo writes a plan" 2 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW -f plan.json
expect_out "^Wave 1 "
expect_out "^Wave 4 "
expect_out "All 4 waves end"
# A move shows what its new partition sets aside and the limit it may burst to.
expect_out "^    [a-z0-9-]+ +node-[a-d] +-> node-[a-d] +tier [0-9]  reserved [0-9.]+ cores, [0-9.]+ [MG]iB; limit [0-9.]+ cores, [0-9.]+ [MG]iB$"
expect_out "Plan written to plan.json"
if grep -q "forecasting" "$TMP/err"; then name="no progress off a terminal"; bad "progress written to a pipe"; else ok; fi
# The README's sample of this run is what the tool prints (less the lines
# it elides and the ones naming its own paths).
name="README sample"
sed -n "/^Plan 'kernel-2018-05'/,/^\`\`\`/p" "$TD/../README.md" | grep -v -e '\.\.\.' -e '^```' -e '^Plan written' -e '^next:' >"$TMP/sample"
missing=$(while IFS= read -r l; do [ -z "$l" ] || grep -Fxq -- "$l" "$TMP/out" || printf '%s\n' "$l"; done <"$TMP/sample")
if [ -s "$TMP/sample" ] && [ -z "$missing" ]; then ok; else bad "README lines the demo no longer prints: $missing"; fi
# On a terminal, the phases and the series forecast so far, on one line
# rewritten in place and cleared before the plan is shown.
name="progress on a terminal"
script -qec "'$BIN' plan -i '$DEMO_INV' -s '$DEMO_SCHED' --now $NOW --no-write" "$TMP/tty" >/dev/null 2>&1 # exit 2
if grep -q "reading history\.\.\." "$TMP/tty" && grep -Eq "forecasting: [0-9]+ of 29 series" "$TMP/tty" &&
	grep -q "forecasting: 29 of 29 series (100%)" "$TMP/tty" && grep -q "planning\.\.\." "$TMP/tty" &&
	grep -q "$(printf '\r\033')\[K.*Plan 'kernel-2018-05'" "$TMP/tty"; then ok
else bad "no progress on a terminal: $(tr '\r' '\n' <"$TMP/tty" | head -5)"; fi
expect_out "^next: adpart-update apply --dry-run plan.json \\(checks every step\\), then adpart-update apply plan.json$"
expect_file plan.json

# History that ends days before the plan is made: one risk line, the
# stalest series named.
sed 's/2018-05-06/2018-05-09/g' "$DEMO_SCHED" > later.json
run "stale history is a risk line" 2 plan -i "$DEMO_INV" -s later.json --now 2018-05-09T00:00:00Z --no-write
expect_out "^risk: stale history: [0-9]+ series end more than a period \\(24h\\) before the plan; the stalest, '[a-z0-9-]+' (cpu|memory), ends [0-9]+h before it \\(at 2018-05-0[0-9]T[0-9:]+Z\\): its forecast misses the latest days; refresh the history$"
run "fresh history is not" 2 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW --no-write
if grep -q "stale history" "$TMP/out"; then bad "a stale-history risk on fresh history"; else ok; fi

run "the written plan validates" 0 validate plan.json
expect_out "plan.json: valid plan 'kernel-2018-05' \\(format 1\\): 4 waves"

run "plan json output is the document" 2 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW --no-write -o json
expect_out '"format_version": 1'
expect_out '"digest": "[0-9a-f]{64}"'

run "plan is deterministic" 2 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW -f plan2.json
if cmp -s plan.json plan2.json; then ok; else bad "two plans from the same inputs differ"; fi

# A large plan is written gzip-compressed (auto, above 16 MiB of JSON);
# --compress chooses, and every command reads either.
run "--compress never leaves JSON" 2 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW --compress never -f plan-n.json
if cmp -s plan.json plan-n.json && ! grep -q "gzip" "$TMP/out"; then ok; else bad "auto or never changed the small plan"; fi
run "--compress always" 2 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW --compress always -f plan-z.json
expect_out "^The plan is gzip-compressed: [0-9.]+ KiB for [0-9.]+ KiB of JSON \(zcat shows it; every command reads it as it is\)\.$"
name="--compress always: gzip of the same document"
if gzip -dc plan-z.json | cmp -s - plan.json; then ok; else bad "gzip -dc plan-z.json is not plan.json"; fi
run "-q leaves the compression line out" 2 plan -q -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW --compress always -f plan-z.json
if grep -q "gzip" "$TMP/out"; then bad "said with -q"; else ok; fi
run "a compressed plan validates" 0 validate plan-z.json
expect_out "plan-z.json: valid plan 'kernel-2018-05' \(format 1\): 4 waves"
run "a compressed plan simulates" 0 simulate plan-z.json --inventory "$DEMO_INV"
run "--compress takes auto, always or never" 64 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW --compress yes
expect_err "--compress expects auto, always or never, not 'yes'"
head -c 600 plan-z.json >plan-cut.json
run "a truncated compressed plan" 1 validate plan-cut.json
expect_err "plan-cut.json': the gzip data is truncated"
/usr/bin/python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[-6] ^= 1; open(sys.argv[2], "wb").write(d)' \
	plan-z.json plan-crc.json
run "a corrupt compressed plan" 1 validate plan-crc.json
expect_err "plan-crc.json': corrupt gzip data"
run "apply refuses a corrupt compressed plan (exit 6)" 6 apply --dry-run plan-crc.json
expect_err "plan-crc.json"
# A small file that inflates past the plan limit (1 GiB; 100 KiB here,
# through the test hook) is refused without holding more than the limit,
# and a plan past it is never written.
head -c 300000 /dev/zero | tr '\0' ' ' | gzip -1 >bomb.json
ADPART_TEST_PLAN_MAX_KIB=100
export ADPART_TEST_PLAN_MAX_KIB
run "a compressed plan past the limit" 1 validate --kind plan bomb.json
expect_err "bomb.json': more than 100.0 KiB once uncompressed"
run "a plan past the limit is not written" 1 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW -f big.json
expect_err "the plan is [0-9.]+ KiB of JSON, more than the 100.0 KiB a plan may hold \(every reader refuses more\)"
expect_no_file big.json
unset ADPART_TEST_PLAN_MAX_KIB

run "no-write writes nothing" 2 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW --no-write -f nowrite.json
expect_no_file nowrite.json

run "missing inventory file" 1 plan -i missing.json -s "$DEMO_SCHED" --now $NOW
expect_err "^adpart-update: cannot open 'missing.json': No such file or directory$"

run "malformed JSON names line and column" 1 plan -i "$TD/bad/malformed.json" -s "$DEMO_SCHED" --now $NOW
expect_err "malformed.json:6:[0-9]+: malformed JSON"

run "wrong type names line and JSON path" 1 validate "$TD/bad/wrong-type.json"
expect_err "wrong-type.json:13: components\\[3\\]\\.min\\.cpu: expected a non-negative number or a quantity"

run "unknown partition in placement" 1 validate "$TD/bad/unknown-partition.json"
expect_err "unknown-partition.json:6: components\\[0\\]\\.placement\\[0\\]: unknown partition 'node-z'"

run "history for an unknown component" 1 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW -H "$TD/bad/unknown-component.csv"
expect_err "history names component 'no-such-component', which the inventory .* does not define"

run "bad timestamp on line 5" 1 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW -H "$TD/bad/bad-timestamp.csv"
expect_err "bad-timestamp.csv:5:1: timestamp: '2018-13-05T00:15:00Z' is not a valid time"

run "negative value on line 3" 1 validate "$TD/bad/negative.csv"
expect_err "negative.csv:3:4: value: -2 is out of range"

# Capacity exceeded: the same demo on partitions an eighth of the size.
sed 's/"cpu": 8,/"cpu": 1,/' "$DEMO_INV" > small.json
sed "s|\"history/|\"$TD/demo/history/|" small.json > small2.json
run "capacity exceeded is infeasible (exit 3)" 3 plan -i small2.json -s "$DEMO_SCHED" --now $NOW -f small-plan.json
expect_out "No plan fits"
expect_out "wave 1: partition 'node-[a-d]' cpu short by [0-9.]+ cores"
expect_out "fix: "
expect_err "no plan written"
expect_no_file small-plan.json

run "infeasible json lists shortfalls" 3 plan -i small2.json -s "$DEMO_SCHED" --now $NOW -o json
expect_out '"shortfalls": \['
expect_out '"missing": [0-9]'

# A window too short for the waves: timing shortfall with advice.
sed 's/"end": "2018-05-06T05:00:00Z"/"end": "2018-05-06T03:00:00Z"/' "$DEMO_SCHED" > short.json
run "waves past the cutoff are infeasible" 3 plan -i "$DEMO_INV" -s short.json --now $NOW
expect_out "timing: the waves need 3h15m but the window allows 1h30m before the cutoff: raise max_concurrency"

run "window already started" 1 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now 2018-05-06T02:00:00Z
expect_err "the window has already started"

run "nothing to update exits 0" 0 plan -i "$DEMO_INV" -s "$TD/demo/schedule-empty.json" --now $NOW --no-write
expect_out "All 0 waves end"

run "unknown option is a usage error" 64 plan --bogus
expect_err "unrecognized option"

run "plan needs inventory and schedule" 64 plan
expect_err "--inventory and --schedule are required"

run "bad --now" 64 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now yesterday
expect_err "--now 'yesterday' is not a time"

run "unknown output format" 64 plan -i "$DEMO_INV" -s "$DEMO_SCHED" -o yaml
expect_err "unknown output format 'yaml'"

run "unknown command" 64 frobnicate
expect_err "'frobnicate' is not a command"

run "writing into a missing directory fails cleanly" 1 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW -f no/such/dir/plan.json
expect_err "cannot create a file beside 'no/such/dir/plan.json'"

# The planner's schedule fields: each bad value names file, line and field.
# bad_field NAME FILE FIELD MESSAGE: the demo schedule with FIELD added
# (as FILE) is refused, and stderr says FILE:LINE: MESSAGE.
bad_field() {
	sed "s/\"period\": \"1d\"/\"period\": \"1d\",\\n  $3/" "$DEMO_SCHED" >"$2"
	run "$1" 1 plan -i "$DEMO_INV" -s "$2" --now $NOW --no-write
	expect_err "$2:[0-9]+: $4"
}
bad_field "max_per_zone below 1" zone0.json '"max_per_zone": 0' \
	"max_per_zone: expected at least 1 partition of a zone at a time"
bad_field "unknown start policy" start-bad.json '"start": "noon"' 'start: expected "lowest-risk" or "earliest"'
bad_field "unknown shortage policy" short-bad.json '"shortage": "ignore"' 'shortage: expected "share" or "refuse"'
bad_field "negative weight" w-bad.json '"weights": {"risk": -2}' "weights.risk: -2 is out of range"
bad_field "unknown weight" w-unknown.json '"weights": {"speed": 1}' "weights.speed: unknown field"

# The human output says when the waves start and whether rolling back fits.
run "plan shows its start choice, rollback check and cost" 2 plan -i "$DEMO_INV" -s "$DEMO_SCHED" --now $NOW --no-write
expect_out "^Start [0-9]{2}:[0-9]{2}: the least loaded of [0-9]+ candidate starts from 01:00"
expect_out "^Rollback: moving every replica back home fits"
expect_out "^Cost [0-9.]+: risk"

# Shortage shared: the demo on 3-core partitions fits only by cutting
# allocations, which the plan lists (human and json).
# A capacity too large for a plan to hold is refused where it is read
# (plan once wrote 1e308, which validate then refused).
sed '0,/"cpu": 8,/s//"cpu": 1e308,/' "$DEMO_INV" | sed "s|\"history/|\"$TD/demo/history/|" > huge.json
run "a capacity of 1e308 is refused" 1 plan -i huge.json -s "$DEMO_SCHED" --now $NOW --no-write
expect_err "huge.json:7: partitions\[0\].capacity.cpu: 1e\+308 is out of range: at most 1e\+18"
sed 's/"cpu": 8,/"cpu": 3,/' "$DEMO_INV" | sed "s|\"history/|\"$TD/demo/history/|" > tight.json
# A shared shortage breaks the promise where it is short: not written
# without --accept-risk, which the plan then records.
run "a shared shortage is a risk to accept" 3 plan -i tight.json -s "$DEMO_SCHED" --now $NOW --no-write
expect_err "cpu: predicted P\\(overload\\) [0-9.]+% on '[^']+' in wave [0-9]+, above epsilon 5.0% \\(a shortage shared: lower tiers cut\\)"
run "shortage is shared and listed" 2 plan -i tight.json -s "$DEMO_SCHED" --now $NOW --no-write --accept-risk
expect_out "^Shortage: [0-9]+ allocations? below the forecast"
expect_out "gets [0-9.]+ cores cpu of [0-9.]+ cores forecast \\([0-9.]+ cores less\\)"
run "shortage in json" 2 plan -i tight.json -s "$DEMO_SCHED" --now $NOW --no-write -o json --accept-risk
expect_out '"reductions": \['
expect_out '"granted": [0-9]'
sed 's/"period": "1d"/"period": "1d",\n  "shortage": "refuse"/' "$DEMO_SCHED" > refuse.json
run "shortage refused is infeasible" 3 plan -i tight.json -s refuse.json --now $NOW --no-write
expect_out "checked: " && expect_out "^Remedies:$" &&
	expect_out "^  more capacity: [0-9.]+ cores on 'node-a', .*: the plan fits \(planned again in full\)$"
# Advice that holds: each remedy listed, done to the inputs and planned
# again through the CLI, comes out as it says (a plan that fits; one said
# not to fit does not), at two capacities, and for a timing shortfall.
for cap in 3 6; do
	sed "s/\"cpu\": 8,/\"cpu\": $cap,/" "$DEMO_INV" | sed "s|\"history/|\"$TD/demo/history/|" >"rem-$cap.json"
	run "remedies listed at $cap cores" 3 plan -i "rem-$cap.json" -s refuse.json --now $NOW --no-write -o json
	cp "$TMP/out" "rem-$cap.out"
	name="remedies hold at $cap cores"
	res=$(/usr/bin/python3 "$TD/../tests/cli/check-remedies.py" "$BIN" "rem-$cap.json" refuse.json $NOW "rem-$cap.out")
	if printf '%s\n' "$res" | grep -q "^ok more capacity" && ! printf '%s\n' "$res" | grep -q "^BAD"; then ok
	else bad "$res"; fi
done
name="a confidence remedy that fits holds"
if printf '%s\n' "$res" | grep -q "^ok cpu confidence 0.[0-9]*: the plan fits"; then ok
else bad "no confidence remedy at 6 cores: $res"; fi

# The timing shortfall keeps the real wave times (no overlap) and checks a fix.
run "timing shortfall checks a higher concurrency" 3 plan -i "$DEMO_INV" -s short.json --now $NOW -o json
expect_out "checked: max_concurrency [0-9]+ fits the window"
cp "$TMP/out" short.out
name="the concurrency remedy holds: the waves fit the window, and the capacity is as it says"
sed "s|\"history/|\"$TD/demo/history/|" "$DEMO_INV" >demo-abs.json
res=$(/usr/bin/python3 "$TD/../tests/cli/check-remedies.py" "$BIN" demo-abs.json short.json $NOW short.out)
if printf '%s\n' "$res" | grep -q "^ok max_concurrency [0-9]*: the waves fit the window" &&
	! printf '%s\n' "$res" | grep -q "^BAD"; then ok; else bad "$res"; fi
/usr/bin/python3 -c '
import json, sys
w = json.load(open(sys.argv[1]))["waves"]
sys.exit(any(b["start"] < a["end"] for a, b in zip(w, w[1:])))' "$TMP/out" && ok || bad "infeasible waves overlap"

# A wave of many moves and partitions: the first moves and the riskiest
# rows, each list's rest counted; --detail shows every one.
/usr/bin/python3 - "$TD" <<'PY' >/dev/null
import json, sys
td = sys.argv[1]
parts = [{"name": "p%02d" % i, "zone": "z", "capacity": {"cpu": 8, "memory": "32GiB"}} for i in range(16)]
comps = [{"name": "c%02d" % i, "tier": i % 3, "replicas": 1, "placement": ["p00"], "min": {"cpu": 0.1, "memory": "64MiB"},
          "history": {"file": "%s/demo/history/api-01.csv" % td, "format": "columns", "delimiter": ",",
                      "time_column": "TimeStamp", "time_format": "rfc3339",
                      "columns": {"cpu": {"column": "Value", "scale": 0.002}, "memory": {"column": "Value", "scale": 1048576}}}}
         for i in range(20)]
json.dump({"partitions": parts, "components": comps}, open("many-inv.json", "w"))
json.dump({"name": "many", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
           "partitions": ["p00"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
           "plan_ttl": "24h", "period": "1d"}, open("many-sched.json", "w"))
PY
run "plan: a wave of 20 moves on 15 partitions is summarised" 2 plan -i many-inv.json -s many-sched.json \
	--now 2018-05-06T00:00:00Z --no-write && expect_out "^  moves \(20\):$" &&
	expect_out "^    \.\.\. and 14 more moves \(--detail shows every one\)$" &&
	expect_out "^  \.\.\. and 24 more partition rows, less at risk \(--detail shows every one\)$"
name="plan: the summary shows 6 moves and 6 rows"
if [ "$(grep -c '^    c[0-9][0-9] ' "$TMP/out")" -eq 6 ] && [ "$(grep -c '^  p[0-9][0-9] ' "$TMP/out")" -eq 6 ]; then ok; else
	bad "$(grep -c '^    c[0-9][0-9] ' "$TMP/out") moves, $(grep -c '^  p[0-9][0-9] ' "$TMP/out") rows"; fi
run "plan --detail shows every move and row" 2 plan -i many-inv.json -s many-sched.json \
	--now 2018-05-06T00:00:00Z --no-write --detail
name="plan --detail: 20 moves, 30 rows, nothing counted away"
if [ "$(grep -c '^    c[0-9][0-9] ' "$TMP/out")" -eq 20 ] && [ "$(grep -c '^  p[0-9][0-9] ' "$TMP/out")" -eq 30 ] &&
	! grep -q "more moves\|more partition rows" "$TMP/out"; then ok; else bad "not every line"; fi

# man(5)'s EXAMPLE: its inventory and schedule, read from the page, plan
# as they are, with 28 days of history made for them.
name="man(5) example"
MAN5="$TD/../man/adpart-update.5"
mkdir -p ex/history
sed -n '/^\.\\" BEGIN inventory.json/,/^\.\\" END/p' "$MAN5" | sed '1d;$d' >ex/inventory.json
sed -n '/^\.\\" BEGIN schedule.json/,/^\.\\" END/p' "$MAN5" | sed '1d;$d' >ex/schedule.json
awk 'BEGIN { print "time,cpu_cores,rss_kb"; t0 = 1525564800 - 28 * 86400
	for (i = 0; i < 28 * 288; i++) { t = t0 + 300 * i; d = (t % 86400) / 86400
		printf "%s,%.3f,%d\n", strftime("%Y-%m-%dT%H:%M:%SZ", t, 1), 1.2 + sin(6.283 * d), 1800000 + 2000 * (i % 50) } }' >ex/history/api.csv
awk 'BEGIN { print "t,cores,mib"; t0 = 1525564800 - 28 * 86400
	for (i = 0; i < 28 * 288; i++) printf "%d,%.2f,%d\n", t0 + 300 * i, 0.4 + 0.1 * (i % 7), 700 + i % 5 }' >ex/history/reports.csv
if [ -s ex/inventory.json ] && [ -s ex/schedule.json ]; then ok; else bad "no example found in $MAN5"; fi
run "the man(5) example validates" 0 validate -i ex/inventory.json ex/inventory.json ex/schedule.json
run "the man(5) example plans" 2 plan -i ex/inventory.json -s ex/schedule.json --now 2018-05-05T22:00:00Z -f ex/plan.json
expect_out "^Plan 'kernel-2018-05': window 2018-05-06T01:00:00\+02:00 to 05:00 \(Europe/Berlin; 23:00 to 03:00 UTC\), cutoff 04:30$"
expect_out "^Wave 3 "
sed 's/"columns": {"cpu": 2,/"columns": {"cpu": 0,/' ex/inventory.json >ex/bad.json
run "a column position from 0 is refused" 1 validate ex/bad.json
expect_err "ex/bad.json:21: components\[1\]\.history\.columns\.cpu: a column position counts from 1"

# Consolidation advice, on the demo's real series. On 12-core partitions
# some partitions could go empty for the window: taking them down with
# node-a in its one wave, planned again through the CLI, fits with the
# proof holding and nobody cut, at the same times; the advice's figures
# are the plan's partitions'. On the demo's 8 cores none could, and
# indeed node-a's wave with any other partition down too does not fit.
sed 's/"cpu": 8,/"cpu": 12,/' "$DEMO_INV" | sed "s|\"history/|\"$TD/demo/history/|" >con-12.json
sed "s|\"history/|\"$TD/demo/history/|" "$DEMO_INV" >con-8.json
/usr/bin/python3 - "$DEMO_SCHED" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["start"] = "earliest"
json.dump(s, open("con-four.json", "w"))
s.update(partitions=["node-a"], update_duration={"default": "40m"})
json.dump(s, open("con-one.json", "w"))
PY
run "consolidation advice on roomy partitions" 2 plan -i con-12.json -s con-one.json --now $NOW --no-write
expect_out "^Consolidation: partitions? 'node-[a-d]'((, | and )'node-[a-d]')* could go empty for the window: (its|their) [0-9]+ components? \([0-9]+ replicas?\) fits? on the others with worst P\(overload\) cpu [0-9.]+% <= 5\.0%, memory [0-9.]+% <= 1\.0% \([0-9.]+ cores, [0-9.]+ GiB freed; advice only\)\.$"
run "consolidation advice in json" 2 plan -i con-12.json -s con-one.json --now $NOW --no-write -o json
cp "$TMP/out" con-12.out
name="the advice's figures are its partitions'"
res=$(/usr/bin/python3 - con-12.out con-12.json con-one.json <<'PY'
import json, sys
p, inv, s = (json.load(open(f)) for f in sys.argv[1:4])
c = p["consolidation"]
assert c["checked"] is True and c["partitions"] and c["tried"] == c["candidates"] == 4, c
cap = {x["name"]: x["capacity"] for x in p["partitions"]}
for r in ("cpu", "memory", "io", "net"):
    assert abs(c["freed"][r] - sum(cap[v][r] for v in c["partitions"])) <= 1e-9 * max(1, c["freed"][r]), r
    assert c["worst_overload_probability"][r] <= 1 - p["schedule"]["confidence"][r] + 1e-9, r
homed = [x["name"] for x in inv["components"] for h in x["placement"] if h in c["partitions"]]
assert c["replicas"] == len(homed) and c["components"] == len(set(homed)), (c, homed)
s["partitions"] = ["node-a"] + [v for v in c["partitions"] if v != "node-a"]
s["max_concurrency"] = len(s["partitions"])
json.dump(s, open("con-together.json", "w"))
print(" ".join(s["partitions"]))
PY
) && ok || bad "$res"
run "taking them down with node-a fits ($res)" 2 plan -i con-12.json -s con-together.json --now $NOW --no-write -o json
name="with them down the proof holds, nobody is cut, at the same times"
/usr/bin/python3 -c 'import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert b["proof"]["holds"] and not b["reductions"] and len(b["waves"]) == 1
assert (a["waves"][0]["start"], a["waves"][0]["end"]) == (b["waves"][0]["start"], b["waves"][0]["end"])' \
	con-12.out "$TMP/out" && ok || bad "not as the advice says"
run "no consolidation on the demo's 8 cores" 2 plan -i con-8.json -s con-four.json --now $NOW --no-write
if grep -q "^Consolidation" "$TMP/out"; then bad "advice where none fits"; else ok; fi
run "none in json, every partition tried" 2 plan -i con-8.json -s con-four.json --now $NOW --no-write -o json
name="none in json, every partition tried"
/usr/bin/python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["consolidation"]
assert c["checked"] and c["partitions"] == [] and c["tried"] == c["candidates"] == 4, c' "$TMP/out" && ok ||
	bad "not a checked empty list"
for q in node-b node-c node-d; do
	/usr/bin/python3 -c 'import json, sys; s = json.load(open("con-one.json"))
s.update(partitions=["node-a", sys.argv[1]], max_concurrency=2); json.dump(s, open("con-two.json", "w"))' $q
	run "node-a's wave with $q down too does not fit, as the advice found" 3 plan -i con-8.json -s con-two.json \
		--now $NOW --no-write
done
