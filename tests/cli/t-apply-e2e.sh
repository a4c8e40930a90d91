# apply end to end on this host: a real HAProxy on loopback in front of
# two components (python http.server processes) on cgroup partitions, a
# bounded load generator sending requests through HAProxy the whole time.
# Shows: no failed request through a full apply; kill -9 after every step
# of the plan, and in the middle of the update, then --resume completes
# and leaves every component serving; a shadow failing its health check,
# a shadow answering 500 (caught by HAProxy's counters over its canary)
# and a failing update command roll back without a failed request; stale
# and expired plans are refused. Needs root and a writable cgroup
# hierarchy; skips otherwise.

E2E="$TMP/e2e"
mkdir -p "$E2E"
E2E_CG="adpart-e2e-$$"
STACK_TOP=$TOP
. "$TOP/tests/stack.sh"
. "$TOP/tests/cli/lib.sh"
E2E_OK=1
e2e_why=$(stack_why)
if [ -z "$e2e_why" ] && ! command -v curl >/dev/null 2>&1; then
	e2e_why="curl is missing"
fi
if [ -n "$e2e_why" ]; then
	echo "skip: apply end to end ($e2e_why; needs root, a writable cgroup memory controller, /usr/sbin/haproxy, /usr/bin/python3 and curl from .ci/deps)" >&2
	E2E_OK=0
fi

# e2e_files TAG [UPDATE_SHELL] [SHADOW_HEALTH_PATH]: inventory, schedule
# and plan TAG.json. The update command runs UPDATE_SHELL first; health
# asks for /ok, which only node-a's directory has when the third argument
# is "broken" (the shadow answers 404).
e2e_files() {
	tag=$1
	web_canary=""
	[ -n "${E2E_CANARY:-}" ] && web_canary=", \"canary_seconds\": $E2E_CANARY"
	e2e_health='{"http": "http://127.0.0.1:{port}/ok", "retries": 10, "timeout": 2}'
	{
		stack_partitions "$E2E_CG"
		STACK_ARGV=${E2E_WEB_ARGV:-}
		stack_component "$E2E" web 0 node-a "{\"node-a\": $P_WA, \"node-b\": $P_WB}" be_web \
			"$E2E/www-{partition}${3:+-$3}" "0.002 1048576" "$e2e_health" "$web_canary"
		STACK_ARGV=""
		echo ","
		stack_component "$E2E" api 1 node-a "{\"node-a\": $P_AA, \"node-b\": $P_AB}" be_api "$E2E/www-{partition}" \
			"0.001 1048576" "$e2e_health"
		echo "]}"
	} >"$E2E/inv-$tag.json"
	cli_schedule "$E2E/sched-$tag.json" e2e node-a "$E2E/updates.log" "${2:-:}"
	(cd "$E2E" && "$BIN" plan -i "inv-$tag.json" -s "sched-$tag.json" --now 2018-05-06T00:00:00Z \
		-f "$tag.json" >/dev/null 2>&1)
}

e2e_run() {
	name=$1
	want=$2
	shift 2
	(cd "$E2E" && "$BIN" "$@") >"$TMP/out" 2>"$TMP/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		bad "exit status $got, expected $want"
		return 1
	fi
	ok
}

# Both frontends answer 200 and both originals (node-a) serve; the
# shadows (node-b) do not.
e2e_serving() {
	name=$1
	for p in $P_FW $P_FA $P_WA $P_AA; do
		if curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$p/"; then ok; else bad "port $p does not serve"; fi
	done
	for p in $P_WB $P_AB; do
		if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$p/"; then bad "shadow on $p still serves"; else ok; fi
	done
}

e2e_load_start() {
	stack_load_start "$E2E/load.out" 20 900 "http://127.0.0.1:$P_FW/" "http://127.0.0.1:$P_FA/"
}

