# apply --driver exec: a real hook program carried through a whole plan
# made by `plan`, a crash and --resume, a failing act and its rollback,
# --rollback, and the mistakes a user makes with --hook.

. "$TOP/tests/cli/lib.sh"
EX="$TMP/exec"
mkdir -p "$EX"
EXNOW="--now 2018-05-06T00:00:00Z"
cli_web_inventory "$EX/inv.json"
cat >"$EX/sched.json" <<JSON
{"name": "x", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": ["node-a"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "plan_ttl": "24h", "period": "1d"}
JSON
# The hook: one line per call ("PHASE ID ACTION") in $HOOK_CALLS; an act
# of $HOOK_FAIL fails; a sample reports the placement's median forecast
# (times $HOOK_SAMPLE_SCALE when set).
cat >"$EX/hook" <<'HOOK'
#!/usr/bin/python3
import json, os, sys
phase = sys.argv[1]
doc = json.load(sys.stdin)
step = doc.get('step') or {}
with open(os.environ['HOOK_CALLS'], 'a') as f:
    f.write('%s %s %s\n' % (phase, step.get('id', '-'), step.get('action', '-')))
if phase == 'act' and step.get('action') == os.environ.get('HOOK_FAIL'):
    print('cannot ' + step['action'], file=sys.stderr)
    sys.exit(2)
if phase == 'sample':
    p = doc['placement']['p50_peak']
    k = float(os.environ.get('HOOK_SAMPLE_SCALE', '1'))
    print(json.dumps({'cpu': p['cpu'] * k, 'memory': p['memory'] * k}))
elif phase == 'act':
    print('did ' + step['action'])
HOOK
chmod 755 "$EX/hook"
HOOK_CALLS="$EX/calls"
export HOOK_CALLS
run "exec: plan --driver exec is an ordinary plan" 2 plan --driver exec -i "$EX/inv.json" -s "$EX/sched.json" $EXNOW \
	-f "$EX/plan.json" && expect_out "15 steps to apply, 9 to roll back"
# apply runs at the plan's start: no earlier, as the forecast is for then.
EXSTART=$(cli_plan_start "$EX/plan.json")
EXAT="--now $EXSTART"
EXAPPLY="apply --driver exec --hook $EX/hook $EXAT -d $EX/st"
# The forward steps of the plan, as the hook should see them.
/usr/bin/python3 -c 'import json, sys
for s in json.load(open(sys.argv[1]))["steps"]: print("act", s["id"], s["action"])' "$EX/plan.json" >"$EX/want"
# ex_acts FILE: the act lines of the calls, in order.
ex_acts() { grep '^act ' "$HOOK_CALLS" >"$1"; }
ex_same() {
	name=$1
	if cmp -s "$2" "$3"; then ok; else bad "hook saw: $(tr '\n' ';' <"$2") expected: $(tr '\n' ';' <"$3")"; fi
}

# --- a whole apply -------------------------------------------------------------
rm -rf "$EX/st" "$HOOK_CALLS"
run "exec: apply through the hook" 0 $EXAPPLY "$EX/plan.json" && expect_out "applied: 15 steps done"
name="exec: the hook's first call is check"
if [ "$(head -n 1 "$HOOK_CALLS")" = "check - -" ]; then ok; else bad "first call: $(head -n 1 "$HOOK_CALLS")"; fi
ex_acts "$EX/got"
ex_same "exec: the hook saw every step in order" "$EX/got" "$EX/want"
name="exec: monitoring sampled through the hook"
if grep -q '^sample ' "$HOOK_CALLS"; then ok; else bad "no sample call"; fi
name="exec: the act's first stdout line is the step's message"
if grep -q '"did run_update"' "$EX/st/run.json"; then ok; else bad "run record lacks the hook's message"; fi

# --- borrowing needs a driver that sets limits: the exec driver records -------
rm -rf "$EX/st" "$HOOK_CALLS"
HOOK_SAMPLE_SCALE=20 run "exec: apply --on-deviation borrow, usage far above the band" 0 $EXAPPLY \
	--on-deviation borrow "$EX/plan.json" && expect_out "applied: 15 steps done"
name="exec: the deviation is recorded as borrow, with nothing borrowed"
if grep -q '"decision": "borrow"' "$EX/st/run.json" &&
	grep -q '"message": "the driver cannot set limits: nothing borrowed"' "$EX/st/run.json"; then ok; else
	bad "run record lacks the borrow decision"; fi
run "exec: an unknown deviation policy is refused" 64 $EXAPPLY --on-deviation lend "$EX/plan.json"
expect_err "unknown policy 'lend': expected warn, grow, borrow or rollback"
run "exec: --request-socket is refused: the exec driver takes no requests" 64 $EXAPPLY --request-socket "$EX/req.sock" \
	"$EX/plan.json" && expect_err "--request-socket: the exec driver cannot tell a component's processes"

# --- the same plan written gzip-compressed: applied and shown as it is ------------
run "exec: plan --compress always" 2 plan --driver exec -i "$EX/inv.json" -s "$EX/sched.json" $EXNOW \
	--compress always -f "$EX/plan.gz.json" && expect_out "^The plan is gzip-compressed: "
name="exec: the compressed plan is the JSON plan, gzip'd"
if [ "$(head -c 2 "$EX/plan.gz.json" | od -An -tx1 | tr -d ' ')" = 1f8b ] &&
	gzip -dc "$EX/plan.gz.json" | cmp -s - "$EX/plan.json"; then ok; else bad "not the same document"; fi
rm -rf "$EX/st" "$HOOK_CALLS"
run "exec: apply of the compressed plan" 0 $EXAPPLY "$EX/plan.gz.json" && expect_out "applied: 15 steps done"
ex_acts "$EX/got"
ex_same "exec: the compressed plan ran the same steps" "$EX/got" "$EX/want"
run "exec: show a compressed plan" 0 show "$EX/plan.gz.json" && expect_out "15 steps to apply, 9 to roll back"
run "exec: report a compressed plan" 0 report "$EX/plan.gz.json" -O "$EX/gz.html" && expect_file "$EX/gz.html"
rm -rf "$EX/st" "$HOOK_CALLS"

# --- killed mid-way, then resumed ----------------------------------------------
rm -rf "$EX/st" "$HOOK_CALLS"
ADPART_TEST_CRASH_AFTER_STEP=5
export ADPART_TEST_CRASH_AFTER_STEP
run "exec: apply killed after step 5" 137 $EXAPPLY "$EX/plan.json"
unset ADPART_TEST_CRASH_AFTER_STEP
ex_acts "$EX/got1"
head -n 5 "$EX/want" >"$EX/want1"
ex_same "exec: steps 1 to 5 ran before the crash" "$EX/got1" "$EX/want1"
rm -f "$HOOK_CALLS"
run "exec: --resume finishes it" 0 $EXAPPLY --resume "$EX/plan.json" && expect_out "applied: 15 steps done"
ex_acts "$EX/got2"
tail -n +6 "$EX/want" >"$EX/want2"
ex_same "exec: --resume ran steps 6 to 15, none twice" "$EX/got2" "$EX/want2"

# --- a failing act rolls back ----------------------------------------------------
rm -rf "$EX/st" "$HOOK_CALLS"
HOOK_FAIL=run_update
export HOOK_FAIL
run "exec: a failing act rolls back (exit 4)" 4 $EXAPPLY "$EX/plan.json" &&
	expect_err "completed steps were rolled back"
unset HOOK_FAIL
# After run_update (step 9), the inverses of steps 8 to 1 that have one.
printf '%s\n' "act 8 start_original" "act 7 undrain" "act 6 restore_traffic" "act 4 restore_traffic" \
	"act 2 stop_shadow" "act 1 remove_partition" >"$EX/want3"
sed -n '/^act 9 run_update$/,$p' "$HOOK_CALLS" | grep '^act ' | tail -n +2 >"$EX/got3"
ex_same "exec: the hook saw the inverse actions in reverse order" "$EX/got3" "$EX/want3"
name="exec: the hook's stderr is in the state dir's log"
if grep -q "cannot run_update" "$EX/st/logs/hook.log"; then ok; else bad "logs/hook.log lacks the hook's stderr"; fi
name="exec: run record"
if grep -q 'exit status 2' "$EX/st/run.json"; then ok; else bad "run.json lacks the hook's exit status"; fi

# --- --rollback after a crash ------------------------------------------------------
rm -rf "$EX/st" "$HOOK_CALLS"
ADPART_TEST_CRASH_AFTER_STEP=4
export ADPART_TEST_CRASH_AFTER_STEP
run "exec: apply killed after step 4" 137 $EXAPPLY "$EX/plan.json"
unset ADPART_TEST_CRASH_AFTER_STEP
rm -f "$HOOK_CALLS"
run "exec: --rollback undoes the journaled steps" 4 $EXAPPLY --rollback "$EX/plan.json"
printf '%s\n' "act 4 restore_traffic" "act 2 stop_shadow" "act 1 remove_partition" >"$EX/want4"
ex_acts "$EX/got4"
ex_same "exec: --rollback ran the inverses through the hook" "$EX/got4" "$EX/want4"

# --- a hook that refuses the plan ----------------------------------------------------
printf '#!/bin/sh\necho "no such cluster" >&2\nexit 1\n' >"$EX/refuse"
chmod 755 "$EX/refuse"
rm -rf "$EX/st"
run "exec: a hook refusing the check changes nothing (exit 6)" 6 apply --driver exec --hook "$EX/refuse" $EXAT \
	-d "$EX/st" "$EX/plan.json" && expect_err "hook check refused the plan: exit status 1"

# --- what a user gets wrong -------------------------------------------------------------
run "exec: --driver exec without --hook" 64 apply --driver exec "$EX/plan.json" &&
	expect_err "--driver exec needs --hook PATH"
run "exec: --hook without --driver exec" 64 apply --hook "$EX/hook" "$EX/plan.json" &&
	expect_err "--hook is for --driver exec"
run "exec: --hook without a value" 64 apply --driver exec "$EX/plan.json" --hook
run "exec: a hook that does not exist" 1 apply --driver exec --hook "$EX/nope" $EXAT -d "$EX/st" "$EX/plan.json" &&
	expect_err "hook '$EX/nope': No such file or directory"
chmod 644 "$EX/refuse"
run "exec: a hook that is not executable" 1 apply --driver exec --hook "$EX/refuse" $EXAT -d "$EX/st" \
	"$EX/plan.json" && expect_err "hook '$EX/refuse' is not an executable file"
run "exec: a directory is not a hook" 1 apply --driver exec --hook "$EX" $EXAT -d "$EX/st" "$EX/plan.json" &&
	expect_err "is not an executable file"
run "exec: an unknown driver lists the registry" 64 apply --driver nomad "$EX/plan.json" &&
	expect_err "unknown driver 'nomad': expected local, kubernetes or exec"
run "exec: plan with an unknown driver lists the registry" 64 plan --driver nomad -s "$EX/sched.json" &&
	expect_err "unknown driver 'nomad': expected local, kubernetes or exec"

# --- every driver checks its own inventory sections, whichever driver runs -------------
sed 's/"min": {"cpu": 0.1, "memory": "64MiB"},/&\
  "kubernetes": {"namespace": "shop", "kind": "DaemonSet", "name": "web"},/' "$EX/inv.json" >"$EX/inv-kbad.json"
EXKBAD="$EX/inv-kbad.json:6: components\[0\]\.kubernetes\.kind: 'DaemonSet' is not Deployment or StatefulSet"
run "exec: validate checks the kubernetes section" 1 validate "$EX/inv-kbad.json" && expect_err "$EXKBAD"
run "exec: validate checks the kubernetes section of a schedule's inventory" 1 validate -i "$EX/inv-kbad.json" \
	"$EX/sched.json" && expect_err "$EXKBAD"
run "exec: apply refuses a bad kubernetes section (exit 6)" 6 $EXAPPLY -i "$EX/inv-kbad.json" "$EX/plan.json" &&
	expect_err "refused: $EXKBAD"
run "exec: forecast checks the kubernetes section" 1 forecast -i "$EX/inv-kbad.json" -s "$EX/sched.json" $EXNOW &&
	expect_err "$EXKBAD"

# --- the outcome as JSON, and what to run next --------------------------------------
rm -rf "$EX/st" "$HOOK_CALLS"
run "exec: apply -o json: the outcome as one object" 0 $EXAPPLY -o json "$EX/plan.json"
name="exec: apply -o json: done, its exit status, steps, run record; nothing else on stdout"
if jq -e --arg d "$EX/st" '.outcome == "done" and .exit_status == 0 and .steps == 15 and .next == null and
	.run_record == ($d + "/run.json") and .state_dir == $d and .message == null' "$TMP/out" >/dev/null; then ok; else
	bad "$(cat "$TMP/out")"; fi
rm -rf "$EX/st"
HOOK_FAIL=run_update
export HOOK_FAIL
run "exec: apply -o json after a failed step (exit 4)" 4 $EXAPPLY -o json "$EX/plan.json"
unset HOOK_FAIL
name="exec: apply -o json: rolled back, with the message stderr gave"
if jq -e '.outcome == "rolled_back" and .exit_status == 4 and (.message | test("rolled back"))' "$TMP/out" >/dev/null &&
	expect_err "completed steps were rolled back"; then ok; else bad "$(cat "$TMP/out")"; fi
rm -rf "$EX/st"
ADPART_TEST_CRASH_AFTER_STEP=4
export ADPART_TEST_CRASH_AFTER_STEP
run "exec: apply killed after step 4 (for the next hint)" 137 $EXAPPLY "$EX/plan.json"
unset ADPART_TEST_CRASH_AFTER_STEP
run "exec: apply -o json refused by an unfinished journal (exit 6)" 6 $EXAPPLY -o json "$EX/plan.json"
name="exec: apply -o json: refused, with the reason"
if jq -e '.outcome == "refused" and .exit_status == 6 and (.message | test("use --resume or --rollback"))' \
	"$TMP/out" >/dev/null; then ok; else bad "$(cat "$TMP/out")"; fi
run "exec: apply --dry-run names the apply to run next" 0 apply --driver exec --hook "$EX/hook" $EXAT --dry-run \
	"$EX/plan.json" && expect_out "^next: adpart-update apply --driver exec $EX/plan.json$"
run "exec: apply --dry-run -o json" 0 apply --driver exec --hook "$EX/hook" $EXAT --dry-run -o json "$EX/plan.json"
name="exec: apply --dry-run -o json: checked, and the apply to run next"
if jq -e --arg p "$EX/plan.json" '.outcome == "checked" and .next == ("adpart-update apply --driver exec " + $p)' \
	"$TMP/out" >/dev/null; then ok; else bad "$(cat "$TMP/out")"; fi
run "exec: apply -o yaml is a usage error" 64 $EXAPPLY -o yaml "$EX/plan.json"
# --- show: a plan or a run record file, no store needed ---------------------------------
run "exec: show a plan file renders it as plan does" 0 show "$EX/plan.json"
name="exec: show FILE: the plan's own lines"
if grep -q "^Plan 'x': window 2018-05-06T01:00:00Z to 05:00 (UTC), cutoff 04:30$" "$TMP/out" &&
	grep -q "^Wave 1 " "$TMP/out" && grep -q "15 steps to apply, 9 to roll back" "$TMP/out" &&
	! grep -q "Plan written" "$TMP/out"; then ok; else bad "not the plan's view"; fi
run "exec: show -o json prints the plan document" 0 show -o json "$EX/plan.json"
name="exec: show -o json: the same document"
if [ "$(jq -S . "$TMP/out")" = "$(jq -S . "$EX/plan.json")" ]; then ok; else bad "documents differ"; fi
rm -rf "$EX/st"
HOOK_FAIL=run_update
export HOOK_FAIL
run "exec: a run to show (rolled back)" 4 $EXAPPLY "$EX/plan.json"
unset HOOK_FAIL
run "exec: show a run record" 0 show "$EX/st/run.json"
name="exec: show a run record: outcome, step counts, the failed step with its message"
if grep -q "^Run of .*plan.json: rolled_back (recorded " "$TMP/out" &&
	grep -q "^steps (15): 8 done, 1 failed, 0 started, 6 pending$" "$TMP/out" &&
	grep -Eq "^ +9 run_update +node-a +- +failed .*exit status 2" "$TMP/out" && grep -q "^undo (" "$TMP/out"; then ok; else
	bad "not the run's view"; fi
echo '{"a": 1}' >"$EX/other.json"
run "exec: show a JSON file that is neither" 1 show "$EX/other.json" &&
	expect_err "'$EX/other.json' is neither a plan nor a run record"
run "exec: show a name that is no file, without a store" 64 show "$EX/nope.json" &&
	expect_err "'$EX/nope.json' is not a file, and --store or ADPART_STORE is required"
printf '{"waves": [' >"$EX/cut.json"
run "exec: show a truncated plan names the file and line" 1 show "$EX/cut.json" && expect_err "cut.json:1"

# --- the plan's start: apply neither before it nor too late; --wait ---------
EXAPPLY_AT="apply --driver exec --hook $EX/hook -d $EX/st"
EXCUTOFF=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["schedule"]["cutoff_at"])' "$EX/plan.json")
rm -rf "$EX/st" "$HOOK_CALLS"
run "exec: apply before the plan's start is refused (exit 6)" 6 $EXAPPLY_AT --now "$(cli_time_add "$EXSTART" -5400)" \
	"$EX/plan.json" && expect_err "refused: the plan starts at $EXSTART, in 1h30m: .* now with --wait" &&
	expect_no_file "$EX/st/journal.json" && expect_no_file "$HOOK_CALLS"
