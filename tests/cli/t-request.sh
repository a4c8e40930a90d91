# The request API (adpart-update request) on this host's real cgroups,
# with real processes: "hog" and "idle" are moved to node-b; the update
# command, run mid-apply, asks as a process put in hog's cgroup (granted,
# the limit seen in the cgroup file, given back at its expiry), as a
# process outside it and as one of idle's (refused: not hog's), above
# the bounds and too often (refused with the reason), and sends lines
# that are not requests (an error answer; apply goes on). With no
# headroom, priority 0 is refused and priority 1 borrows from idle.
# Needs root and a writable cgroup memory controller; skips otherwise.

# The command line, anywhere.
run "request without --why: usage" 64 request hog --memory 64MiB
if grep -q -- "--why" "$TMP/err"; then ok; else bad "stderr: $(cat "$TMP/err")"; fi
run "request with two resources: usage" 64 request hog --memory 64MiB --cpu 1 --why x
run "request --for above 1h: usage" 64 request hog --cpu 1 --for 2h --why x
run "request --priority 10: usage" 64 request hog --cpu 1 --priority 10 --why x
run "request --cpu not a number: usage" 64 request hog --cpu lots --why x
run "request with no apply listening: exit 1" 1 request hog --cpu 0.5 --why x -d "$TMP/no-apply"
if grep -q "no apply is listening on '$TMP/no-apply/request.sock'" "$TMP/err"; then ok; else bad "stderr: $(cat "$TMP/err")"; fi
run "apply --request-socket with --no-requests: usage" 64 apply --request-socket "$TMP/s" --no-requests plan.json

RQ="$TMP/request"
mkdir -p "$RQ"
STACK_TOP=$TOP
. "$TOP/tests/stack.sh"
. "$TOP/tests/cli/lib.sh"
RQ_CG="adpart-request-$$"
rq_why=$(stack_why)

# rq_files CAPACITY: the borrowing stack's files (tests/stack.sh) and
# plan.json, node-b's memory CAPACITY; hog holds its 32 MiB throughout.
rq_files() {
	stack_borrow_plan "$BIN" "$RQ" "$RQ_CG" "$1"
	RQ_NOW=$(cli_plan_start "$RQ/plan.json")
}

# limits.sh INSTANCE: its memory limit in bytes on node-b (v1 or v2), or "none".
stack_limit_script "$RQ/limits.sh" "$RQ_CG" node-b
# in.sh INSTANCE CMD...: CMD run as a process of INSTANCE's cgroup on node-b.
{
	echo 'i=$1; shift'
	echo 'for f in /sys/fs/cgroup/memory/'"$RQ_CG"'/node-b/$i/tasks \'
	echo '	'"$(stack_v2_root)/$RQ_CG"'/node-b/$i/cgroup.procs; do'
	echo '	[ -w "$f" ] && { echo $$ >"$f"; break; }'
	echo 'done'
	echo 'exec "$@"'
} >"$RQ/in.sh"
# raw.py SOCKET TEXT: sends TEXT as it is (LONG: 5000 bytes, no newline), prints the answer.
cat >"$RQ/raw.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"x" * 5000 if sys.argv[2] == "LONG" else sys.argv[2].encode() + b"\n")
print(s.makefile("rb").readline().decode().strip())
PY
# The update command: what it is asked for depends on $RQ/mode.
cat >"$RQ/update.sh" <<SH
cd "$RQ"
ask() { n=\$1; shift; "\$@" >out\$n 2>err\$n; echo \$? >rc\$n; }
if [ "\$(cat mode)" = headroom ]; then
	ask 1 "$BIN" request hog --memory 64MiB --why outside -d st
	ask 2 sh in.sh hog.0 "$BIN" request hog --memory 64MiB --for 2s --why "warm the cache" -d st -o json
	sh limits.sh hog.0 >snap1
	ask 3 sh in.sh hog.0 "$BIN" request hog --memory 8GiB --why "too much" -d st
	ask 4 sh in.sh idle.0 "$BIN" request hog --memory 64MiB --why "idle pretends" -d st
	/usr/bin/python3 raw.py st/request.sock 'not json' >out5
	/usr/bin/python3 raw.py st/request.sock LONG >out6
	/usr/bin/python3 raw.py st/request.sock '{"component": "hog", "resource": "disk", "amount": 1, "for": 1, "why": "x"}' >out7
	sleep 4
	sh limits.sh hog.0 >snap2
	for k in 8 9 10 11; do ask \$k sh in.sh hog.0 "$BIN" request hog --memory 1MiB --for 1s --why again -d st; done