# e2e_load_stop NAME: stops the load generator; no request may have failed.
e2e_load_stop() {
	name=$1
	stack_load_stop "$E2E/load.out"
	e2e_load_line=$STACK_LOAD_LINE
	echo "e2e: $name: $e2e_load_line" >&2
	case "$e2e_load_line" in
	*" failed=0 "*) ok ;;
	*) bad "failed requests: $(cat "$E2E/load.out")" ;;
	esac
	case "$e2e_load_line" in
	requests=0\ *) bad "no requests were sent" ;;
	*) ok ;;
	esac
}

e2e_hap_stat() { stack_hap_stat "$E2E/hap.sock"; }

# e2e_until_update_started: waits (30 s at most) until the journal has
# a run_update step started.
e2e_until_update_started() {
	i=0
	while [ $i -lt 300 ] && ! stack_journal_has run_update started "$E2E/st/journal.json"; do
		sleep 0.1
		i=$((i + 1))
	done
}

if [ "$E2E_OK" -eq 1 ]; then
	set -- $(stack_ports 9)
	P_WA=$1 P_WB=$2 P_AA=$3 P_AB=$4 P_FW=$5 P_FA=$6 P_PA=$7 P_PB=$8 P_FP=$9
	mkdir -p "$E2E/www-node-a" "$E2E/www-node-b" "$E2E/www-node-b-broken"
	echo ok >"$E2E/www-node-a/ok"
	echo ok >"$E2E/www-node-b/ok"
	# A real operator's configuration: retries and redispatch on
	# connection failures, as one sets for rolling restarts.
	{
		stack_hap_pair web "$P_FW" "$P_WA" "$P_WB"
		stack_hap_pair api "$P_FA" "$P_AA" "$P_AB"
		cat <<CFG
frontend fe_pool
	bind 127.0.0.1:$P_FP
	default_backend be_pool
backend be_pool
	server node-a 127.0.0.1:$P_PA weight 100
	server node-b 127.0.0.1:$P_PB weight 100
CFG
	} >"$E2E/backends.cfg"
	stack_haproxy "$E2E" 500 502 503 504 <"$E2E/backends.cfg"
	e2e_files main
	e2e_files slow "sleep 3"
	e2e_files badshadow ":" broken
	e2e_files failupdate "exit 9"
	# A shadow that passes its health check but answers 500 to real
	# requests: the canary's counters in HAProxy catch it.
	cat >"$E2E/srv500.py" <<'PY'
