#!/bin/sh
# make check-torture: every allocation point and every write, fsync and
# rename of a command is made to fail in turn, one per run, and each run
# must either end as if nothing had failed (the same output, byte for
# byte) or fail cleanly: a message, a non-zero exit, no crash or hang,
# and no partial or stray file. Allocation points come from
# failmalloc.so (LD_PRELOAD); writes from ADPART_TEST_FAULT.
# Cases: plan, apply (the exec driver) and live (the local driver on a
# live HAProxy stack with a load generator; skipped where that stack
# cannot run).
# Usage: tests/torture/run.sh BIN FAILMALLOC_SO [CASE...]
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
FM=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
shift 2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TD="$TOP/testdata"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/adpart-torture.XXXXXX")
problems=0
# No run reads this machine's config files or a setting of the caller's.
ADPART_SYSCONFDIR="$TMP/sysconf" XDG_CONFIG_HOME="$TMP/xdg"
export ADPART_SYSCONFDIR XDG_CONFIG_HOME
unset ADPART_CONFIG ADPART_STORE ADPART_DRIVER ADPART_STATE_DIR ADPART_HOOK ADPART_SEMAPHORE
STACK_TOP=$TOP
. "$TOP/tests/stack.sh"
. "$TOP/tests/cli/lib.sh"
LIVE="$TMP/live"
LIVE_CG="adpart-torture-$$"
trap 'stack_cleanup "$LIVE_CG" "$LIVE"/st/proc/*.pid; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# The commands, one a case: each runs in an empty directory ./w and may
# write only there. Output files are compared with the baseline's.
case_plan() {
	"$BIN" plan -i "$TD/demo/inventory.json" -s "$TD/demo/schedule.json" \
		--now 2018-05-06T00:00:00Z -f w/plan.json
}

