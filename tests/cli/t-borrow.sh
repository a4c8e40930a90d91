# apply --on-deviation borrow on this host's real cgroups, with real
# processes: "hog" is moved with a forecast of about 20 MiB and, once
# started, holds 32 MiB more; "idle", moved to the same partition, is
# forecast low for now (its daily peak comes later in the window) and
# uses a few MiB. Shows: hog borrows one 64 MiB unit from idle (the
# partition has no headroom), idle keeps at least its guarantee, both
# limits are as journaled while the loan runs, and both are back at
# their allocations once hog lets go of its memory; with room on the
# partition the unit comes from its headroom; a kill while the loan runs
# then --resume gives it back first (both limits at their allocations
# again), and --rollback does too. Needs root and a writable cgroup
# memory controller; skips otherwise.

BW="$TMP/borrow"
mkdir -p "$BW"
STACK_TOP=$TOP
. "$TOP/tests/stack.sh"
. "$TOP/tests/cli/lib.sh"
BW_CG="adpart-borrow-$$"
bw_why=$(stack_why)

# bw_files CAPACITY: the borrowing stack's files and plan.json, node-b's
# memory CAPACITY. The update command snapshots both shadows' memory
# limits, tells hog to let go of its memory, waits for monitoring to see
# it and snapshots again.
bw_files() {
	stack_borrow_plan "$BIN" "$BW" "$BW_CG" "$1"
	BW_NOW=$(cli_plan_start "$BW/plan.json")
}

cat >"$BW/update.sh" <<SH
echo "hog \$(sh $BW/limits.sh hog.0) idle \$(sh $BW/limits.sh idle.0)" >"$BW/snap1"
: >"$BW/free"
sleep 3
echo "hog \$(sh $BW/limits.sh hog.0) idle \$(sh $BW/limits.sh idle.0)" >"$BW/snap2"
SH
stack_limit_script "$BW/limits.sh" "$BW_CG" node-b
# bw_limit INSTANCE: its memory limit in bytes on node-b (v1 or v2), or "none".
bw_limit() { sh "$BW/limits.sh" "$1"; }

