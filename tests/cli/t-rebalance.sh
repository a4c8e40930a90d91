# rebalance between windows on this host's real cgroups: each replica's
# limits follow its forecast for the next hour (idle's daily peak at
# 01:10 gives it 320 MiB at 01:00 and its 128 MiB guarantee at 04:00),
# --undo gives back exactly the limits from before the first rebalance,
# a kill midway is refused by the next rebalance and finished by apply
# --resume, a resize that fails puts the others back; and the mistakes a
# user makes on the command line. The cgroup cases need root and a
# writable cgroup memory controller; they skip otherwise.

RB="$TMP/rebalance"
mkdir -p "$RB"
STACK_TOP=$TOP
. "$TOP/tests/stack.sh"
. "$TOP/tests/cli/lib.sh"
RB_CG="adpart-rebalance-$$"

run "rebalance needs an inventory and a schedule" 64 rebalance -s x.json
expect_err "give --inventory and --schedule \(or --undo\)"
run "rebalance --for below a minute is refused" 64 rebalance -i x.json -s y.json --for 10s
expect_err "--for '10s': expected from 1m to 7d"
run "rebalance --dry-run and --undo exclude each other" 64 rebalance --undo --dry-run
expect_err "exclude each other"
run "rebalance --undo with nothing journaled" 6 rebalance --undo -d "$RB/none" --host-lock "$RB/lock"
expect_err "nothing to undo: no rebalance is journaled in '$RB/none'"
run "rebalance of a missing inventory" 1 rebalance -i "$RB/missing.json" -s "$RB/missing.json" -d "$RB/st" \
	--host-lock "$RB/lock"
expect_err "missing.json"

rb_why=$(stack_why)
if [ -n "$rb_why" ]; then
	echo "skip: rebalance on cgroups ($rb_why; needs root and a writable cgroup memory controller)" >&2
else
	stack_borrow_files "$RB" "$RB_CG" 4GiB '["/bin/true"]'
	# Each replica at home in its own cgroup, as apply leaves it, with a
	# real process inside.
	for inst in hog.0 idle.0; do
		if grep -q ' cgroup .*memory' /proc/mounts; then
			for c in memory cpu; do
				mkdir -p "/sys/fs/cgroup/$c/$RB_CG/node-a/$inst"
			done
		else
			mkdir -p "$(stack_v2_root)/$RB_CG/node-a/$inst"
		fi
	done
	rb_limits() { # "hog MEM CPU idle MEM CPU" (v1 or v2 files)
		for inst in hog.0 idle.0; do
			v1m="/sys/fs/cgroup/memory/$RB_CG/node-a/$inst" v1c="/sys/fs/cgroup/cpu/$RB_CG/node-a/$inst"
			v2="$(stack_v2_root)/$RB_CG/node-a/$inst"
			if [ -d "$v1m" ]; then
				printf '%s %s %s ' "${inst%.0}" "$(cat "$v1m/memory.limit_in_bytes")" "$(cat "$v1c/cpu.cfs_quota_us")"
			elif [ -d "$v2" ]; then
				printf '%s %s %s ' "${inst%.0}" "$(cat "$v2/memory.max")" "$(cut -d' ' -f1 "$v2/cpu.max")"
			else
				printf '%s none none ' "${inst%.0}"
			fi
		done
	}
	RBA="rebalance -i $RB/inv.json -s $RB/sched.json -d $RB/st --host-lock $RB/lock"
	before=$(rb_limits)
	MiB=1048576

	run "rebalance --dry-run" 0 $RBA --dry-run --now 2018-05-06T00:58:00Z
	expect_out "^  idle +node-a +limit 0.375 cores, 320.0 MiB"
	expect_out "^would resize: 2 replicas"
	name="rebalance --dry-run changes nothing"
	if [ "$(rb_limits)" = "$before" ] && [ ! -e "$RB/st/journal.json" ]; then ok; else bad "limits $(rb_limits)"; fi

	run "rebalance before idle's daily peak" 0 $RBA --now 2018-05-06T00:58:00Z
	expect_out "^rebalanced: 2 replicas"
	name="before the peak: hog one unit, idle sized for its peak"
	if [ "$(rb_limits)" = "hog $((64 * MiB)) 12500 idle $((320 * MiB)) 37500 " ]; then ok; else bad "limits $(rb_limits)"; fi
	name="the rebalance's plan is one wave, nothing offline, resize steps only"
	if /usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
