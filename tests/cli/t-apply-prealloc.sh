# plan --preallocate and apply's shadows made ahead: the plan's steps,
# validate's refusals, the local driver's run.start_idle, and on the
# live stack (real HAProxy, http.server processes, cgroups) an apply end
# to end, a kill after the shadow was made ahead then --resume, and a
# --rollback that leaves no cgroup and no process behind. The live cases
# skip where the stack cannot run (root, cgroups, HAProxy, python3).

PA="$TMP/prealloc"
mkdir -p "$PA/www-node-a" "$PA/www-node-b" "$PA/www-node-c"
STACK_TOP=$TOP
. "$TOP/tests/stack.sh"
. "$TOP/tests/cli/lib.sh"
PA_CG="adpart-cli-pa-$$"
for d in a b c; do echo ok >"$PA/www-node-$d/ok"; done
set -- $(stack_ports 6)
PA_WA=$1 PA_WC=$2 PA_AB=$3 PA_AC=$4 PA_FW=$5 PA_FA=$6

# Three partitions; web on node-a and api on node-b, both with a shadow
# port on node-c; node-a then node-b updated: wave 2 moves api to node-c,
# which wave 1 keeps online, so its shadow is made ahead in wave 1.
pa_inventory() { # FILE START_IDLE
	pa_health='{"http": "http://127.0.0.1:{port}/ok", "retries": 20, "timeout": 2, "interval": 0.1}'
	{
		stack_partitions "$PA_CG" node-a node-b node-c
		STACK_RUN=", \"start_idle\": $2" stack_component "$PA" web 0 node-a \
			"{\"node-a\": $PA_WA, \"node-c\": $PA_WC}" be_web "$PA/www-{partition}" "0.002 1048576" "$pa_health"
		echo ","
		STACK_RUN=", \"start_idle\": $2" stack_component "$PA" api 1 node-b \
			"{\"node-b\": $PA_AB, \"node-c\": $PA_AC}" be_api "$PA/www-{partition}" "0.002 1048576" "$pa_health"
		echo "]}"
	} >"$1"
}
pa_schedule() { # FILE [EXTRA]
	cat >"$1" <<JSON
{"name": "prealloc", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": ["node-a", "node-b"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "plan_ttl": "24h", "period": "1d", "update": {"command": ["/bin/true"], "timeout": "1m"}${2:-}}
JSON
}
pa_inventory "$PA/inv.json" true
pa_schedule "$PA/sched.json"

run "plan --preallocate" 2 plan -i "$PA/inv.json" -s "$PA/sched.json" --now 2018-05-06T00:00:00Z \
	-f "$PA/plan.json" --preallocate &&
	if [ "$(jq -c '[.steps[] | select(.action == "preallocate_shadow") | [.id, .wave, .partition, .component]]' "$PA/plan.json")" = \
		'[[1,1,"node-c","api"]]' ]; then ok; else bad "expected api's shadow made ahead first in wave 1"; fi
name="rollback list releases it last"
if [ "$(jq -r '.rollback_steps[-1] | .action + " " + .component' "$PA/plan.json")" = "release_shadow api" ]; then ok; else
	bad "the last rollback step is not api's release_shadow"; fi
run "plan without --preallocate" 2 plan -i "$PA/inv.json" -s "$PA/sched.json" --now 2018-05-06T00:00:00Z \
	-f "$PA/plain.json" &&
	if jq -e '[.steps[] | select(.action == "preallocate_shadow")] | length == 0' "$PA/plain.json" >/dev/null; then ok; else
		bad "preallocate_shadow steps without --preallocate"; fi
pa_schedule "$PA/sched-pre.json" ', "preallocate": true'
run "schedule preallocate true" 2 plan -i "$PA/inv.json" -s "$PA/sched-pre.json" --now 2018-05-06T00:00:00Z \
	-f "$PA/sched-plan.json" &&
	if jq -e '[.steps[] | select(.action == "preallocate_shadow")] | length == 1' "$PA/sched-plan.json" >/dev/null; then ok; else
		bad "the schedule's preallocate made no step"; fi
pa_schedule "$PA/sched-bad.json" ', "preallocate": "yes"'
run "schedule preallocate not a boolean" 1 plan -i "$PA/inv.json" -s "$PA/sched-bad.json" --now 2018-05-06T00:00:00Z \
	-f "$PA/x.json" && expect_err "sched-bad.json:[0-9]+: preallocate: expected true or false"
run "validate a preallocated plan" 0 validate "$PA/plan.json" && expect_out "valid plan"

# validate refuses a preallocate step the planner would not make.
jq '.steps[0].partition = "node-a"' "$PA/plan.json" >"$PA/bad-part.json"
run "validate: preallocate on another partition" 1 validate "$PA/bad-part.json" &&
	expect_err "bad-part.json:[0-9]+: steps\[0\]: preallocate_shadow: expected partition 'node-c', where wave 2 puts the shadow of 'api' replica 0"
jq '.steps[0].component = "web"' "$PA/plan.json" >"$PA/bad-comp.json"
run "validate: preallocate of a replica not moved next" 1 validate "$PA/bad-comp.json" &&
	expect_err "steps\[0\]: preallocate_shadow: 'web' replica 0 is not moved in wave 2, the next"
jq '.steps[0].wave = 2' "$PA/plan.json" >"$PA/bad-wave.json"
run "validate: preallocate in the last wave" 1 validate "$PA/bad-wave.json" &&
	expect_err "steps\[0\]: preallocate_shadow: prepares a shadow of the next wave: expected a wave from 1 to 1"
jq '(.rollback_steps[-1].partition) = "node-b"' "$PA/plan.json" >"$PA/bad-release.json"
run "validate: release_shadow on another partition" 1 validate "$PA/bad-release.json" &&
	expect_err "rollback_steps\[[0-9]+\]: release_shadow: expected partition 'node-c'"

# The local driver's option: checked with the file, line and field.
pa_inventory "$PA/inv-bad.json" '"yes"'
run "run.start_idle not a boolean" 1 validate "$PA/inv-bad.json" &&
	expect_err "inv-bad.json:[0-9]+: components\[0\]\.run\.start_idle: expected true \(its process may be started ahead of its wave, out of traffic\) or false"
run "run.start_idle refused by plan too" 1 plan -i "$PA/inv-bad.json" -s "$PA/sched.json" --now 2018-05-06T00:00:00Z \
	-f "$PA/x.json" && expect_err "components\[0\]\.run\.start_idle"

pa_why=$(stack_why)
if [ -n "$pa_why" ]; then
	echo "skip: t-apply-prealloc live cases: $pa_why" >&2
else
	PA_NOW=$(cli_plan_start "$PA/plan.json")
	{
		stack_hap_pair web "$PA_FW" "$PA_WA" "$PA_WC" node-a node-c
		stack_hap_pair api "$PA_FA" "$PA_AB" "$PA_AC" node-b node-c
	} >"$PA/backends.cfg"
	stack_haproxy "$PA" <"$PA/backends.cfg"

	pa_serves() { "$STACK_PY" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$1/ok', timeout=1)" 2>/dev/null; }
	pa_comes_up() { # PORT: serves within 10 s (a shadow made ahead starts on 1/8 core)
		pa_i=0
		while [ $pa_i -lt 100 ] && ! pa_serves "$1"; do sleep 0.1; pa_i=$((pa_i + 1)); done
		pa_serves "$1"
	}
	pa_cg_has() { # PART/INST: whether any hierarchy has the cgroup
		for d in /sys/fs/cgroup/*/"$PA_CG/$1" "$(stack_v2_root)/$PA_CG/$1"; do
			[ -d "$d" ] && return 0
		done
		return 1
	}
	# The originals, adopted from their pid files, in a fresh state dir.
	pa_fresh() {
		stack_kill_instances "$PA"/st/proc/*.pid
		rm -rf "$PA/st"
		stack_original "$PA/st/proc/web.0@node-a.pid" "$PA/www-node-a" "$PA_WA"
		stack_original "$PA/st/proc/api.0@node-b.pid" "$PA/www-node-b" "$PA_AB"
	}
	pa_end_state() { # NAME: both originals serve, no shadow, no shadow cgroup
		name="$1: end state"
		if pa_serves "$PA_WA" && pa_serves "$PA_AB"; then ok; else bad "an original does not serve"; fi
		if pa_serves "$PA_WC" || pa_serves "$PA_AC"; then bad "a shadow still serves"; else ok; fi
		if pa_cg_has node-c/api.0 || pa_cg_has node-c/web.0; then bad "a shadow cgroup was left behind"; else ok; fi
		if [ -e "$PA/st/proc/api.0@node-c.pid" ]; then bad "the shadow's pid file was left behind"; else ok; fi
	}
	pa_apply() { # NAME RC ARGS...: apply of plan.json in st at the plan's start
		pa_name=$1 pa_rc=$2
		shift 2
		run "$pa_name" "$pa_rc" apply -d "$PA/st" --now "$PA_NOW" "$@" "$PA/plan.json"
	}

	pa_fresh
	pa_apply "apply preallocated end to end" 0 &&
		if jq -e '.steps[0].status == "done" and (.steps[0].message | test("made ahead .*: started pid"))' \
			"$PA/st/run.json" >/dev/null; then ok; else bad "preallocate_shadow did not start api's shadow ahead"; fi
	name="start_shadow took it over"
	if jq -e '[.steps[] | select(.action == "start_shadow" and .component == "api")][0].message |
		test("made ahead\\), resized to its allocation")' "$PA/st/run.json" >/dev/null; then ok; else
		bad "api's start_shadow did not take the shadow made ahead over"; fi
	pa_end_state "apply preallocated"

	# Killed right after the shadow was made ahead: it runs, out of
	# traffic, in its small cgroup; --resume takes it over and finishes.
	pa_fresh
	ADPART_TEST_CRASH_AFTER_STEP=1
	export ADPART_TEST_CRASH_AFTER_STEP
	pa_apply "apply killed after preallocate_shadow" 137
	unset ADPART_TEST_CRASH_AFTER_STEP
	name="shadow made ahead, out of traffic"
	if pa_comes_up "$PA_AC"; then ok; else bad "api's shadow made ahead does not run"; fi
	if pa_cg_has node-c/api.0; then ok; else bad "api's shadow cgroup is missing"; fi
	if stack_hap_stat "$PA/hap.sock" | grep -q "^be_api node-c MAINT"; then ok; else bad "api's shadow server is not in maintenance"; fi
	pa_mem=/sys/fs/cgroup/memory/$PA_CG/node-c/api.0/memory.limit_in_bytes
	[ -e "$pa_mem" ] || pa_mem=$(stack_v2_root)/$PA_CG/node-c/api.0/memory.max
	if [ "$(cat "$pa_mem" 2>/dev/null)" = 67108864 ]; then ok; else bad "memory limit $(cat "$pa_mem" 2>/dev/null), expected the guarantee 64 MiB"; fi
	pa_apply "--resume after preallocate_shadow" 0 --resume
	pa_end_state "--resume after preallocate_shadow"

	# Killed after the shadow was made ahead, then rolled back: nothing left.
	pa_fresh
	ADPART_TEST_CRASH_AFTER_STEP=1
	export ADPART_TEST_CRASH_AFTER_STEP
	pa_apply "apply killed again after preallocate_shadow" 137
	unset ADPART_TEST_CRASH_AFTER_STEP
	pa_apply "--rollback after preallocate_shadow" 4 --rollback &&
		if jq -e '[.undo[] | select(.action == "release_shadow" and .status == "done")] | length == 1' \
			"$PA/st/run.json" >/dev/null; then ok; else bad "no release_shadow done in the undo"; fi
	pa_end_state "--rollback after preallocate_shadow"

	# Without start_idle, only the cgroup is made ahead.
	pa_inventory "$PA/inv-cg.json" false
	run "plan, cgroup only" 2 plan -i "$PA/inv-cg.json" -s "$PA/sched.json" --now 2018-05-06T00:00:00Z \
		-f "$PA/plan.json" --preallocate
	PA_NOW=$(cli_plan_start "$PA/plan.json")
	pa_fresh
	ADPART_TEST_CRASH_AFTER_STEP=1
	export ADPART_TEST_CRASH_AFTER_STEP
	pa_apply "apply (cgroup only) killed after preallocate_shadow" 137
	unset ADPART_TEST_CRASH_AFTER_STEP
	name="cgroup only: made, no process"
	if pa_cg_has node-c/api.0; then ok; else bad "api's shadow cgroup is missing"; fi
	if pa_serves "$PA_AC"; then bad "a process was started without run.start_idle"; else ok; fi
	pa_apply "--resume (cgroup only)" 0 --resume &&
		if jq -e '[.steps[] | select(.action == "start_shadow" and .component == "api")][0].message | test("started pid")' \
			"$PA/st/run.json" >/dev/null; then ok; else bad "start_shadow did not start api's shadow"; fi
	pa_end_state "--resume (cgroup only)"

	stack_cleanup "$PA_CG" "$PA"/st/proc/*.pid
fi