bw_reset() {
	stack_kill_instances "$BW"/st/proc/*.pid
	rm -rf "$BW/st" "$BW/ready" "$BW/free" "$BW/snap1" "$BW/snap2"
}

# bw_loans FIELDS...: each journaled loan of the run record as one line
# of FIELDS ("from" as its component, "-" for the headroom).
bw_loans() {
	/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
for l in r.get("loans", []):
    l = dict(l, **{"from": l.get("from", {}).get("component", "-"), "to": l["to"]["component"]})
    print(" ".join(str(l.get(f)) for f in sys.argv[2:]))' "$@"
}

# bw_apply NAME: apply with the borrow policy, expecting it done.
bw_apply() {
	(cd "$BW" && "$BIN" apply -d st --now "$BW_NOW" --on-deviation borrow --monitor-interval 1 plan.json \
		>"$TMP/out" 2>"$TMP/err")
	got=$?
	name=$1
	if [ "$got" -eq 0 ]; then ok; else bad "exit status $got"; fi
}

# bw_killed NAME: apply with the borrow policy killed after step 16
# (idle's original stopped), while hog's loan runs.
bw_killed() {
	(cd "$BW" && ADPART_TEST_CRASH_AFTER_STEP=16 "$BIN" apply -d st --now "$BW_NOW" --on-deviation borrow \
		--monitor-interval 1 plan.json >"$TMP/out" 2>"$TMP/err")
	got=$?
	name=$1
	if [ "$got" -eq 137 ]; then ok; else bad "exit status $got, expected 137"; fi
}

# bw_snap NAME FILE HOG_MIB IDLE_MIB: the limits the update command saw.
bw_snap() {
	name=$1
	if [ "$(cat "$2" 2>/dev/null)" = "hog $(($3 * MiB)) idle $(($4 * MiB))" ]; then ok; else
		bad "limits: $(cat "$2" 2>/dev/null)"; fi
}

MiB=1048576
if [ -n "$bw_why" ]; then
	echo "skip: apply borrowing ($bw_why; needs root, a writable cgroup memory controller and /usr/bin/python3)" >&2
else
	# node-b has 44 MiB of headroom over the peak of the forecast: less
	# than a unit, so the unit comes from idle.
	bw_files 370MiB
	name="the plan limits hog to one unit and idle to five, guarantee 128 MiB"
	if /usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
x = dict((x["component"], x) for x in p["waves"][0]["placements"])
u = [u for u in p["waves"][0]["utilisation"] if u["partition"] == "node-b" and u["resource"] == "memory"][0]
assert x["hog"]["allocation"]["memory"] == 64 << 20, x["hog"]
assert x["idle"]["allocation"]["memory"] == 320 << 20, x["idle"]
assert x["idle"]["guarantee"]["memory"] == 128 << 20, x["idle"]
assert 0 <= u["headroom"] < 64 << 20, u' "$BW/plan.json"; then ok; else bad "plan: $(head -c 300 "$BW/plan.json")"; fi

	bw_apply "apply --on-deviation borrow: done"
	bw_snap "while the loan runs: hog 128 MiB, idle 256 MiB (above its 128 MiB guarantee)" "$BW/snap1" 128 256
	bw_snap "once hog lets go: both at their allocations" "$BW/snap2" 64 320
	name="the loan is journaled, from idle, one unit, given back when the need passed"
	bw_loans "$BW/st/run.json" from to resource amount state from_limit returned_why | grep memory >"$BW/loans"
	if [ "$(head -n 1 "$BW/loans")" = "idle hog memory $((64 * MiB)).0 returned $((256 * MiB)).0 the borrower's need passed" ]; then
		ok; else bad "loans: $(cat "$BW/loans")"; fi
	name="no loan took idle below its guarantee, and none is open"
	if /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["loans"]
for l in r["loans"]:
    assert l["state"] in ("returned", "failed"), l
    assert l.get("from_limit", 1e18) >= 128 << 20, l' "$BW/st/run.json"; then ok; else bad "loans: $(cat "$BW/loans")"; fi
	name="the deviation is observed with what was borrowed"
	if grep -q '"borrowed": 67108864' "$BW/st/run.json"; then ok; else bad "no borrow observation"; fi
	run "report shows the run's loans" 0 report "$BW/plan.json" --run "$BW/st/run.json" -O "$BW/report.html"
	name="the report's loan table: idle lent hog 64 MiB of memory, given back when the need passed"
	if tr -d '\n' <"$BW/report.html" | grep -q "<td>memory</td><td>hog</td><td>idle</td><td>64.0 MiB</td><td>returned</td><td>the borrower&#39;s need passed</td>"; then
		ok; else bad "no loan row: $(grep -o '<table class="loans">.\{0,400\}' "$BW/report.html")"; fi
	bw_reset

	# A kill while the loan runs (after idle's original stopped), then
	# --resume: the loan is given back first, and hog borrows again.
	bw_killed "apply killed while the loan runs"
	name="the killed run left the loan open, and the limits it journaled"
	if [ "$(bw_loans "$BW/st/journal.json" resource from state | grep memory)" = "memory idle lent" ] &&
		[ "$(bw_limit hog.0) $(bw_limit idle.0)" = "$((128 * MiB)) $((256 * MiB))" ]; then ok; else
		bad "loans: $(bw_loans "$BW/st/journal.json" from state), limits $(bw_limit hog.0) $(bw_limit idle.0)"; fi
	(cd "$BW" && "$BIN" apply -d st --resume --on-deviation borrow --monitor-interval 1 plan.json \
		>"$TMP/out" 2>"$TMP/err")
	got=$?
	name="apply --resume after the kill"
	if [ "$got" -eq 0 ]; then ok; else bad "exit status $got"; fi
	name="--resume gave the loan back first"
	if [ "$(bw_loans "$BW/st/run.json" resource state returned_why | grep memory | head -n 1)" = "memory returned resumed" ]; then ok; else
		bad "loans: $(bw_loans "$BW/st/run.json" resource state returned_why)"; fi
	bw_snap "--resume set both limits back to their allocations exactly" "$BW/snap1" 64 320
	bw_reset

	bw_killed "apply killed again while the loan runs"
	(cd "$BW" && "$BIN" apply -d st --rollback plan.json >"$TMP/out" 2>"$TMP/err")
	got=$?
	name="apply --rollback after a kill while the loan runs"
	if [ "$got" -eq 4 ]; then ok; else bad "exit status $got, expected 4"; fi
	name="the rollback gave the loan back first, and removed both shadows"
	if [ "$(bw_loans "$BW/st/run.json" resource state returned_why | grep memory)" = "memory returned rollback" ] &&
		[ "$(bw_limit hog.0) $(bw_limit idle.0)" = "none none" ]; then ok; else
		bad "loans: $(bw_loans "$BW/st/run.json" state returned_why), limits $(bw_limit hog.0) $(bw_limit idle.0)"; fi
	bw_reset

	# Room on node-b: the unit comes from its headroom, nobody lends.
	bw_files 4GiB
	bw_apply "apply --on-deviation borrow with headroom: done"
	bw_snap "with headroom: hog 128 MiB, idle untouched at 320 MiB" "$BW/snap1" 128 320
	name="with headroom: the loan is the partition's"
	if [ "$(bw_loans "$BW/st/run.json" resource from to amount state | grep memory)" = "memory - hog $((64 * MiB)).0 returned" ]; then
		ok; else bad "loans: $(bw_loans "$BW/st/run.json" resource from to amount state)"; fi
	bw_reset
	stack_cleanup "$BW_CG"
fi