else
	ask 1 sh in.sh hog.0 "$BIN" request hog --memory 64MiB --priority 0 --why "only the headroom" -d st
	ask 2 sh in.sh hog.0 "$BIN" request hog --memory 64MiB --priority 1 --why "from a neighbour" -d st
	echo "\$(sh limits.sh hog.0) \$(sh limits.sh idle.0)" >snap1
	ask 3 sh in.sh hog.0 "$BIN" request hog --memory 256MiB --priority 1 --why "more than there is" -d st
fi
SH

# rq_apply MODE NAME: apply on the stack, its update command asking as
# MODE says, expecting it done.
rq_apply() {
	echo "$1" >"$RQ/mode"
	(cd "$RQ" && "$BIN" apply -d st --now "$RQ_NOW" --monitor-interval 1 plan.json >"$TMP/out" 2>"$TMP/err")
	got=$?
	name=$2
	if [ "$got" -eq 0 ]; then ok; else bad "exit status $got: $(cat "$TMP/err")"; fi
}

rq_reset() {
	stack_kill_instances "$RQ"/st/proc/*.pid
	rm -rf "$RQ/st" "$RQ"/out* "$RQ"/err* "$RQ"/rc* "$RQ"/snap* "$RQ/ready"
}

# rq_requests FIELDS...: each journaled request of the run record as one line.
rq_requests() {
	/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
for q in r.get("requests", []):
    print(" ".join(str(q.get(f)) for f in sys.argv[2:]))' "$@"
}

MiB=1048576
if [ -n "$rq_why" ]; then
	echo "skip: the request API ($rq_why; needs root, a writable cgroup memory controller and /usr/bin/python3)" >&2
else
	rq_files 4GiB
	rq_apply headroom "apply taking requests: done"
	name="a process outside hog's cgroup is refused: not hog's (exit 3)"
	if [ "$(cat "$RQ/rc1")" = 3 ] && grep -q "refused: the caller (pid [0-9]*) is not a process of 'hog'" "$RQ/err1"; then ok; else
		bad "rc $(cat "$RQ/rc1"): $(cat "$RQ/err1")"; fi
	name="a process in hog's cgroup is granted one unit from the headroom"
	if [ "$(cat "$RQ/rc2")" = 0 ] && /usr/bin/python3 -c '
import json, sys
a = json.loads(open(sys.argv[1]).read())
assert a["state"] == "granted" and a["granted"] == 64 << 20 and a["id"] == 2, a
assert a["limit"] == 128 << 20 and a["expires_at"] > 0, a' "$RQ/out2"; then ok; else
		bad "rc $(cat "$RQ/rc2"): $(cat "$RQ/out2" "$RQ/err2")"; fi
	name="the grant is in hog's cgroup: 128 MiB"
	if [ "$(cat "$RQ/snap1")" = "$((128 * MiB))" ]; then ok; else bad "limit: $(cat "$RQ/snap1")"; fi
	name="above the bounds: refused with the reason"
	if [ "$(cat "$RQ/rc3")" = 3 ] && grep -q "refused: asks for more than 4.0 GiB, the most a request may have (64 units)" "$RQ/err3"; then
		ok; else bad "rc $(cat "$RQ/rc3"): $(cat "$RQ/err3")"; fi
	name="idle's process asking as hog: refused"
	if [ "$(cat "$RQ/rc4")" = 3 ] && grep -q "is not a process of 'hog'" "$RQ/err4"; then ok; else
		bad "rc $(cat "$RQ/rc4"): $(cat "$RQ/err4")"; fi
	name="a line that is not JSON: an error answer"
	if grep -q '^{"state":"error","granted":0.0,"reason":"request: not JSON: ' "$RQ/out5"; then ok; else bad "answer: $(cat "$RQ/out5")"; fi
	name="a line above 4 KiB: an error answer"
	if grep -q '"reason":"request: the line is longer than 4095 bytes"' "$RQ/out6"; then ok; else bad "answer: $(cat "$RQ/out6")"; fi
	name="an unknown resource: an error answer naming the field"
	if grep -q 'request: \\"resource\\": expected' "$RQ/out7"; then ok; else bad "answer: $(cat "$RQ/out7")"; fi
	name="at its expiry the unit is given back: 64 MiB"
	if [ "$(cat "$RQ/snap2")" = "$((64 * MiB))" ]; then ok; else bad "limit: $(cat "$RQ/snap2")"; fi
	name="more than 5 requests in 10 s from hog (the refused one counts): the sixth refused"
	if [ "$(cat "$RQ/rc8") $(cat "$RQ/rc9") $(cat "$RQ/rc10") $(cat "$RQ/rc11")" = "0 0 0 3" ] &&
		grep -q "more than 5 requests in 10 s from this instance" "$RQ/err11"; then ok; else
		bad "rcs $(cat "$RQ/rc8") $(cat "$RQ/rc9") $(cat "$RQ/rc10") $(cat "$RQ/rc11"): $(cat "$RQ/err11")"; fi
	name="the run record journals every request that parsed, with its state"
	rq_requests "$RQ/st/run.json" id component replica state granted >"$RQ/reqs"
	if [ "$(sed -n 1,4p "$RQ/reqs" | tr '\n' ';')" = "1 hog None refused 0.0;2 hog 0 granted $((64 * MiB)).0;3 hog 0 refused 0.0;4 hog None refused 0.0;" ] &&
		[ "$(wc -l <"$RQ/reqs")" -eq 8 ]; then ok; else bad "requests: $(cat "$RQ/reqs")"; fi
	name="the lines not understood are counted (the one cut at 4 KiB is only answered)"
	if grep -q '"requests_malformed": 2' "$RQ/st/run.json"; then ok; else bad "no count"; fi
	name="the request's loan: from the headroom, given back at its expiry"
	if /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
l = [l for l in r["loans"] if l.get("request") == 2]
assert len(l) == 1 and "from" not in l[0] and l[0]["state"] == "returned", l
assert l[0]["returned_why"] == "the request expired", l
assert all(l["state"] == "returned" for l in r["loans"]), r["loans"]' "$RQ/st/run.json"; then ok; else
		bad "loans: $(grep -c request "$RQ/st/run.json")"; fi
	name="the socket is gone once apply ended"
	if [ ! -e "$RQ/st/request.sock" ]; then ok; else bad "still there"; fi
	rq_reset

	# No headroom on node-b: priority 0 takes only from less critical
	# neighbours (none), priority 1 from idle, of the same tier.
	rq_files 370MiB
	rq_apply tight "apply taking requests without headroom: done"
	name="priority 0 without headroom: refused, nothing to spare"
	if [ "$(cat "$RQ/rc1")" = 3 ] && grep -q "refused: nothing to spare on 'node-b'" "$RQ/err1"; then ok; else
		bad "rc $(cat "$RQ/rc1"): $(cat "$RQ/err1")"; fi
	name="priority 1: idle lends one unit, keeping its guarantee"
	if [ "$(cat "$RQ/rc2")" = 0 ] && [ "$(cat "$RQ/snap1")" = "$((128 * MiB)) $((256 * MiB))" ]; then ok; else
		bad "rc $(cat "$RQ/rc2"): $(cat "$RQ/err2" "$RQ/out2"), limits $(cat "$RQ/snap1")"; fi
	name="four units asked, idle can spare two more: partly granted (exit 2)"
	if [ "$(cat "$RQ/rc3")" = 2 ] && grep -q "^partial: 128.0 MiB for 'hog' (request 3), its limit now 256.0 MiB" "$RQ/out3" &&
		grep -q "partly granted: no more to spare on 'node-b'" "$RQ/err3"; then ok; else
		bad "rc $(cat "$RQ/rc3"): $(cat "$RQ/out3" "$RQ/err3")"; fi
	name="the loan from idle is the request's, given back at the wave's end"
	if /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
l = [l for l in r["loans"] if l.get("request") == 2]
assert len(l) == 1 and l[0]["from"]["component"] == "idle" and l[0]["state"] == "returned", l' "$RQ/st/run.json"; then ok; else
		bad "loans"; fi
	rq_reset
	stack_cleanup "$RQ_CG"
fi
