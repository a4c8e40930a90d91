# apply: real processes in real cgroups, journal, resume, rollback, refusals.
# Cases needing root and a writable cgroup hierarchy skip when unavailable.

AP="$TMP/apply"
mkdir -p "$AP"
STACK_TOP=$TOP
. "$TOP/tests/stack.sh"
. "$TOP/tests/cli/lib.sh"
AP_PORT=$((20000 + ($$ % 2000) * 2))
AP_CG="adpart-cli-$$"

# ap_files HEALTH_PORT_B: writes inventory and schedule; node-b's health
# URL uses HEALTH_PORT_B (a port nothing listens on makes it fail).
ap_files() {
	ap_io=""
	[ -n "${5:-}" ] && ap_io=", \"io\": {\"column\": \"Value\", \"scale\": $5}"
	cat >"$AP/inv.json" <<JSON
{"partitions": [
  {"name": "node-a", "zone": "z1", "capacity": {"cpu": 2, "memory": "4GiB"}, "cgroup": {"path": "$AP_CG/node-a"}${AP_VERIFY:-}},
  {"name": "node-b", "zone": "z1", "capacity": {"cpu": 2, "memory": "4GiB"}, "cgroup": {"path": "$AP_CG/node-b"}}],
 "components": [{"name": "web", "tier": 0, "replicas": 1, "placement": ["node-a"],
  "min": {"cpu": 0.1, "memory": "64MiB"},
  "history": {"file": "$TD/demo/history/api-01.csv", "format": "columns", "delimiter": ",",
   "time_column": "TimeStamp", "time_format": "rfc3339",
   "columns": {"cpu": {"column": "Value", "scale": 0.002}, "memory": {"column": "Value", "scale": ${3:-1048576}}$ap_io}},
  "run": {"argv": ["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "{port}"],
   "ports": {"node-a": $AP_PORT, "node-b": $(($AP_PORT + 1))}, "stop_grace": 2},
  $2
  "health": {"command": ["/usr/bin/python3", "-c",
   "import sys,urllib.request;p={'node-a':$AP_PORT,'node-b':$1}['{partition}'];urllib.request.urlopen('http://127.0.0.1:%d/'%p,timeout=2)"],
   "retries": 5, "timeout": 3}}]}
JSON
	cli_schedule "$AP/sched.json" t node-a "$AP/updates.log" "${4:-:}"
	(cd "$AP" && "$BIN" plan -i inv.json -s sched.json --now 2018-05-06T00:00:00Z -f plan.json >/dev/null 2>&1)
	AP_NOW=$(cli_plan_start "$AP/plan.json")
}

# The original instance, started outside apply and adopted by its pid file.
ap_start_original() {
	mkdir -p "$AP/st/proc"
	setsid /usr/bin/python3 -m http.server --bind 127.0.0.1 "$AP_PORT" >/dev/null 2>&1 &
	ap_pid=$!
	i=0
	while [ $i -lt 50 ] && ! curl -s -o /dev/null "http://127.0.0.1:$AP_PORT/"; do sleep 0.1; i=$((i + 1)); done
	echo "$ap_pid $(cut -d')' -f2 "/proc/$ap_pid/stat" | awk '{print $20}')" >"$AP/st/proc/web.0@node-a.pid"
}

ap_kill_all() {
	for f in "$AP"/st/proc/*.pid; do
		[ -e "$f" ] && kill -9 "$(cut -d' ' -f1 "$f")" 2>/dev/null
	done
	rm -rf "$AP/st"
}

# ap_expect_pre_state NAME: the original serves, the shadow does not, the
# shadow's cgroup is gone.
ap_expect_end_state() {
	name=$1
	if curl -s -o /dev/null "http://127.0.0.1:$AP_PORT/"; then ok; else bad "original does not serve"; fi
	if curl -s -o /dev/null "http://127.0.0.1:$(($AP_PORT + 1))/"; then bad "shadow still serves"; else ok; fi
	if [ -d "$AP_CGROOT/memory/$AP_CG/node-b/web.0" ]; then bad "shadow cgroup left behind"; else ok; fi
}

# Prints "server status weight" for each server of be_web from "show stat".
ap_hap_stat() { stack_hap_stat "$AP/hap.sock" | sed -n 's/^be_web //p'; }

# A real HAProxy on loopback: node-a serves, node-b (the shadow) is in
# maintenance; apply moves traffic to node-b and back.
ap_haproxy_case() {
	cat >"$AP/haproxy.cfg" <<CFG
global
	stats socket $AP/hap.sock mode 600 level admin
defaults
	mode http
	timeout connect 1s
	timeout client 5s
	timeout server 5s
frontend fe
	bind 127.0.0.1:$(($AP_PORT + 2))
	default_backend be_web
backend be_web
	server node-a 127.0.0.1:$AP_PORT weight 100
	server node-b 127.0.0.1:$(($AP_PORT + 1)) weight 100 disabled
CFG
	/usr/sbin/haproxy -db -f "$AP/haproxy.cfg" >"$AP/haproxy.log" 2>&1 &
	ap_hap=$!
	i=0
	while [ $i -lt 50 ] && [ ! -S "$AP/hap.sock" ]; do sleep 0.1; i=$((i + 1)); done
	ap_files $(($AP_PORT + 1)) "\"traffic\": {\"haproxy_socket\": \"$AP/hap.sock\", \"backend\": \"be_web\"},"
	ap_start_original
	ap_hap_stat >"$AP/hap.before"
	ap_crash_after 6 "apply with haproxy crash after switch_traffic"
	ap_hap_stat >"$AP/hap.mid"
	name="apply with haproxy: traffic on the shadow after switch_traffic"
	if grep -q "^node-b no check 100" "$AP/hap.mid" && grep -q "^node-a no check 0" "$AP/hap.mid"; then ok; else
		bad "haproxy state: $(cat "$AP/hap.mid")"; fi
	if curl -s -o /dev/null "http://127.0.0.1:$(($AP_PORT + 2))/"; then ok; else bad "frontend does not serve"; fi
	run_ap "apply with haproxy resume" 0 apply -d st --resume plan.json
	ap_expect_end_state "apply with haproxy end state"
	ap_hap_stat >"$AP/hap.after"
	name="apply with haproxy: traffic back on the original"
	if grep -q "^node-a no check 100" "$AP/hap.after" && cmp -s "$AP/hap.before" "$AP/hap.after"; then ok; else
		bad "haproxy state: $(cat "$AP/hap.after"), before: $(cat "$AP/hap.before")"; fi
	if curl -s -o /dev/null "http://127.0.0.1:$(($AP_PORT + 2))/"; then ok; else bad "frontend does not serve"; fi
	ap_kill_all
	ap_start_original
	ap_crash_after 8 "apply with haproxy crash after stop_original"
	run_ap "apply with haproxy rollback" 4 apply -d st --rollback plan.json
	ap_expect_end_state "apply with haproxy rollback end state"
	ap_hap_stat >"$AP/hap.after"
	name="apply with haproxy rollback: weights and states as before"
	if cmp -s "$AP/hap.before" "$AP/hap.after"; then ok; else
		bad "haproxy state: $(cat "$AP/hap.after"), before: $(cat "$AP/hap.before")"; fi
	ap_kill_all
	kill "$ap_hap" 2>/dev/null
	wait "$ap_hap" 2>/dev/null
	run_ap "apply refuses an unreachable haproxy socket" 6 apply -d st --now "$AP_NOW" plan.json
	expect_err "cannot reach haproxy"
	ap_kill_all
}

apply_in() {
	(cd "$AP" && "$BIN" "$@")
}

# ap_recorded NAME WANT PATTERN WHY [OPTION...]: with the original
# running, apply with the OPTIONs exits WANT and its run record matches
# PATTERN (else WHY).
ap_recorded() {
	ap_name=$1 ap_want=$2 ap_pattern=$3 ap_why=$4
	shift 4
	ap_start_original
	run_ap "$ap_name" "$ap_want" apply -d st "$@" --now "$AP_NOW" plan.json
	if grep -q "$ap_pattern" "$AP/st/run.json"; then ok; else bad "$ap_why"; fi
}

# ap_verify_files VERIFY: the files, with node-a's verify section VERIFY.
ap_verify_files() {
	AP_VERIFY=", \"verify\": $1"
	ap_files $(($AP_PORT + 1)) ""
	unset AP_VERIFY
}

# ap_crash_after STEP NAME: apply exits 137, as killed, after STEP.
ap_crash_after() {
	ADPART_TEST_CRASH_AFTER_STEP=$1
	export ADPART_TEST_CRASH_AFTER_STEP
	run_ap "$2" 137 apply -d st --now "$AP_NOW" plan.json
	unset ADPART_TEST_CRASH_AFTER_STEP
}

run_ap() {
	name=$1
	want=$2
	shift 2
	apply_in "$@" >"$TMP/out" 2>"$TMP/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		bad "exit status $got, expected $want"
		return 1
	fi
	ok
}

ap_files 0 ""
run_ap "apply dry-run" 0 apply --dry-run --now "$AP_NOW" plan.json
expect_out "start_shadow +node-b +web"
expect_out "run_update +node-a"

run_ap "apply refuses an expired plan" 6 apply -d st --now 2018-05-07T00:00:00Z plan.json
expect_err "the plan expired [0-9]+h([0-9]+m)? ago \(at 2018-05-06T[0-9:]+Z\): plan again"
expect_no_file "$AP/st/journal.json"

run_ap "apply --resume without a journal" 6 apply -d st --resume plan.json
expect_err "nothing to resume"

run_ap "apply refuses a component missing from the inventory" 6 apply -d st -i "$TD/demo/inventory.json" \
	--now "$AP_NOW" plan.json
expect_err "component 'web' is not in the inventory"
expect_no_file "$AP/st/journal.json"

sed 's/"run": {/"run_disabled": {/' "$AP/inv.json" >"$AP/inv-norun.json"
run_ap "apply rejects an unknown inventory field" 6 apply -d st -i inv-norun.json --now "$AP_NOW" plan.json
expect_err "run_disabled"

/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); del d["components"][0]["run"]; json.dump(d, open(sys.argv[2], "w"))' \
	"$AP/inv.json" "$AP/inv-norun.json"
run_ap "apply refuses a component without a run section" 6 apply -d st -i inv-norun.json \
	--now "$AP_NOW" plan.json
expect_err "component 'web' has no run section"

sed "s/\"node-b\": $(($AP_PORT + 1))/\"node-b\": 70000/" "$AP/inv.json" >"$AP/inv-badport.json"
run_ap "plan checks run.ports at load time, with the line" 1 plan -i inv-badport.json -s sched.json \
	--now 2018-05-06T00:00:00Z -f badport.json
expect_err "inv-badport.json:[0-9]+: components\[0\]\.run\.ports\.node-b: expected a port number"
run_ap "apply checks run.ports at load time, with the line" 6 apply -d st -i inv-badport.json \
	--now "$AP_NOW" plan.json
expect_err "inv-badport.json:[0-9]+: components\[0\]\.run\.ports\.node-b: expected a port number"

run_ap "apply rejects --resume with --rollback" 64 apply -d st --resume --rollback plan.json
run_ap "apply rejects a monitor interval out of range" 64 apply -d st --monitor-interval 0 plan.json
expect_err "--monitor-interval '0': expected seconds from 0.1 to 3600"
run_ap "apply rejects a monitor interval that is not a number" 64 apply -d st --monitor-interval 5s plan.json
expect_err "--monitor-interval '5s'"

mkdir -p "$AP/st"
: >"$AP/holding"
flock "$AP/st/lock" sh -c ': >"$0.held"; while [ -e "$0" ]; do sleep 0.1; done' "$AP/holding" &
ap_flock=$!
while [ ! -e "$AP/holding.held" ]; do sleep 0.1; done
run_ap "apply refuses while another holds the lock" 6 apply -d st --now "$AP_NOW" plan.json
expect_err "another apply holds the lock"
rm -f "$AP/holding"
wait "$ap_flock"

# One apply at a time on the host, whatever the state directory: another
# directory's apply holding the host lock refuses this one, naming it.
: >"$AP/holding"
flock "$ADPART_HOST_LOCK" sh -c ': >"$0.held"; while [ -e "$0" ]; do sleep 0.1; done' "$AP/holding" &
ap_flock=$!
while [ ! -e "$AP/holding.held" ]; do sleep 0.1; done
run_ap "apply refuses while another state directory's apply holds the host lock" 6 apply -d st-other \
	--now "$AP_NOW" plan.json
expect_err "another apply holds this host's lock '$ADPART_HOST_LOCK'"
rm -f "$AP/holding"
wait "$ap_flock"
ln -s "$AP/victim" "$AP/host-link"
run_ap "the host lock is never opened through a symbolic link" 6 apply -d st-other --host-lock "$AP/host-link" \
	--now "$AP_NOW" plan.json
expect_err "cannot open lock '$AP/host-link': it is a symbolic link"
name="the host lock's link target is untouched"
if [ ! -e "$AP/victim" ]; then ok; else bad "the link was followed"; fi

cp "$AP/sched.json" "$AP/sched.orig"
echo " " >>"$AP/sched.json"
run_ap "apply refuses a stale plan" 6 apply -d st --now "$AP_NOW" plan.json
expect_err "stale plan: schedule 'sched.json' changed"
cp "$AP/sched.orig" "$AP/sched.json"
rm -rf "$AP/st"

AP_CGROOT=""
if [ "$(id -u)" -eq 0 ] && grep -q ' cgroup .*memory' /proc/mounts && [ -w /sys/fs/cgroup/memory ] &&
	[ -x /usr/bin/python3 ] && command -v curl >/dev/null 2>&1; then
	AP_CGROOT=/sys/fs/cgroup
fi

if [ -z "$AP_CGROOT" ]; then
	echo "skip: apply with real cgroups (needs root, cgroup v1 memory controller, /usr/bin/python3, curl)" >&2
else
	ap_files $(($AP_PORT + 1)) ""

	ap_start_original
	run_ap "apply full run" 0 apply -d st --now "$AP_NOW" plan.json
	expect_out "applied: 15 steps done"
	ap_expect_end_state "apply full run end state"
	if grep -q '"outcome": "done"' "$AP/st/run.json"; then ok; else bad "run record lacks outcome done"; fi
	if grep -q "updated node-a" "$AP/updates.log"; then ok; else bad "update command did not run"; fi
	run_ap "apply refuses to apply twice" 6 apply -d st --now "$AP_NOW" plan.json
	expect_err "already applied"
	run_ap "apply --rollback after success" 4 apply -d st --rollback plan.json
	ap_expect_end_state "apply rollback end state"
	ap_kill_all

	for n in 1 2 6 8 9 11 14; do
		ap_start_original
		ap_crash_after $n "apply crash after step $n"
		run_ap "apply refuses an unfinished journal after step $n" 6 apply -d st plan.json
		expect_err "use --resume or --rollback"
		run_ap "apply --resume after step $n" 0 apply -d st --resume plan.json
		ap_expect_end_state "apply resume after $n end state"
		ap_kill_all
	done

	ap_start_original
	ap_crash_after 9 "apply crash before rollback"
	run_ap "apply --rollback after a crash" 4 apply -d st --rollback plan.json
	ap_expect_end_state "apply rollback after crash end state"

	name="apply run record has observations"
	if grep -q '"predicted_p95"' "$AP/st/run.json"; then ok; else bad "no observations in the run record"; fi
	ap_kill_all

	# The shadow's partition cgroup already exists with 1 MiB of memory.
	mkdir -p "$AP_CGROOT/memory/$AP_CG/node-b"
	echo 1048576 >"$AP_CGROOT/memory/$AP_CG/node-b/memory.limit_in_bytes"
	run_ap "apply refuses when capacity is not free" 6 apply -d st --now "$AP_NOW" plan.json
	expect_err "capacity not free: wave 1 needs [0-9]+ bytes of memory in partition 'node-b'"
	expect_no_file "$AP/st/journal.json"
	rmdir "$AP_CGROOT/memory/$AP_CG/node-b"

	# The update command sends SIGTERM to apply: it stops after the step.
	ap_files $(($AP_PORT + 1)) "" 1048576 'kill -TERM $PPID'
	ap_start_original
	run_ap "apply stops on SIGTERM at a step boundary" 7 apply -d st --now "$AP_NOW" plan.json
	expect_err "stopped at a step boundary"
	if grep -q '"state": "stopped"' "$AP/st/journal.json"; then ok; else bad "journal state is not stopped"; fi
	run_ap "apply --resume after SIGTERM" 0 apply -d st --resume plan.json
	ap_expect_end_state "apply resume after SIGTERM end state"
	ap_kill_all

	# A forecast of a few hundred bytes: the shadow's real memory exceeds it.
	ap_files $(($AP_PORT + 1)) "" 1
	ap_recorded "apply deviation with rollback policy" 4 '"decision": "rollback"' "no rollback decision recorded" \
		--on-deviation rollback
	ap_expect_end_state "apply deviation rollback end state"
	ap_kill_all
	ap_recorded "apply deviation with warn policy" 0 '"decision": "warn"' "no warn decision recorded" --on-deviation warn
	ap_kill_all
	ap_recorded "apply deviation with grow policy" 0 '"grown_to"' "no growth recorded" --on-deviation grow
	ap_kill_all

	# verify_partition runs the partition's verify command: failing, it rolls back.
	ap_verify_files '{"command": ["/bin/sh", "-c", "echo checking $ADPART_PARTITION; exit 3"], "timeout": 5}'
	ap_recorded "apply failing verify command rolls back" 4 "verify of partition 'node-a' failed: '/bin/sh' exited 3" \
		"run record lacks the verify failure"
	ap_expect_end_state "apply failing verify end state"
	if grep -q "checking node-a" "$AP/st/logs/verify-node-a.log"; then ok; else bad "verify command did not run"; fi
	ap_kill_all
	ap_verify_files '{"command": ["/bin/true"]}'
	ap_recorded "apply passing verify command" 0 "partition 'node-a': cgroup ready, verify command passed" \
		"run record lacks the verify result"
	ap_kill_all
	# Logs are capped at 16 MiB, then moved to LOG.1: a command writing
	# 17 MiB leaves both, and the current log holds the tail.
	ap_verify_files '{"command": ["/bin/sh", "-c", "yes | head -c 17825792; echo tail-line"], "timeout": 30}'
	ap_recorded "apply with a verbose verify command" 0 "verify command passed" "run record lacks the verify result"
	name="a log is capped and moved aside"
	i=0
	while [ "$i" -lt 50 ] && ! grep -q tail-line "$AP/st/logs/verify-node-a.log" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	sz=$(stat -c %s "$AP/st/logs/verify-node-a.log" 2>/dev/null || echo 0)
	sz1=$(stat -c %s "$AP/st/logs/verify-node-a.log.1" 2>/dev/null || echo 0)
	if [ "$sz1" -gt 0 ] && [ "$sz1" -le 16777216 ] && [ "$sz" -lt 16777216 ] &&
		grep -q tail-line "$AP/st/logs/verify-node-a.log"; then ok; else
		bad "log $sz bytes, log.1 $sz1 bytes"; fi
	ap_kill_all
	# A log planted as a symbolic link is refused, its target untouched.
	mkdir -p "$AP/st/logs"
	ln -s "$AP/log-victim" "$AP/st/logs/verify-node-a.log"
	ap_recorded "apply with a log planted as a symlink rolls back" 4 "cannot open log .*: it is a symbolic link" \
		"run record lacks the refused log"
	name="a log's symlink target is untouched"
	if [ ! -e "$AP/log-victim" ]; then ok; else bad "the link was followed"; fi
	ap_kill_all

	# Monitoring on a timer during a long update: a forecast of a few
	# bytes, so every sample deviates; warn records it during the step.
	ap_files $(($AP_PORT + 1)) "" 1 'sleep 2'
	ap_start_original
	run_ap "apply monitors during a long step" 0 apply -d st --on-deviation warn --monitor-interval 0.5 \
		--now "$AP_NOW" plan.json
	if grep -q '"during_step"' "$AP/st/run.json"; then ok; else bad "no observation during a step"; fi
	ap_kill_all

	# An io forecast: the shadow's cgroup gets a blkio throttle on the disk
	# of apply's working directory.
	ap_files $(($AP_PORT + 1)) "" 1048576 ":" 10000
	ap_start_original
	ap_crash_after 1 "apply with an io allocation, crash after create_partition"
	name="apply io limit in blkio.throttle.read_bps_device"
	f="$AP_CGROOT/blkio/$AP_CG/node-b/web.0/blkio.throttle.read_bps_device"
	if [ -d "$AP_CGROOT/blkio" ]; then
		if grep -Eq '^[0-9]+:[0-9]+ [1-9][0-9]*$' "$f" 2>/dev/null; then ok; else bad "no throttle in $f: $(cat "$f" 2>&1)"; fi
		if grep -q 'io limit [0-9]* bytes/s on [0-9]*:[0-9]*' "$AP/st/journal.json"; then ok; else
			bad "the step's message lacks the io limit"; fi
	fi
	run_ap "apply with an io allocation resumes" 0 apply -d st --resume plan.json
	ap_expect_end_state "apply with an io allocation end state"
	ap_kill_all

	# The shadow's health check probes a port nothing listens on.
	ap_files $(($AP_PORT + 7)) ""
	rm -f "$AP/updates.log"
	ap_start_original
	run_ap "apply failing health check rolls back" 4 apply -d st --now "$AP_NOW" plan.json
	expect_err "rolled back"
	ap_expect_end_state "apply failed health end state"
	if grep -q '"outcome": "rolled_back"' "$AP/st/run.json"; then ok; else bad "run record lacks rolled_back"; fi
	if [ -e "$AP/updates.log" ] && grep -q updated "$AP/updates.log"; then bad "update ran despite failure"; else ok; fi
	ap_kill_all
	if [ -x /usr/sbin/haproxy ]; then
		ap_haproxy_case
	else
		echo "skip: apply with HAProxy (haproxy not installed)" >&2
	fi
	rmdir "$AP_CGROOT"/*/"$AP_CG"/node-a/web.0 "$AP_CGROOT"/*/"$AP_CG"/node-a "$AP_CGROOT"/*/"$AP_CG"/node-b \
		"$AP_CGROOT"/*/"$AP_CG" 2>/dev/null
fi