# apply through the exec driver and a hook that always succeeds, on a
# plan made once beforehand. The journal and run record hold times, so
# apply is judged by its outcome and by the command its message names:
# that command, run without a fault, must finish the job.
setup_apply() {
	mkdir -p setup
	cli_web_inventory setup/inv.json
	cat >setup/sched.json <<JSON
{"name": "x", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": ["node-a"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "plan_ttl": "24h", "period": "1d"}
JSON
	printf '#!/bin/sh\ncat >/dev/null\n[ "$1" = sample ] && echo %s\nexit 0\n' \
		"'{\"cpu\": 0.01, \"memory\": 1048576}'" >setup/hook
	chmod 755 setup/hook
	"$BIN" plan --driver exec -i setup/inv.json -s setup/sched.json --now 2018-05-06T00:00:00Z \
		-f setup/plan.json >/dev/null
	[ -s setup/plan.json ] && cli_plan_start setup/plan.json >setup/start
}

case_apply() {
	"$BIN" apply --driver exec --hook "$PWD/setup/hook" --now "$(cat "$PWD/setup/start")" -d w/st \
		"$PWD/setup/plan.json" "$@"
}

# apply with the local driver on the live stack that live_setup builds:
# web and api move from node-a to node-b and back while node-a updates.
case_live() {
	(cd "$LIVE" && "$BIN" apply -d st --now "$(cat start)" main.json "$@")
}

# judge_apply CASE WHAT: a run that did not end like the baseline must say
# so and leave a state it names: rolled back (exit 4), or a state whose
# continuation its message names (or a fresh apply when it names none),
# which, run without a fault, must finish the job: done for --resume or a
# fresh start, rolled back (exit 4) for --rollback. A message that says
# every step is done must find the journal done.
judge_apply() {
	if [ "$rc" -eq "$base_rc" ] && cmp -s out base/out; then
		absorbed=$((absorbed + 1))
		return
	fi
	if [ "$rc" -ge 124 ]; then
		problem "$1, $2: exit $rc (a signal or a hang)"
		return
	fi
	if ! grep -q '^adpart-update: ' err; then
		problem "$1, $2: exit $rc without a message"
		return
	fi
	if [ "$rc" -eq 4 ] && grep -q 'rolled back' err && grep -q '"state": "rolled_back"' "$JDIR/journal.json"; then
		clean=$((clean + 1))
		return
	fi
	if grep -q 'every step is done' err && ! grep -q -- '--resume' err; then
		if grep -q '"state": "done"' "$JDIR/journal.json"; then
			clean=$((clean + 1))
		else
			problem "$1, $2: says every step is done, the journal does not"
		fi
		return
	fi
	cp err err.fault
	if grep -q -- '--rollback' err.fault && ! grep -q -- '--resume' err.fault; then
		want=4 how=--rollback
	elif grep -q -- '--resume' err.fault; then
		want=0 how=--resume
	else
		want=0 how=
	fi
	sh -c ". '$TMP/cases.sh'; case_$1 $how" >out 2>err
	got=$?
	if [ "$got" -ne "$want" ]; then
		cp err.fault err
		problem "$1, $2: exit $rc, then apply $how gave $got, not $want"
	else
		clean=$((clean + 1))
	fi
}

# run CASE [ENV=VALUE...]: one run in a fresh ./w (and for live, with
# no journal); exit status in $rc.
run_case() {
	c=$1
	shift
	rm -rf w && mkdir w
	[ "$c" = live ] && rm -f "$LIVE/st/journal.json" "$LIVE/st/run.json"
	env "$@" timeout 120 sh -c ". '$TMP/cases.sh'; case_$c" >out 2>err
	rc=$?
}

# where OFFSET: " (function file:line)" of an allocation point, when
# addr2line (binutils) is there to say.
where() {
	command -v addr2line >/dev/null 2>&1 || return 0
	addr2line -f -e "$BIN" "0x$1" 2>/dev/null | sed 's|'"$TOP"'/||' | paste -sd ' ' | sed 's/^/ (/; s/$/)/'
}

problem() {
	problems=$((problems + 1))
	echo "FAIL: $1" >&2
	head -n 5 err | sed 's/^/    /' >&2
}

# judge CASE WHAT: the run just made against the baseline in base/.
judge() {
	if [ "$1" = apply ] || [ "$1" = live ]; then
		judge_apply "$1" "$2"
		return
	fi
	if [ "$rc" -ge 124 ]; then
		problem "$1, $2: exit $rc (a signal or a hang)"
	elif [ "$rc" -eq "$base_rc" ]; then
		if cmp -s out base/out && diff -r w base/w >/dev/null 2>&1; then
			absorbed=$((absorbed + 1))
		else
			problem "$1, $2: exit $rc as without the fault, but another output: a failure was ignored"
		fi
	elif ! grep -q '^adpart-update: ' err; then
		problem "$1, $2: exit $rc without a message"
	else
		for f in w/* w/.[!.]*; do
			[ -e "$f" ] || continue
			if ! cmp -s "$f" "base/$f"; then
				problem "$1, $2: exit $rc left '$f' (partial or stray)"
				break
			fi
		done
		clean=$((clean + 1))
	fi
}

# live_setup: the stack for case_live (as in apply's end-to-end test):
# HAProxy on loopback, with the retries on connection failures an
# operator sets for rolling restarts, in front of web and api, whose
# originals run in node-a's cgroups; the plan; and the load generator,
# 20 requests a second through HAProxy until the case ends. Prints why
# and fails when the host cannot run it.
live_setup() {
	why=$(stack_why)
	if [ -n "$why" ]; then
		echo "$why"
		return 1
	fi
	mkdir -p "$LIVE/www-node-a" "$LIVE/www-node-b"
	echo ok >"$LIVE/www-node-a/ok"
	echo ok >"$LIVE/www-node-b/ok"
	set -- $(stack_ports 6)
	LIVE_PORTS="$1 $3 $5 $6"
	LIVE_SHADOWS="$2 $4"
	{
		stack_hap_pair web "$5" "$1" "$2"
		stack_hap_pair api "$6" "$3" "$4"
	} >"$LIVE/backends.cfg"
	stack_haproxy "$LIVE" 500 502 503 504 <"$LIVE/backends.cfg"
	health='{"http": "http://127.0.0.1:{port}/ok", "retries": 10, "timeout": 2}'
	{
		stack_partitions "$LIVE_CG"
		stack_component "$LIVE" web 0 node-a "{\"node-a\": $1, \"node-b\": $2}" be_web "$LIVE/www-{partition}" \
			"0.002 1048576" "$health"
		echo ","
		stack_component "$LIVE" api 1 node-a "{\"node-a\": $3, \"node-b\": $4}" be_api "$LIVE/www-{partition}" \
			"0.001 1048576" "$health"
		echo "]}"
	} >"$LIVE/inv.json"
	cat >"$LIVE/sched.json" <<JSON
{"name": "live", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": ["node-a"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "plan_ttl": "24h", "period": "1d",
 "update": {"command": ["/bin/sh", "-c", "echo updated \$ADPART_PARTITION >>\"\$0\"", "$LIVE/updates.log"],
  "timeout": "1m"}}
JSON
	# Exit 2: a plan with changes was written.
	(cd "$LIVE" && "$BIN" plan -i inv.json -s sched.json --now 2018-05-06T00:00:00Z -f main.json) >/dev/null 2>"$LIVE/plan.err"
	if [ $? -ne 2 ]; then
		head -n 3 "$LIVE/plan.err"
		return 1
	fi
	cli_plan_start "$LIVE/main.json" >"$LIVE/start"
	stack_original "$LIVE/st/proc/web.0@node-a.pid" "$LIVE/www-node-a" "$1" "$LIVE_CG/node-a/web.0"
	stack_original "$LIVE/st/proc/api.0@node-a.pid" "$LIVE/www-node-a" "$3" "$LIVE_CG/node-a/api.0"
	stack_hap_stat "$LIVE/hap.sock" >"$LIVE/hap.before"
	stack_load_start "$LIVE/load.out" 20 7200 "http://127.0.0.1:$5/" "http://127.0.0.1:$6/"
}

# live_serves PORT: whether an HTTP GET on loopback PORT answers 200.
live_serves() {
	"$STACK_PY" -c 'import sys, urllib.request; urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=3)' \
		"$1" 2>/dev/null
}

# live_check WHAT: after a run and its continuation the stack is as it
# was: both originals and both frontends serve, neither shadow does, and
# HAProxy's servers have their states and weights as before. False (a
# problem told) otherwise.
live_check() {
	for p in $LIVE_PORTS; do
		live_serves "$p" || { problem "live, $1: port $p does not serve afterwards"; return 1; }
	done
	for p in $LIVE_SHADOWS; do
		live_serves "$p" && { problem "live, $1: a shadow still serves on port $p afterwards"; return 1; }
	done
	stack_hap_stat "$LIVE/hap.sock" >"$LIVE/hap.after"
	if ! cmp -s "$LIVE/hap.before" "$LIVE/hap.after"; then
		problem "live, $1: HAProxy not as before: $(tr '\n' ';' <"$LIVE/hap.after")"
		return 1
	fi
}

# live_end: stops the load generator; not one request may have failed
# over the whole case.
live_end() {
	stack_load_stop "$LIVE/load.out"
	echo "torture live: load through HAProxy: $STACK_LOAD_LINE"
	case "$STACK_LOAD_LINE" in
	*" failed=0 "*) ;;
	*) problem "live: requests failed: $(tr '\n' ';' <"$LIVE/load.out")" ;;
	esac
}

{
	echo "BIN='$BIN'; TD='$TD'; LIVE='$LIVE'"
	sed -n '/^case_[a-z]*() {/,/^}/p;/^setup_[a-z]*() {/,/^}/p' "$0"
} >"$TMP/cases.sh"
cd "$TMP" || exit 1
for c in ${*:-plan apply live}; do
	JDIR=w/st
	live_problems=$problems
	if [ "$c" = live ]; then
		JDIR=$LIVE/st
		if ! live_setup >why; then
			echo "skip: torture live ($(cat why); needs root, a writable cgroup memory controller, haproxy and python3)"
			continue
		fi
	fi
	if grep -q "^setup_$c()" cases.sh && ! sh -c ". '$TMP/cases.sh'; setup_$c" >out 2>err; then
		problem "$c: its setup failed"
		continue
	fi
	run_case "$c"
	base_rc=$rc
	rm -rf base && mkdir base && mv w base/w && cp out base/out
	[ "$c" = live ] && ! live_check "without a fault" && continue
	run_case "$c" ADPART_TORTURE_LOG="$TMP/points" LD_PRELOAD="$FM"
	if [ "$rc" -ne "$base_rc" ]; then
		problem "$c: exit $rc with the allocation recorder, $base_rc without"
		continue
	fi
	absorbed=0
	clean=0
	npoints=0
	for p in $(cat points); do
		npoints=$((npoints + 1))
		run_case "$c" ADPART_TORTURE_FAIL="$p" LD_PRELOAD="$FM"
		judge "$c" "allocation point 0x$p$(where "$p")"
		if [ "$c" = live ] && ! live_check "allocation point 0x$p"; then
			echo "torture live: the stack is left broken; the points after this one are not run" >&2
			break
		fi
	done
	rm -f points
	nwrites=0
	# A broken live stack fails every later run: no point in going on.
	calls="write fsync rename"
	[ "$c" = live ] && [ "$problems" -gt "$live_problems" ] && calls=""
	for point in $calls; do
		n=1
		same=0
		# Past the last call every run is the baseline again. A fault
		# absorbed before it (a retry into apply's reserve) is one too, so
		# only three such runs in a row end the loop.
		while [ "$same" -lt 3 ]; do
			run_case "$c" ADPART_TEST_FAULT="$point:$n:1"
			if [ "$rc" -eq "$base_rc" ] && cmp -s out base/out; then
				same=$((same + 1))
			else
				same=0
			fi
			judge "$c" "$point $n"
			if [ "$c" = live ] && ! live_check "$point $n"; then
				echo "torture live: the stack is left broken; the points after this one are not run" >&2
				break 2
			fi
			n=$((n + 1))
		done
		nwrites=$((nwrites + n - 1 - same))
		absorbed=$((absorbed - same))
	done
	[ "$c" = live ] && live_end
	echo "torture $c: $npoints allocation points, $nwrites write/fsync/rename calls: $clean failed cleanly, $absorbed absorbed with the same output"
done
echo "torture: $problems problems"
[ "$problems" -eq 0 ]