import http.server, sys
port, part = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if self.path == "/ok" or part != "node-b" else 500
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
	E2E_WEB_ARGV="[\"/usr/bin/python3\", \"$E2E/srv500.py\", \"{port}\", \"{partition}\"]" E2E_CANARY=1.5 \
		e2e_files canary500
	steps=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["steps"]))' "$E2E/main.json")
	nsteps=$( (cd "$E2E" && "$BIN" apply --dry-run --now "$(cli_plan_start "$E2E/main.json")" main.json) | grep -c '  wave ')

	# The originals, started before apply in node-a's cgroups, adopted
	# by their pid files.
	for c in web:$P_WA api:$P_AA; do
		stack_original "$E2E/st/proc/${c%%:*}.0@node-a.pid" "$E2E/www-node-a" "${c#*:}" "$E2E_CG/node-a/${c%%:*}.0"
	done
	e2e_hap_stat >"$E2E/hap.before"

	e2e_load_start
	e2e_run "e2e full apply" 0 apply -d st --now "$(cli_plan_start "$E2E/main.json")" main.json
	e2e_serving "e2e full apply end state"
	name="e2e full apply: HAProxy weights and states as before"
	e2e_hap_stat >"$E2E/hap.after"
	if cmp -s "$E2E/hap.before" "$E2E/hap.after"; then ok; else bad "$(cat "$E2E/hap.after")"; fi
	name="e2e full apply: originals run in node-a's cgroups"
	if grep -q "$E2E_CG/node-a/web.0" "/proc/$(cut -d' ' -f1 "$E2E/st/proc/web.0@node-a.pid")/cgroup"; then ok; else
		bad "web's original is not in its cgroup"; fi
	cp "$E2E/st/run.json" "$E2E/run-full.json"

	# kill -9 at every step of the plan, then --resume: once after the
	# step's action, before the journal records it done (resume repeats
	# it), once right after it is journaled done.
	killed=0
	for hook in ADPART_TEST_CRASH_BEFORE_DONE ADPART_TEST_CRASH_AFTER_STEP; do
		id=1
		while [ "$id" -le "$nsteps" ]; do
			rm -f "$E2E/st/journal.json" "$E2E/st/run.json"
			export "$hook=$id"
			e2e_run "e2e kill -9 at step $id ($hook)" 137 apply -d st --now "$(cli_plan_start "$E2E/main.json")" main.json
			unset "$hook"
			action=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"][int(sys.argv[2])-1]["action"])' \
				"$E2E/st/journal.json" "$id")
			if [ "$action" = start_shadow ]; then
				name="e2e shadow in its cgroup at step $id"
				f=$(ls "$E2E"/st/proc/*@node-b.pid | head -n 1)
				if grep -q "$E2E_CG/node-b/" "/proc/$(cut -d' ' -f1 "$f")/cgroup"; then ok; else
					bad "shadow not in node-b"; fi
			fi
			e2e_run "e2e resume at step $id ($action, $hook)" 0 apply -d st --resume main.json
			e2e_serving "e2e serving after resume at step $id ($action, $hook)"
			killed=$((killed + 1))
			id=$((id + 1))
		done
	done
	name="e2e every step killed"
	if [ "$killed" -eq $((2 * nsteps)) ] && [ "$nsteps" -eq "$steps" ] && [ "$nsteps" -ge 28 ]; then ok; else
		bad "killed $killed times for $nsteps steps (plan has $steps)"; fi
	echo "e2e: killed with -9 and resumed $killed times: at each of the $nsteps steps, before and after it is journaled done" >&2

	# A real kill -9 while the (3 s) update command runs.
	rm -f "$E2E/st/journal.json" "$E2E/st/run.json"
	(cd "$E2E" && exec "$BIN" apply -d st --now "$(cli_plan_start "$E2E/slow.json")" slow.json) >/dev/null 2>&1 &
	e2e_apply=$!
	e2e_until_update_started
	kill -9 "$e2e_apply"
	wait "$e2e_apply" 2>/dev/null
	e2e_run "e2e resume after kill -9 during the update" 0 apply -d st --resume slow.json
	e2e_serving "e2e serving after kill -9 during the update"
	name="e2e update repeated after the kill"
	if grep -q '"action": "run_update"' "$E2E/st/run.json" && [ "$i" -lt 300 ]; then ok; else bad "update not reached"; fi
	e2e_load_stop "full apply and $killed kills with resume"

	e2e_load_start
	rm -f "$E2E/st/journal.json" "$E2E/st/run.json" "$E2E/updates.log"
	e2e_run "e2e shadow failing its health check rolls back" 4 apply -d st --now "$(cli_plan_start "$E2E/badshadow.json")" badshadow.json
	e2e_serving "e2e serving after the failed shadow"
	name="e2e failed shadow: rolled back, update not run"
	if grep -q '"outcome": "rolled_back"' "$E2E/st/run.json" && [ ! -e "$E2E/updates.log" ]; then ok; else
		bad "outcome or update wrong"; fi
	rm -f "$E2E/st/journal.json" "$E2E/st/run.json"
	e2e_run "e2e failing update command rolls back" 4 apply -d st --now "$(cli_plan_start "$E2E/failupdate.json")" failupdate.json
	e2e_serving "e2e serving after the failed update"
	name="e2e failed update: the run record names it"
	if grep -q "update of 'node-a' failed: '/bin/sh' exited 9" "$E2E/st/run.json"; then ok; else bad "no update failure"; fi
	rm -f "$E2E/st/journal.json" "$E2E/st/run.json" "$E2E/updates.log"
	e2e_run "e2e a shadow answering 500 fails its canary and rolls back" 4 apply -d st \
		--now "$(cli_plan_start "$E2E/canary500.json")" canary500.json
	e2e_serving "e2e serving after the failed canary"
	name="e2e failed canary: HAProxy's counters named, update not run"
	if grep -q "canary of 'web' on 'node-b' failed: haproxy counted [1-9][0-9]* errors and 5xx" "$E2E/st/run.json" &&
		[ ! -e "$E2E/updates.log" ]; then ok; else bad "no canary failure recorded"; fi
	name="e2e passing canary: its figures in the run record"
	if grep -q "canary: [0-9]* requests, 0 errors" "$E2E/run-full.json"; then ok; else bad "no canary figures"; fi
	e2e_hap_stat >"$E2E/hap.after"
	name="e2e after the rollbacks: HAProxy weights and states as before"
	if cmp -s "$E2E/hap.before" "$E2E/hap.after"; then ok; else bad "$(cat "$E2E/hap.after")"; fi

	rm -f "$E2E/st/journal.json" "$E2E/st/run.json"
	e2e_run "e2e refuses an expired plan" 6 apply -d st --now 2018-05-08T00:00:00Z main.json
	expect_err "expired"
	cp "$E2E/sched-main.json" "$E2E/sched-main.orig"
	echo " " >>"$E2E/sched-main.json"
	e2e_run "e2e refuses a stale plan" 6 apply -d st --now "$(cli_plan_start "$E2E/main.json")" main.json
	expect_err "stale plan: schedule 'sched-main.json' changed"
	mv "$E2E/sched-main.orig" "$E2E/sched-main.json"
	expect_no_file "$E2E/st/journal.json"
	e2e_serving "e2e serving after the refusals"
	e2e_load_stop "failed shadow, failed update, refusals"

	# The state directory's disk fills up just as the update is to start
	# (every journal write from then on fails): apply does not run the
	# update, brings every moved component home from the journal in
	# memory, exits 8 saying so and naming --rollback; once the disk has
	# room, --rollback records the rollback. No request fails meanwhile.
	e2e_load_start
	rm -f "$E2E/st/journal.json" "$E2E/st/run.json"
	upd=$(/usr/bin/python3 -c 'import json,sys; print([s["action"] for s in json.load(open(sys.argv[1]))["steps"]].index("run_update"))' "$E2E/main.json")
	ADPART_TEST_FAULT="write:$((2 + 2 * upd))" e2e_run "e2e full disk under the journal at the update: exit 8" 8 \
		apply -d st --now "$(cli_plan_start "$E2E/main.json")" main.json
	expect_err "journal could not be written .*No space left on device.*rolled back what it had done.*--rollback"
	name="e2e full disk: the update never ran"
	if grep -q "run_update" "$E2E/st/journal.json" && /usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if all(s["status"] == "pending" for s in j["steps"] if s["action"] == "run_update") else 1)' "$E2E/st/journal.json"; then
		ok; else bad "$(head -c 600 "$E2E/st/journal.json")"; fi
	e2e_serving "e2e serving after the full disk"
	e2e_run "e2e full disk: --rollback records the rollback once there is room" 4 apply -d st --rollback main.json
	name="e2e full disk: journal rolled back"
	if grep -q '"state": "rolled_back"' "$E2E/st/journal.json"; then ok; else bad "$(head -c 300 "$E2E/st/journal.json")"; fi
	e2e_serving "e2e serving after the recorded rollback"
	e2e_load_stop "full disk under the journal, then --rollback"

	# A shadow that dies after its health check: web's shadow is killed
	# with -9 while the (8 s) update runs and carries all of web's
	# traffic. Monitoring (every 0.5 s) finds its process gone, stops the
	# update and rolls the wave back, so the original serves again; apply
	# exits 4 and never reports success. The failed requests and the
	# seconds without a serving instance are reported (not zero: nothing
	# serves between the kill and the original's return).
	e2e_files deadshadow "sleep 8"
	stack_load_start "$E2E/load-dead.out" 20 300 "http://127.0.0.1:$P_FW/"
	rm -f "$E2E/st/journal.json" "$E2E/st/run.json" "$E2E/updates.log"
	(cd "$E2E" && exec "$BIN" apply -d st --now "$(cli_plan_start "$E2E/deadshadow.json")" --monitor-interval 0.5 deadshadow.json) \
		>"$TMP/out" 2>"$TMP/err" &
	e2e_apply=$!
	e2e_until_update_started
	sleep 0.5
	kill -9 "$(cut -d' ' -f1 "$E2E/st/proc/web.0@node-b.pid")"
	wait "$e2e_apply"
	got=$?
	name="e2e dead shadow: the wave rolls back (exit 4), never reported as success"
	if [ "$got" -eq 4 ] && [ "$i" -lt 300 ] && grep -q '"outcome": "rolled_back"' "$E2E/st/run.json"; then ok; else
		bad "exit $got after $i polls: $(cat "$TMP/err")"; fi
	name="e2e dead shadow: observed down, the update stopped"
	if /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
down = [o for o in r.get("observations", []) if o.get("state") == "down"]
ok = any(o["component"] == "web" and o["role"] == "shadow" and o["partition"] == "node-b" and
         o["decision"] == "rollback" and "process is gone" in o["message"] for o in down)
upd = [s for s in r["steps"] if s["action"] == "run_update"]
sys.exit(0 if ok and upd and upd[0]["status"] == "failed" else 1)' "$E2E/st/run.json" && [ ! -e "$E2E/updates.log" ]; then
		ok; else bad "$(head -c 1500 "$E2E/st/run.json")"; fi
	expect_err "rolled back"
	e2e_serving "e2e serving after the dead shadow"
	stack_load_stop "$E2E/load-dead.out"
	line=$STACK_LOAD_LINE
	echo "e2e: shadow killed during the update: $line" >&2
	name="e2e dead shadow: service back within seconds"
	outage=${line##*outage_s=}
	outage=${outage%% *}
	case "$line" in
	requests=0\ *) bad "no requests: $line" ;;
	*) if /usr/bin/python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 15 else 1)' "$outage"; then ok; else
		bad "no instance served for $outage s: $line"; fi ;;
	esac

	# A real full disk: the state directory on a 4 MiB tmpfs, filled
	# (dd until ENOSPC) while the update runs and the shadows carry the
	# traffic, their request logs going to the same disk. The shadows go on
	# serving (the log shepherd drops what the disk will not take); the
	# journal write that finds the disk full releases apply's reserve and
	# lands in the room it left, apply stops acting, rolls back (restarting
	# the originals, whose pid files need that room too), records it and
	# exits 4 saying why. Not one request fails. A new apply on the full
	# disk is refused: no room for its reserve. Before the reserve, this
	# rollback could not restart the originals (exit 8, nothing serving).
	# Skipped where tmpfs cannot be mounted.
	e2e_files fulldisk "sleep 4"
	mkdir -p "$E2E/small"
	if mount -t tmpfs -o size=4m,mode=0700 adpart-e2e "$E2E/small" 2>/dev/null; then
		mkdir -p "$E2E/small/st/proc"
		cp "$E2E"/st/proc/*@node-a.pid "$E2E/small/st/proc/"
		stack_load_start "$E2E/load-full.out" 20 300 "http://127.0.0.1:$P_FW/" "http://127.0.0.1:$P_FA/"
		(cd "$E2E" && exec "$BIN" apply -d small/st --now "$(cli_plan_start "$E2E/fulldisk.json")" fulldisk.json) >"$TMP/out" 2>"$TMP/err" &
		e2e_apply=$!
		i=0
		while [ $i -lt 300 ] && ! stack_journal_has run_update started "$E2E/small/st/journal.json"; do
			sleep 0.1
			i=$((i + 1))
		done
		dd if=/dev/zero of="$E2E/small/fill" bs=64k 2>/dev/null
		wait "$e2e_apply"
		got=$?
		name="e2e real full disk during the update: stopped, rolled back into the reserve's room (exit 4)"
		if [ "$got" -eq 4 ] && [ "$i" -lt 300 ] &&
			grep -q "the disk under the state directory 'small/st' filled up (.*No space left on device).*rolled back" "$TMP/err"; then
			ok; else bad "exit $got after $i polls: $(cat "$TMP/err")"; fi
		name="e2e real full disk: the rollback journaled, the run record says why, the reserve used"
		if grep -q '"state": "rolled_back"' "$E2E/small/st/journal.json" &&
			grep -q '"stopped_by": "the disk under the state directory' "$E2E/small/st/run.json" &&
			[ ! -e "$E2E/small/st/reserve" ]; then ok; else
			bad "$(head -c 400 "$E2E/small/st/journal.json")"; fi
		e2e_serving "e2e serving on a full disk"
		rm -f "$E2E/small/st/journal.json" "$E2E/small/st/run.json"
		dd if=/dev/zero of="$E2E/small/fill2" bs=4k 2>/dev/null
		e2e_run "e2e real full disk: a new apply is refused, no room for its reserve" 6 apply -d small/st \
			--now "$(cli_plan_start "$E2E/fulldisk.json")" fulldisk.json
		expect_err "no room in the state directory for apply's reserve.*cannot reserve .* MiB in 'small/st/reserve': No space left on device"
		expect_no_file "$E2E/small/st/journal.json"
		rm -f "$E2E/small/fill" "$E2E/small/fill2"
		stack_load_stop "$E2E/load-full.out"
		echo "e2e: real full disk: $STACK_LOAD_LINE" >&2
		name="e2e real full disk: no failed request"
		case "$STACK_LOAD_LINE" in
		requests=0\ *) bad "no requests: $STACK_LOAD_LINE" ;;
		*" failed=0 "*) ok ;;
		*) bad "$(cat "$E2E/load-full.out")" ;;
		esac
		# The originals were restarted from there: the main state
		# directory adopts them again, so that the cleanup stops them.
		cp "$E2E"/small/st/proc/*@node-a.pid "$E2E/st/proc/"
		umount -l "$E2E/small"
	else
		echo "skip: apply on a real full disk (tmpfs cannot be mounted here)" >&2
	fi

	# An absorbed replica: "pool" runs on both partitions behind HAProxy;
	# with a weight on moves the plan keeps pool#0 down with node-a while
	# pool#1 on node-b, resized, carries the load: drained and disabled in
	# HAProxy, stopped, updated, started, health-checked and enabled again,
	# without a failed request; node-b's limits exactly as before at the end.
	# (The update takes 2 s, so that requests arrive while pool#0 is down.)
	sed -e 's/"max_concurrency": 1,/"max_concurrency": 1, "weights": {"moves": 1000},/' \
		-e 's/":; echo updated/"sleep 2; echo updated/' "$E2E/sched-main.json" >"$E2E/sched-abs.json"
	cat >"$E2E/inv-abs.json" <<JSON
{"partitions": [
  {"name": "node-a", "zone": "z1", "capacity": {"cpu": 2, "memory": "4GiB"}, "cgroup": {"path": "$E2E_CG/node-a"}},
  {"name": "node-b", "zone": "z1", "capacity": {"cpu": 2, "memory": "4GiB"}, "cgroup": {"path": "$E2E_CG/node-b"}}],
 "components": [
  {"name": "pool", "tier": 1, "replicas": 2, "placement": ["node-a", "node-b"], "min": {"cpu": 0.1, "memory": "64MiB"},
   "history": {"file": "$TD/demo/history/api-01.csv", "format": "columns", "delimiter": ",",
    "time_column": "TimeStamp", "time_format": "rfc3339",
    "columns": {"cpu": {"column": "Value", "scale": 0.001}, "memory": {"column": "Value", "scale": 1048576}}},
   "run": {"argv": ["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "{port}"],
    "cwd": "$E2E/www-node-a", "ports": {"node-a": $P_PA, "node-b": $P_PB}, "stop_grace": 2},
   "health": {"http": "http://127.0.0.1:{port}/ok", "retries": 10, "timeout": 2},
   "traffic": {"haproxy_socket": "$E2E/hap.sock", "backend": "be_pool"}}]}
JSON
	(cd "$E2E" && "$BIN" plan -i inv-abs.json -s sched-abs.json --now 2018-05-06T00:00:00Z -f abs.json >/dev/null 2>&1)
	name="e2e absorbed: the plan keeps pool#0 down with node-a and resizes pool#1"
	if /usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
a = [s["action"] for s in p["steps"]]
ok = p["waves"][0].get("absorbed") == [{"component": "pool", "replica": 0, "partition": "node-a"}] and \
    a[0] == "resize" and a[-1] == "restore_size" and "drain_absorbed" in a and "undrain_absorbed" in a and \
    "create_partition" not in a
sys.exit(0 if ok else 1)' "$E2E/abs.json"; then ok; else bad "$(head -c 600 "$E2E/abs.json")"; fi
	for c in node-a:0:$P_PA node-b:1:$P_PB; do
		part=${c%%:*}
		r=${c#*:}
		r=${r%%:*}
		stack_original "$E2E/st-abs/proc/pool.$r@$part.pid" "$E2E/www-node-a" "${c##*:}" "$E2E_CG/$part/pool.$r"
	done
	e2e_lim() {
		for f in cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us memory/memory.limit_in_bytes; do
			cat "/sys/fs/cgroup/${f%%/*}/$E2E_CG/node-b/pool.1/${f#*/}" 2>/dev/null || echo "-"
		done | tr '\n' ' '
	}
	lim_before=$(e2e_lim)
	e2e_hap_stat >"$E2E/hap-abs.before"
	stack_load_start "$E2E/load-abs.out" 20 300 "http://127.0.0.1:$P_FP/"
	e2e_run "e2e apply with an absorbed replica" 0 apply -d st-abs --now "$(cli_plan_start "$E2E/abs.json")" abs.json
	stack_load_stop "$E2E/load-abs.out"
	line=$STACK_LOAD_LINE
	echo "e2e: absorbed replica: $line" >&2
	name="e2e absorbed: no failed request through HAProxy"
	case "$line" in
	requests=0\ * | requests=[0-9]\ * | requests=[1-3][0-9]\ *) bad "too few requests during the apply: $line" ;;
	*" failed=0 "*) ok ;;
	*) bad "$(cat "$E2E/load-abs.out")" ;;
	esac
	name="e2e absorbed: drained and stopped, then started and healthy again, in order"
	if /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
