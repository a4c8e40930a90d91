# apply --semaphore: a fleet slot on a real etcd (Debian's etcd-server)
# on loopback, through its v3 JSON gateway. Applies of one plan in state
# directories of their own stand for the hosts of a fleet: with one slot
# they run one after another; a holder killed with -9 frees its slot
# after the lease's TTL, not before; etcd killed mid-apply stops the
# holder at the next step boundary, and --resume with etcd back goes on;
# a --resume after a crash keeps its lease; and every refusal and bad
# option a user can hit.

. "$TOP/tests/cli/lib.sh"

if ! command -v etcd >/dev/null 2>&1; then
	echo "SKIP: t-fleet.sh: no etcd (Debian's etcd-server; .ci/deps installs it)" >&2
else

FL="$TMP/fleet"
mkdir -p "$FL"
FL_CPORT=$(cli_free_port)
FL_PPORT=$(cli_free_port)
while [ "$FL_PPORT" = "$FL_CPORT" ]; do FL_PPORT=$(cli_free_port); done
FL_URL="http://127.0.0.1:$FL_CPORT"
FL_ETCD_PID=""

# fl_etcd_start: etcd on the loopback ports and its data directory under
# $FL (kept across a restart); false when not ready within 20 s.
fl_etcd_start() {
	etcd --name default --data-dir "$FL/etcd" \
		--listen-client-urls "$FL_URL" --advertise-client-urls "$FL_URL" \
		--listen-peer-urls "http://127.0.0.1:$FL_PPORT" --initial-advertise-peer-urls "http://127.0.0.1:$FL_PPORT" \
		--initial-cluster "default=http://127.0.0.1:$FL_PPORT" >>"$FL/etcd.log" 2>&1 &
	FL_ETCD_PID=$!
	fl_i=0
	while [ $fl_i -lt 100 ]; do
		curl -fsS -X POST "$FL_URL/v3/kv/range" -d '{"key": "AA=="}' >/dev/null 2>&1 && return 0
		sleep 0.2
		fl_i=$((fl_i + 1))
	done
	return 1
}

# fl_etcd_kill: SIGKILL, as a crash or a lost machine.
fl_etcd_kill() {
	[ -n "$FL_ETCD_PID" ] || return 0
	kill -9 "$FL_ETCD_PID" 2>/dev/null
	wait "$FL_ETCD_PID" 2>/dev/null
	FL_ETCD_PID=""
}
trap 'fl_etcd_kill; rm -rf "$TMP"' EXIT

# fl_b64 TEXT: TEXT in base64, as the gateway takes keys and values.
fl_b64() { printf '%s' "$1" | base64 -w0; }

# fl_hold GROUP SLOT HOST: holds a slot as another host would (a lease of
# 60 s, a put only if absent); its lease id in FL_HELD.
fl_hold() {
	FL_HELD=$(curl -fsS -X POST "$FL_URL/v3/lease/grant" -d '{"TTL": 60}' | jq -r .ID)
	curl -fsS -X POST "$FL_URL/v3/kv/txn" -d "{\"compare\": [{\"key\": \"$(fl_b64 "/adpart-update/semaphore/$1/$2")\",
		\"target\": \"CREATE\", \"result\": \"EQUAL\", \"create_revision\": \"0\"}],
		\"success\": [{\"request_put\": {\"key\": \"$(fl_b64 "/adpart-update/semaphore/$1/$2")\",
		\"value\": \"$(fl_b64 "{\"host\":\"$3\",\"state_dir\":\"/var/lib/adpart-update/state\",\"pid\":4242,\"plan\":\"x 0123456789ab\",\"since\":\"2018-05-06T04:00:00Z\"}")\",
		\"lease\": \"$FL_HELD\"}}]}" | jq -e .succeeded >/dev/null
}
fl_unhold() { curl -fsS -X POST "$FL_URL/v3/lease/revoke" -d "{\"ID\": \"$FL_HELD\"}" >/dev/null; }

