# accuracy: what apply observed against what the plans predicted, from
# run records in files or a plan store: two windows applied through the
# exec driver, one whose usage stayed under the forecast and one far
# above it, each figure checked per window and pooled.

. "$TOP/tests/cli/lib.sh"
AC="$TMP/accuracy"
mkdir -p "$AC"
cli_web_inventory "$AC/inv.json"
cli_schedule "$AC/sched.json" acc node-a "$AC/updates.log"
# ac_hook NAME CPU: a hook whose samples report CPU cores and 1 MiB.
ac_hook() {
	printf '#!/bin/sh\ncat >/dev/null\n[ "$1" = sample ] && echo %s\nexit 0\n' "'{\"cpu\": $2, \"memory\": 1048576}'" >"$AC/$1"
	chmod 755 "$AC/$1"
}
ac_hook low 0.001
ac_hook high 50
ac_window() {
	"$BIN" plan --driver exec -i "$AC/inv.json" -s "$AC/sched.json" --now 2018-05-06T00:00:00Z --store "$AC/store" \
		-f "$AC/$1.json" >/dev/null 2>&1
	"$BIN" apply --driver exec --hook "$AC/$2" --now "$(cli_plan_start "$AC/$1.json")" --store "$AC/store" \
		-d "$AC/st-$1" "$AC/$1.json" >/dev/null 2>&1
}
ac_window w1 low
ac_window w2 high
name="accuracy: two windows applied and recorded in the store"
if [ "$(jq -r .outcome "$AC/st-w1/run.json") $(jq -r .outcome "$AC/st-w2/run.json")" = "done done" ]; then ok; else
	bad "outcomes $(jq -r .outcome "$AC/st-w1/run.json") $(jq -r .outcome "$AC/st-w2/run.json")"; fi

run "accuracy: every run of the store, oldest first" 0 accuracy --store "$AC/store" &&
	expect_out "^Window 1: acc/1 \\(success\\)|^Window 1: acc/1 \\(done\\)" && expect_out "^Window 2: acc/2" &&
	expect_out "^All 2 windows"
run "accuracy -o json" 0 accuracy --store "$AC/store" -o json
name="accuracy: usage under the forecast covers, far above it does not; pooled is the share"
if jq -e '
	(.windows[0].rows[] | select(.resource == "cpu") | .coverage_p95 == 1 and .coverage_p50 == 1 and .above_alloc == 0 and .bias_p50 < -0.9) and
	(.windows[1].rows[] | select(.resource == "cpu") | .coverage_p95 == 0 and .above_alloc == 1 and .bias_p50 > 10) and
	(.pooled.rows[] | select(.resource == "cpu") | .coverage_p95 == 0.5)' \
	"$TMP/out" >/dev/null; then ok; else bad "$(jq -c '[.windows[].rows[] | select(.resource == "cpu")], .pooled' "$TMP/out")"; fi
name="accuracy: every window has samples, the pooled row counts them all"
if [ "$(jq '[.windows[].rows[] | select(.resource == "cpu") | .samples] | add' "$TMP/out")" = \
	"$(jq '.pooled.rows[] | select(.resource == "cpu") | .samples' "$TMP/out")" ] &&
	[ "$(jq '.windows[0].rows[] | select(.resource == "cpu") | .samples' "$TMP/out")" -gt 0 ]; then ok; else
	bad "$(jq -c .pooled "$TMP/out")"; fi
name="accuracy: a constant series has no naive scale: MASE null, not a division by zero"
if [ "$(jq '.windows[0].rows[] | select(.resource == "cpu") | .mase_p50' "$TMP/out")" = null ]; then ok; else
	bad "$(jq -c '.windows[0].rows' "$TMP/out")"; fi
run "accuracy: run record files" 0 accuracy "$AC/st-w1/run.json" "$AC/st-w2/run.json" -o json
name="accuracy: the files give the store's figures"
if [ "$(jq -c .pooled.rows "$TMP/out")" != "" ] &&
	[ "$(jq '.pooled.rows[] | select(.resource == "cpu") | .coverage_p95' "$TMP/out")" = 0.5 ]; then ok; else bad "$(cat "$TMP/out")"; fi