assert p["schedule"]["rebalance"] is True
assert len(p["waves"]) == 1 and p["waves"][0]["offline"] == []
assert p["waves"][0]["start"] == "2018-05-06T01:00:00Z", p["waves"][0]["start"]
assert [s["action"] for s in p["steps"]] == ["resize", "resize"]
assert [s["action"] for s in p["rollback_steps"]] == ["restore_size", "restore_size"]' "$RB/st/plan.json"; then ok; else
		bad "plan: $(head -c 300 "$RB/st/plan.json")"; fi
	run "validate the rebalance's plan" 0 validate "$RB/st/plan.json"
	/usr/bin/python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))
p["steps"][0]["action"] = "run_update"
p["steps"][0].pop("component")
p["steps"][0].pop("replica")
json.dump(p, open(sys.argv[2], "w"), indent=2)' "$RB/st/plan.json" "$RB/forged.edit" && "$(dirname "$BIN")/plan-reseal" "$RB/forged.edit" "$RB/forged.json"
	run "validate refuses a rebalance plan that does more than resize" 1 validate "$RB/forged.json"
	expect_err "forged.json:[0-9]+: schedule.rebalance: a rebalance plan is one wave with no partition offline whose steps only resize \(step 1 is run_update\)"

	run "rebalance after idle's peak" 0 $RBA --now 2018-05-06T04:00:00Z
	name="after the peak: idle down to its guarantee"
	if [ "$(rb_limits)" = "hog $((64 * MiB)) 12500 idle $((128 * MiB)) 12500 " ]; then ok; else bad "limits $(rb_limits)"; fi

	run "rebalance --undo" 0 rebalance --undo -d "$RB/st" --host-lock "$RB/lock"
	expect_out "undone: every replica has the limits it had before the first rebalance"
	name="--undo gives back the limits from before the first rebalance, exactly"
	if [ "$(rb_limits)" = "$before" ]; then ok; else bad "limits $(rb_limits), before: $before"; fi
	run "rebalance --undo twice" 6 rebalance --undo -d "$RB/st" --host-lock "$RB/lock"
	expect_err "nothing to undo"

	# Killed after its first resize: refused by the next rebalance,
	# finished by apply --resume, then undone.
	(ADPART_TEST_CRASH_AFTER_STEP=1 "$BIN" $RBA --now 2018-05-06T00:58:00Z >"$TMP/out" 2>"$TMP/err")
	got=$?
	name="rebalance killed after its first resize"
	if [ "$got" -eq 137 ]; then ok; else bad "exit status $got, expected 137"; fi
	run "a rebalance refuses to start over an unfinished one" 6 $RBA --now 2018-05-06T00:58:00Z
	expect_err "an unfinished rebalance is journaled in '$RB/st' \(state forward\): adpart-update rebalance --undo"
	run "apply --resume finishes the killed rebalance" 0 apply -d "$RB/st" --host-lock "$RB/lock" --resume "$RB/st/plan.json"
	name="the resumed rebalance set both"
	if [ "$(rb_limits)" = "hog $((64 * MiB)) 12500 idle $((320 * MiB)) 37500 " ]; then ok; else bad "limits $(rb_limits)"; fi
	run "rebalance --undo after the resume" 0 rebalance --undo -d "$RB/st" --host-lock "$RB/lock"
	name="undone after the resume: the limits from before"
	if [ "$(rb_limits)" = "$before" ]; then ok; else bad "limits $(rb_limits), before: $before"; fi

	# idle's cgroup gone: its resize fails, hog's is put back.
	for d in /sys/fs/cgroup/memory /sys/fs/cgroup/cpu "$(stack_v2_root)"; do
		[ -d "$d/$RB_CG/node-a/idle.0" ] && rmdir "$d/$RB_CG/node-a/idle.0"
	done
	run "a resize that fails rolls the rebalance back" 4 $RBA --now 2018-05-06T00:58:00Z
	expect_err "rebalance rolled_back"
	name="the failed rebalance left hog as it was"
	if [ "$(rb_limits | cut -d' ' -f1-3)" = "$(echo "$before" | cut -d' ' -f1-3)" ]; then ok; else
		bad "limits $(rb_limits), before: $before"; fi
	stack_cleanup "$RB_CG"
fi