# fl_keys GROUP: how many slot keys of GROUP etcd holds.
fl_keys() {
	curl -fsS -X POST "$FL_URL/v3/kv/range" -d "{\"key\": \"$(fl_b64 "/adpart-update/semaphore/$1/")\",
		\"range_end\": \"$(fl_b64 "/adpart-update/semaphore/$1" | base64 -d | sed 's/$/0/' | base64 -w0)\",
		\"count_only\": true}" | jq -r '.count // "0"'
}

# fl_lease DIR: the lease the journal in DIR holds.
fl_lease() { jq -r '.slot.lease // empty' "$1/journal.json" 2>/dev/null; }

# fl_wait_for COMMAND...: up to 20 s for COMMAND to succeed.
fl_wait_for() {
	fl_i=0
	while ! "$@" && [ $fl_i -lt 200 ]; do sleep 0.1; fl_i=$((fl_i + 1)); done
	"$@"
}

cli_web_inventory "$FL/inv.json"
cat >"$FL/sched.json" <<JSON
{"name": "x", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": ["node-a"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "plan_ttl": "24h", "period": "1d"}
JSON
cli_slot_hook "$FL/hook"

name="fleet: etcd starts on loopback"
if fl_etcd_start; then ok; else bad "etcd not ready: $(tail -n 5 "$FL/etcd.log")"; fi
"$BIN" plan --driver exec -i "$FL/inv.json" -s "$FL/sched.json" --now 2018-05-06T00:00:00Z -f "$FL/plan.json" \
	>/dev/null 2>&1
FLSTART=$(cli_plan_start "$FL/plan.json")
FLSTEPS=$(jq '.steps | length' "$FL/plan.json")
FLAPPLY="apply --driver exec --hook $FL/hook --now $FLSTART"
# fl_host N: the options of "host" N: its own state directory and host lock.
fl_host() { echo "-d $FL/st$1 --host-lock $FL/host$1.lock"; }
# fl_apply N ARGS... &: the apply of host N at the plan's start, only
# ever in the background: it execs the binary, so that $! is its pid.
fl_apply() {
	fl_n=$1
	shift
	exec "$BIN" $FLAPPLY $(fl_host "$fl_n") "$@" "$FL/plan.json"
}

# --- (1) three hosts, one slot: one after another ----------------------------
rm -rf "$FL"/st*
for n in 1 2 3; do
	HOOK_SLEEP=0.15 fl_apply $n --semaphore "$FL_URL" --semaphore-group serial >"$FL/out$n" 2>"$FL/err$n" &
	eval "fl_pid$n=\$!"
done
fl_rcs=""
for n in 1 2 3; do
	eval "wait \$fl_pid$n"
	fl_rcs="$fl_rcs $?"
done
name="fleet: three applies sharing one slot all finish"
if [ "$fl_rcs" = " 0 0 0" ]; then ok; else bad "exit statuses$fl_rcs: $(cat "$FL/err1" "$FL/err2" "$FL/err3")"; fi
name="fleet: with one slot, no two applies' steps overlap (journals' first start to last end)"
if cli_serial "$FL/st1" "$FL/st2" "$FL/st3" >"$FL/overlap" 2>&1; then ok; else bad "$(cat "$FL/overlap")"; fi
name="fleet: each journaled the same slot key with a lease of its own"
if [ "$(jq -r .slot.key "$FL"/st[123]/journal.json | sort -u)" = /adpart-update/semaphore/serial/0 ] &&
	[ "$(jq -r .slot.lease "$FL"/st[123]/journal.json | sort -u | wc -l)" -eq 3 ] &&
	[ "$(jq -r .slot.group "$FL/st1/journal.json")" = serial ]; then ok; else bad "$(jq -c .slot "$FL"/st[123]/journal.json)"; fi
name="fleet: each apply released its slot at the end"
if [ "$(fl_keys serial)" = 0 ]; then ok; else bad "$(fl_keys serial) keys left"; fi

# --- two slots: two at once, never three ----------------------------------------
rm -rf "$FL"/st*
for n in 1 2 3; do
	HOOK_SLEEP=0.15 fl_apply $n --semaphore "$FL_URL" --semaphore-group pair --semaphore-slots 2 >"$FL/out$n" 2>"$FL/err$n" &
	eval "fl_pid$n=\$!"
done
fl_rcs=""
for n in 1 2 3; do
	eval "wait \$fl_pid$n"
	fl_rcs="$fl_rcs $?"
done
name="fleet: with two slots, two applies overlap and the third waits"
if [ "$fl_rcs" = " 0 0 0" ] && /usr/bin/python3 - "$FL/st1" "$FL/st2" "$FL/st3" >"$FL/overlap" 2>&1 <<'PY'
import json, sys
ev = []
for d in sys.argv[1:]:
    s = json.load(open(d + '/journal.json'))['steps']
    ev += [(min(x['start_ms'] for x in s), 1), (max(x['end_ms'] for x in s), -1)]
n = top = 0
for t, e in sorted(ev, key=lambda x: (x[0], x[1])):
    n += e
    top = max(top, n)
if top != 2:
    sys.exit('at most %d at once' % top)
PY
then ok; else bad "exit statuses$fl_rcs; $(cat "$FL/overlap")"; fi
name="fleet: two slots are keys 0 and 1"
if [ "$(jq -r .slot.key "$FL"/st[123]/journal.json | sort -u | tr '\n' ' ')" = \
	"/adpart-update/semaphore/pair/0 /adpart-update/semaphore/pair/1 " ]; then ok; else
	bad "$(jq -r .slot.key "$FL"/st[123]/journal.json)"; fi

# --- (2) a holder killed with -9: its slot frees after the TTL, not before ---------
rm -rf "$FL"/st*
HOOK_SLEEP=3 fl_apply 1 --semaphore "$FL_URL" --semaphore-group crash --semaphore-ttl 5s >"$FL/out1" 2>"$FL/err1" &
fl_pid1=$!
fl_has_lease() { [ -n "$(fl_lease "$FL/st1")" ]; }
fl_wait_for fl_has_lease
kill -9 $fl_pid1
wait $fl_pid1 2>/dev/null
fl_killed=$(date +%s%3N)
run "fleet: a second apply waits for the killed holder's slot, then applies" 0 $FLAPPLY $(fl_host 2) \
	--semaphore "$FL_URL" --semaphore-group crash --semaphore-ttl 5s "$FL/plan.json" && expect_out "applied: $FLSTEPS steps done"
# The lease was last renewed at most a third of the TTL before the kill:
# the slot cannot free earlier than 5 - 5/3 s after it. The upper bound is
# generous (etcd's expiry sweep, the waiter's poll, a loaded machine).
fl_first=$(jq '[.steps[].start_ms] | min' "$FL/st2/journal.json")
name="fleet: the killed holder's slot freed after its TTL, not before ($(( (fl_first - fl_killed) / 1000 )) s)"
if [ $((fl_first - fl_killed)) -ge 3000 ] && [ $((fl_first - fl_killed)) -le 30000 ]; then ok; else
	bad "the second apply's first step began $((fl_first - fl_killed)) ms after the kill"; fi
name="fleet: the waiter took the same slot"
if [ "$(jq -r .slot.key "$FL/st2/journal.json")" = /adpart-update/semaphore/crash/0 ] &&
	[ "$(fl_lease "$FL/st2")" != "$(fl_lease "$FL/st1")" ]; then ok; else bad "$(jq -c .slot "$FL"/st[12]/journal.json)"; fi

# --- (3) etcd killed mid-apply: stop at the next step boundary; --resume goes on ---------
rm -rf "$FL"/st* "$FL/mark"
HOOK_SLOW_ID=3 HOOK_SLOW_S=9 HOOK_MARK="$FL/mark" fl_apply 1 --semaphore "$FL_URL" --semaphore-group lost \
	--semaphore-ttl 5s >"$TMP/out" 2>"$TMP/err" &
fl_pid1=$!
fl_wait_for test -e "$FL/mark"
fl_etcd_kill
wait $fl_pid1
fl_rc=$?
name="fleet: etcd killed mid-apply: the holder stops at the next step boundary (exit 7)"
if [ $fl_rc -eq 7 ]; then ok; else bad "exit status $fl_rc"; fi
expect_err "the fleet slot '/adpart-update/semaphore/lost/0' of group 'lost' was lost \(its lease [0-9]+ could not be kept alive"
expect_err "--resume takes a slot again"
name="fleet: stopped right after the step under way: 3 done, the rest pending, journal stopped"
if [ "$(jq -r .state "$FL/st1/journal.json")" = stopped ] &&
	[ "$(jq '[.steps[] | select(.status == "done")] | length' "$FL/st1/journal.json")" -eq 3 ] &&
	[ "$(jq '[.steps[] | select(.status == "pending")] | length' "$FL/st1/journal.json")" -eq $((FLSTEPS - 3)) ] &&
	jq -e '.stopped_by | test("was lost")' "$FL/st1/journal.json" >/dev/null; then ok; else
	bad "$(jq -c '[.state, [.steps[].status]]' "$FL/st1/journal.json")"; fi
expect_out "next: adpart-update apply --resume --driver exec -d $FL/st1 --semaphore $FL_URL --semaphore-group lost --semaphore-ttl 5s $FL/plan.json"
run "fleet: --resume without --semaphore is refused, the journal kept" 6 $FLAPPLY $(fl_host 1) --resume "$FL/plan.json" &&
	expect_err "the journal's run held a fleet slot of group 'lost': --resume goes on only holding one \(give --semaphore URL"
name="fleet: the refused resume acted on nothing"
if [ "$(jq -r .state "$FL/st1/journal.json")" = stopped ] &&
	[ "$(jq '[.steps[] | select(.status == "done")] | length' "$FL/st1/journal.json")" -eq 3 ]; then ok; else
	bad "$(jq -c '[.state, [.steps[].status]]' "$FL/st1/journal.json")"; fi
name="fleet: etcd restarts on its data directory"
if fl_etcd_start; then ok; else bad "etcd not ready again: $(tail -n 5 "$FL/etcd.log")"; fi
run "fleet: --resume with etcd back takes a slot and finishes" 0 $FLAPPLY $(fl_host 1) --resume \
	--semaphore "$FL_URL" --semaphore-group lost --semaphore-ttl 5s "$FL/plan.json" && expect_out "applied: $FLSTEPS steps done"
name="fleet: the resumed apply held the slot and released it"
if [ "$(jq -r .state "$FL/st1/journal.json")" = done ] && [ -n "$(fl_lease "$FL/st1")" ] && [ "$(fl_keys lost)" = 0 ]; then ok; else
	bad "state $(jq -r .state "$FL/st1/journal.json"), $(fl_keys lost) keys left"; fi

# --- (4) --resume after a kill -9 within the TTL keeps the same lease ----------------------
rm -rf "$FL"/st*
ADPART_TEST_CRASH_AFTER_STEP=4
export ADPART_TEST_CRASH_AFTER_STEP
run "fleet: apply killed after step 4, holding its slot" 137 $FLAPPLY $(fl_host 1) --semaphore "$FL_URL" \
	--semaphore-group keep "$FL/plan.json"
unset ADPART_TEST_CRASH_AFTER_STEP
fl_l1=$(fl_lease "$FL/st1")
name="fleet: the crashed apply's slot is still held"
if [ -n "$fl_l1" ] && [ "$(fl_keys keep)" = 1 ]; then ok; else bad "lease '$fl_l1', $(fl_keys keep) keys"; fi
run "fleet: --resume within the TTL keeps the slot and finishes" 0 $FLAPPLY $(fl_host 1) --resume --semaphore "$FL_URL" \
	--semaphore-group keep "$FL/plan.json" && expect_out "applied: $FLSTEPS steps done"
name="fleet: the journal shows the same lease after --resume, released at the end"
if [ "$(fl_lease "$FL/st1")" = "$fl_l1" ] && [ "$(fl_keys keep)" = 0 ]; then ok; else
	bad "lease $(fl_lease "$FL/st1"), was $fl_l1; $(fl_keys keep) keys left"; fi
# Past the TTL the lease is gone: the resume takes a slot anew.
rm -rf "$FL"/st*
ADPART_TEST_CRASH_AFTER_STEP=4
export ADPART_TEST_CRASH_AFTER_STEP
run "fleet: apply with a 5 s lease killed after step 4" 137 $FLAPPLY $(fl_host 1) --semaphore "$FL_URL" \
	--semaphore-group expire --semaphore-ttl 5s "$FL/plan.json"
unset ADPART_TEST_CRASH_AFTER_STEP
fl_l1=$(fl_lease "$FL/st1")
fl_gone() { [ "$(fl_keys expire)" = 0 ]; }
fl_wait_for fl_gone
run "fleet: --resume after the TTL takes a slot anew and finishes" 0 $FLAPPLY $(fl_host 1) --resume --semaphore "$FL_URL" \
	--semaphore-group expire --semaphore-ttl 5s "$FL/plan.json" && expect_out "applied: $FLSTEPS steps done"
name="fleet: a new lease after the TTL"
if [ -n "$(fl_lease "$FL/st1")" ] && [ "$(fl_lease "$FL/st1")" != "$fl_l1" ]; then ok; else
	bad "lease $(fl_lease "$FL/st1"), was $fl_l1"; fi

# --- (5) refusals: nothing changed ---------------------------------------------------------
rm -rf "$FL"/st*
FL_DEAD="http://127.0.0.1:$(cli_free_port)"
run "fleet: etcd unreachable refuses (exit 6), naming the URL" 6 $FLAPPLY $(fl_host 1) --semaphore "$FL_DEAD" \
	"$FL/plan.json" && expect_err "refused: cannot take a fleet slot of group 'x' \(no data fails closed\): etcd '$FL_DEAD'" &&
	expect_no_file "$FL/st1/journal.json"
run "fleet: several endpoints are tried in order" 0 $FLAPPLY $(fl_host 1) --semaphore "$FL_DEAD,$FL_URL" "$FL/plan.json" &&
	expect_out "applied: $FLSTEPS steps done"
rm -rf "$FL"/st*
fl_hold held 0 db-7
run "fleet: every slot held past --semaphore-wait refuses (exit 6), naming the holder" 6 $FLAPPLY $(fl_host 1) \
	--semaphore "$FL_URL" --semaphore-group held --semaphore-wait 1s "$FL/plan.json" &&
	expect_err "refused: no fleet slot free in group 'held' \(1 slot at etcd '$FL_URL'\) after waiting 1s, --semaphore-wait's limit: slot 0 held by host 'db-7' \(pid 4242, state dir '/var/lib/adpart-update/state', plan 'x 0123456789ab'" &&
	expect_no_file "$FL/st1/journal.json"
run "fleet: the wait ends at the latest start the plan allows" 6 apply --driver exec --hook "$FL/hook" $(fl_host 1) \
	--now "$(cli_time_add "$FLSTART" 297)" --semaphore "$FL_URL" --semaphore-group held "$FL/plan.json" &&
	expect_err "after waiting [0-9]s, as long as the plan's timing allows \(a later start would overrun its cutoff\): slot 0 held by host 'db-7'.*: plan again for a later start" &&
	expect_no_file "$FL/st1/journal.json"
"$BIN" $FLAPPLY $(fl_host 1) --semaphore "$FL_URL" --semaphore-group held "$FL/plan.json" >"$TMP/out" 2>"$TMP/err" &
fl_pid1=$!
sleep 1
kill -TERM $fl_pid1
wait $fl_pid1
fl_rc=$?
name="fleet: SIGTERM while waiting for a slot stops with nothing changed (exit 7)"
if [ $fl_rc -eq 7 ] && grep -q "stopped while waiting for a fleet slot of group 'held': nothing was changed" "$TMP/err" &&
	[ "$(jq -r .state "$FL/st1/journal.json")" = stopped ] &&
	[ "$(jq '[.steps[] | select(.status != "pending")] | length' "$FL/st1/journal.json")" -eq 0 ]; then ok; else
	bad "exit $fl_rc: $(cat "$TMP/err")"; fi
fl_unhold
rm -rf "$FL"/st*
ADPART_SEMAPHORE=$FL_URL
export ADPART_SEMAPHORE
run "fleet: \$ADPART_SEMAPHORE gives the URL" 0 $FLAPPLY $(fl_host 1) "$FL/plan.json"
name="fleet: \$ADPART_SEMAPHORE: the slot is journaled"
if [ "$(jq -r .slot.key "$FL/st1/journal.json")" = /adpart-update/semaphore/x/0 ]; then ok; else bad "no slot in the journal"; fi
ADPART_SEMAPHORE=etcd:2379
run "fleet: a bad \$ADPART_SEMAPHORE is a usage error" 64 $FLAPPLY $(fl_host 1) "$FL/plan.json" &&
	expect_err "ADPART_SEMAPHORE: etcd endpoint 'etcd:2379' is not http://HOST:PORT"
unset ADPART_SEMAPHORE
# --rollback takes no slot: an unreachable etcd does not stop it.
rm -rf "$FL"/st*
ADPART_TEST_CRASH_AFTER_STEP=4
export ADPART_TEST_CRASH_AFTER_STEP
run "fleet: apply killed after step 4 (to roll back)" 137 $FLAPPLY $(fl_host 1) --semaphore "$FL_URL" \
	--semaphore-group rb --semaphore-ttl 5s "$FL/plan.json"
unset ADPART_TEST_CRASH_AFTER_STEP
run "fleet: --rollback takes no slot (etcd unreachable, rolled back)" 4 $FLAPPLY $(fl_host 1) --rollback \
	--semaphore "$FL_DEAD" "$FL/plan.json"

# --- TLS: etcd asking for a client certificate -------------------------------------------------
# fl_certs DIR: a throwaway CA, another unrelated one, a certificate for
# etcd on 127.0.0.1 (also for clients: etcd's gateway dials etcd with it)
# and a client certificate.
fl_certs() {
	mkdir -p "$1" && (
		cd "$1" || exit 1
		for ca in ca other-ca; do
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $ca.key \
				-out $ca.crt -days 2 -subj "/CN=adpart-update test $ca" 2>/dev/null || exit 1
		done
		printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >srv.ext
		printf 'extendedKeyUsage=clientAuth\n' >cli.ext
		for c in srv cli; do
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $c.key -out $c.csr \
				-subj "/CN=adpart-update test $c" 2>/dev/null &&
				openssl x509 -req -in $c.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $c.crt -days 2 \
					-extfile $c.ext 2>/dev/null || exit 1
		done
	)
}
if ! command -v openssl >/dev/null 2>&1 || ! fl_certs "$FL/pki"; then
	echo "SKIP: t-fleet.sh: TLS cases: openssl cannot make the test CA" >&2
else
	FL_TPORT=$(cli_free_port)
	FL_TPEER=$(cli_free_port)
	FL_TURL="https://127.0.0.1:$FL_TPORT"
	etcd --name default --data-dir "$FL/etcd-tls" --listen-client-urls "$FL_TURL" --advertise-client-urls "$FL_TURL" \
		--cert-file "$FL/pki/srv.crt" --key-file "$FL/pki/srv.key" --client-cert-auth \
		--trusted-ca-file "$FL/pki/ca.crt" --listen-peer-urls "http://127.0.0.1:$FL_TPEER" \
		--initial-advertise-peer-urls "http://127.0.0.1:$FL_TPEER" \
		--initial-cluster "default=http://127.0.0.1:$FL_TPEER" >"$FL/etcd-tls.log" 2>&1 &
	FL_TLS_PID=$!
	fl_tls_up() {
		curl -fsS --cacert "$FL/pki/ca.crt" --cert "$FL/pki/cli.crt" --key "$FL/pki/cli.key" -X POST \
			"$FL_TURL/v3/kv/range" -d '{"key": "AA=="}' >/dev/null 2>&1
	}
	name="fleet: etcd with TLS and client certificates starts"
	if fl_wait_for fl_tls_up; then ok; else bad "$(tail -n 5 "$FL/etcd-tls.log")"; fi
	rm -rf "$FL"/st*
	run "fleet: a slot over TLS with a client certificate" 0 $FLAPPLY $(fl_host 1) --semaphore "$FL_TURL" \
		--semaphore-cacert "$FL/pki/ca.crt" --semaphore-cert "$FL/pki/cli.crt" --semaphore-key "$FL/pki/cli.key" \
		"$FL/plan.json" && expect_out "applied: $FLSTEPS steps done"
	name="fleet: the TLS slot is journaled"
	if [ -n "$(fl_lease "$FL/st1")" ]; then ok; else bad "no lease in the journal"; fi
	rm -rf "$FL"/st*
	run "fleet: without the client certificate etcd refuses: apply refuses (exit 6)" 6 $FLAPPLY $(fl_host 1) \
		--semaphore "$FL_TURL" --semaphore-cacert "$FL/pki/ca.crt" "$FL/plan.json" &&
		expect_err "refused: cannot take a fleet slot of group 'x' \(no data fails closed\): etcd '$FL_TURL'"
	run "fleet: a server certificate from another CA is refused (exit 6)" 6 $FLAPPLY $(fl_host 1) \
		--semaphore "$FL_TURL" --semaphore-cacert "$FL/pki/other-ca.crt" --semaphore-cert "$FL/pki/cli.crt" \
		--semaphore-key "$FL/pki/cli.key" "$FL/plan.json" && expect_err "etcd '$FL_TURL': .*(certificate|SSL)" &&
		expect_no_file "$FL/st1/journal.json"
	kill -9 $FL_TLS_PID 2>/dev/null
	wait $FL_TLS_PID 2>/dev/null
fi

# --- what a user gets wrong ------------------------------------------------------------------
run "fleet: --semaphore without http(s)://" 64 $FLAPPLY --semaphore etcd:2379 "$FL/plan.json" &&
	expect_err "--semaphore: etcd endpoint 'etcd:2379' is not http://HOST:PORT or https://HOST:PORT"
run "fleet: a URL with a password is refused, the password never shown" 64 $FLAPPLY \
	--semaphore "http://root:s3cret@127.0.0.1:2379" "$FL/plan.json" && expect_err "is not http://HOST:PORT"
name="fleet: the password is not in the message"
if grep -q s3cret "$TMP/err"; then bad "the password is shown"; else ok; fi
run "fleet: a URL with a path" 64 $FLAPPLY --semaphore "$FL_URL/v3" "$FL/plan.json"
for fl_v in 0 1001 two 1x; do
	run "fleet: --semaphore-slots $fl_v" 64 $FLAPPLY --semaphore "$FL_URL" --semaphore-slots $fl_v "$FL/plan.json" &&
		expect_err "--semaphore-slots '$fl_v': expected a whole number from 1 to 1000"
done
for fl_v in 4s 11m soon; do
	run "fleet: --semaphore-ttl $fl_v" 64 $FLAPPLY --semaphore "$FL_URL" --semaphore-ttl $fl_v "$FL/plan.json" &&
		expect_err "--semaphore-ttl '$fl_v': expected a duration from 5s to 10m"
done
run "fleet: --semaphore-wait soon" 64 $FLAPPLY --semaphore "$FL_URL" --semaphore-wait soon "$FL/plan.json" &&
	expect_err "--semaphore-wait 'soon': expected a duration"
run "fleet: --semaphore-group with a slash" 64 $FLAPPLY --semaphore "$FL_URL" --semaphore-group a/b "$FL/plan.json" &&
	expect_err "--semaphore-group: fleet slot group 'a/b' may not hold '/'"
run "fleet: --semaphore-group without --semaphore" 64 $FLAPPLY --semaphore-group g "$FL/plan.json" &&
	expect_err "--semaphore-group is for a fleet slot: it needs --semaphore URL"
run "fleet: --semaphore-cert without --semaphore-key" 64 $FLAPPLY --semaphore "$FL_URL" --semaphore-cert "$FL/c.pem" \
	"$FL/plan.json" && expect_err "--semaphore-cert and --semaphore-key go together"
run "fleet: a CA file that does not exist (exit 1, nothing asked)" 1 $FLAPPLY $(fl_host 1) --semaphore "$FL_URL" \
	--semaphore-cacert "$FL/nope.pem" "$FL/plan.json" && expect_err "etcd CA file '$FL/nope.pem': No such file or directory"
run "fleet: a client key that does not exist" 1 $FLAPPLY $(fl_host 1) --semaphore "$FL_URL" --semaphore-cert "$FL/inv.json" \
	--semaphore-key "$FL/nope.key" "$FL/plan.json" && expect_err "etcd client key '$FL/nope.key': No such file or directory"

fl_etcd_kill
trap 'rm -rf "$TMP"' EXIT
fi