run "accuracy --schedule filters the store" 1 accuracy --store "$AC/store" --schedule other &&
	expect_err "no run records in the store '$AC/store' for schedule other"

# --- the feedback loop: the next plan's bands from the past windows --------
run "accuracy: the next plan reads the past windows in the store" 2 plan --driver exec -i "$AC/inv.json" \
	-s "$AC/sched.json" --now 2018-05-06T00:00:00Z --store "$AC/store" -f "$AC/w3.json" &&
	expect_out "^Feedback from 2 past windows \(apply's samples against their p95\): .*web cpu x2.00 \(50% of [0-9]+ above\)"
run "accuracy: and without them" 2 plan --driver exec -i "$AC/inv.json" -s "$AC/sched.json" \
	--now 2018-05-06T00:00:00Z --no-feedback -f "$AC/w3-nofb.json"
name="accuracy: a band missed half the time widens to the bound, one never missed narrows a little"
if jq -e '(.feedback[] | select(.resource == "cpu") | .scale > 1.99 and .scale < 2.01 and .windows == 2 and .above_p95 == 0.5) and
	(.feedback[] | select(.resource == "memory") | .scale < 1 and .scale > 0.9 and .above_p95 == 0)' \
	"$AC/w3.json" >/dev/null; then ok; else bad "$(jq -c .feedback "$AC/w3.json")"; fi
name="accuracy: the widened band is what the plan monitors and allocates: a higher cpu p95 for web, no less allocated"
p_fb=$(jq '[.waves[].placements[] | select(.component == "web") | .p95_peak.cpu] | max' "$AC/w3.json")
p_no=$(jq '[.waves[].placements[] | select(.component == "web") | .p95_peak.cpu] | max' "$AC/w3-nofb.json")
a_fb=$(jq '[.waves[].placements[] | select(.component == "web") | .allocation.cpu] | max' "$AC/w3.json")
a_no=$(jq '[.waves[].placements[] | select(.component == "web") | .allocation.cpu] | max' "$AC/w3-nofb.json")
if [ "$(jq -n "$p_fb > $p_no * 1.2 and $a_fb >= $a_no")" = true ] &&
	[ "$(jq 'has("feedback")' "$AC/w3-nofb.json")" = false ]; then ok; else
	bad "p95 with feedback $p_fb, without $p_no; allocation $a_fb, $a_no"; fi
run "accuracy: a plan with feedback reads back (show)" 0 show "$AC/w3.json" && expect_out "^Feedback from 2 past windows"

# --- mistakes ------------------------------------------------------------------
# (run passes its arguments to the binary: the variable is unset around it)
if [ -n "${ADPART_STORE+set}" ]; then saved_store=$ADPART_STORE; unset ADPART_STORE; fi
run "accuracy without input" 64 accuracy && expect_err "name run records \(run.json\), or a plan store with --store"
if [ -n "${saved_store+set}" ]; then ADPART_STORE=$saved_store; export ADPART_STORE; unset saved_store; fi
run "accuracy: files and --store exclude each other" 64 accuracy --store "$AC/store" "$AC/st-w1/run.json"
run "accuracy: --schedule needs --store" 64 accuracy --schedule acc "$AC/st-w1/run.json"
run "accuracy: a plan is no run record" 1 accuracy "$AC/w1.json" && expect_err "$AC/w1.json: not a run record"
printf '{"steps": [' >"$AC/cut.json"
run "accuracy: a truncated record names the file and line" 1 accuracy "$AC/cut.json" && expect_err "cut.json:1:"
jq 'del(.observations)' "$AC/st-w1/run.json" >"$AC/noobs.json"
run "accuracy: a record without samples says why" 1 accuracy "$AC/noobs.json" &&
	expect_err "no step-boundary samples in 1 run record"
run "accuracy: a missing file" 1 accuracy "$AC/nope.json" && expect_err "nope.json"