run "exec: a dry run ahead of the start says when apply may start" 0 $EXAPPLY_AT --dry-run \
	--now "$(cli_time_add "$EXSTART" -5400)" "$EX/plan.json" && expect_out "starts at $EXSTART, in 1h30m: apply refuses before then"
run "exec: apply whose waves would overrun the cutoff is refused (exit 6)" 6 $EXAPPLY_AT \
	--now "$(cli_time_add "$EXCUTOFF" -1)" "$EX/plan.json" && expect_err "would overrun the cutoff" &&
	expect_no_file "$EX/st/journal.json"
run "exec: a dry run too late is refused as apply is" 6 $EXAPPLY_AT --dry-run --now "$(cli_time_add "$EXCUTOFF" -1)" \
	"$EX/plan.json" && expect_err "would overrun the cutoff"
run "exec: a start further than --wait's limit is refused" 6 $EXAPPLY_AT --wait=1h \
	--now "$(cli_time_add "$EXSTART" -5400)" "$EX/plan.json" && expect_err "in 1h30m: .*beyond --wait's limit of 1h"
run "exec: --wait with --rollback is a usage error" 64 $EXAPPLY_AT --wait --rollback "$EX/plan.json" &&
	expect_err "--wait is for an apply going forward"
run "exec: --wait takes a duration" 64 $EXAPPLY_AT --wait=soon "$EX/plan.json" && expect_err "--wait=soon: expected a duration"
run "exec: --wait sleeps until the start, then applies" 0 $EXAPPLY_AT --wait --now "$(cli_time_add "$EXSTART" -2)" \
	"$EX/plan.json" && expect_out "applied: 15 steps done"