a = [(s["action"], s.get("status")) for s in r["steps"]]
want = ["resize", "drain_absorbed", "stop_absorbed", "run_update", "verify_partition", "start_absorbed",
        "health_check_absorbed", "undrain_absorbed", "restore_size"]
sys.exit(0 if [x for x, _ in a] == want and all(st == "done" for _, st in a) else 1)' "$E2E/st-abs/run.json"; then ok; else
		bad "$(cat "$E2E/st-abs/run.json" | head -c 800)"; fi
	name="e2e absorbed: pool#1's cgroup limits exactly as before"
	if [ "$(e2e_lim)" = "$lim_before" ]; then ok; else bad "$(e2e_lim) vs $lim_before"; fi
	name="e2e absorbed: HAProxy weights and states as before"
	e2e_hap_stat >"$E2E/hap-abs.after"
	if cmp -s "$E2E/hap-abs.before" "$E2E/hap-abs.after"; then ok; else bad "$(cat "$E2E/hap-abs.after")"; fi
	name="e2e absorbed: both replicas serve"
	if curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$P_PA/" && curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$P_PB/"; then
		ok; else bad "a replica of pool does not serve"; fi
	# Clean up: instances, HAProxy, cgroups.
	stack_cleanup "$E2E_CG" "$E2E"/st-abs/proc/*.pid "$E2E"/st/proc/*.pid
fi