name="exec: --wait is journaled with the time it waited for"
if [ "$(jq -r .waiting_until "$EX/st/journal.json")" = "$EXSTART" ]; then ok; else bad "no waiting_until in the journal"; fi
# A signal while waiting: stopped, nothing changed, the journal says so.
rm -rf "$EX/st" "$HOOK_CALLS"
"$BIN" $EXAPPLY_AT --wait --now "$(cli_time_add "$EXSTART" -600)" "$EX/plan.json" >"$TMP/out" 2>"$TMP/err" &
expid=$!
i=0
while [ "$(jq -r .state "$EX/st/journal.json" 2>/dev/null)" != waiting ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
name="exec: --wait is journaled as waiting"
if [ "$(jq -r .state "$EX/st/journal.json" 2>/dev/null)" = waiting ]; then ok; else bad "journal state is not waiting"; fi
kill -TERM $expid
wait $expid
exrc=$?
name="exec: SIGTERM while waiting stops with nothing changed (exit 7)"
if [ $exrc -eq 7 ] && grep -q "stopped while waiting for the plan's start ($EXSTART): nothing was changed" "$TMP/err" &&
	[ "$(jq -r .state "$EX/st/journal.json")" = stopped ] && ! grep -q '^act ' "$HOOK_CALLS"; then ok; else
	bad "exit $exrc, state $(jq -r .state "$EX/st/journal.json"), $(cat "$TMP/err")"; fi
run "exec: --resume before the start without --wait is refused" 6 $EXAPPLY_AT --resume \
	--now "$(cli_time_add "$EXSTART" -600)" "$EX/plan.json" && expect_err "the plan starts at $EXSTART"
run "exec: --resume --wait waits, then applies" 0 $EXAPPLY_AT --resume --wait=2m --now "$(cli_time_add "$EXSTART" -1)" \
	"$EX/plan.json" && expect_out "applied: 15 steps done"
unset HOOK_CALLS
