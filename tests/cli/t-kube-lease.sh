# apply --driver kubernetes --semaphore kubernetes://NAMESPACE: the fleet
# slot as coordination.k8s.io/v1 Leases, against the FAKE API server in
# tests/fake-kube (not Kubernetes: it implements the Lease API with its
# documented resourceVersion semantics). Applies of one plan in state
# directories of their own stand for the hosts of a fleet: with one slot
# they run one after another; with two, two at once; a holder killed
# with -9 frees its slot after the TTL, not before; the server stopped
# mid-apply stops the holder at the next step boundary and --resume with
# the server back goes on; a --resume within the TTL keeps its own
# Lease; and the refusals a user can hit.

KL="$TMP/kube-lease"
mkdir -p "$KL"
. "$TOP/tests/fake-kube/lib.sh"
. "$TOP/tests/cli/lib.sh"

if ! command -v openssl >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
	echo "SKIP: kube-lease: openssl or jq missing (run .ci/deps)" >&2
else

K=$KL
KNOW="--now 2018-05-06T00:00:00Z"
fk_certs "$K" || { name="kube-lease: certificates"; bad "openssl could not make the test CA"; }
# node-b's update sleeps for what $K/sleep says (default 0.3 s); when
# $K/slow exists, it is removed, $K/mark touched and the update sleeps
# 12 s: the time to kill the holder or stop the server.
cli_schedule "$K/sched.json" k node-b "$K/updates.log" \
	'sleep $(cat '"$K"'/sleep 2>/dev/null || echo 0.3); if [ -e '"$K"'/slow ]; then rm -f '"$K"'/slow; touch '"$K"'/mark; sleep 12; fi'
# web's second pod on node-a: node-b holds only a DaemonSet's and a
# mirror pod, so that applies of one plan can run again and again.
kcluster '.pods |= map(if .metadata.name == "web-5d8f7b9c6-q7m3z" then .spec.nodeName = "node-a" else . end)'
kstart
kplan
KLSTART=$(cli_plan_start "$K/plan.json")
KLSTEPS=$(jq '.steps | length' "$K/plan.json")
KLAPPLY="apply --driver kubernetes --kubeconfig $K/kubeconfig --poll-interval 50ms --now $KLSTART"
KLSEM="--semaphore kubernetes://fleet"
LEASES=/apis/coordination.k8s.io/v1/namespaces/fleet/leases
# kl_host N: the options of "host" N: its own state directory and host lock.
kl_host() { echo "-d $K/st$1 --host-lock $K/host$1.lock"; }
# kl_apply N ARGS... &: the apply of host N, only ever in the background:
# it execs the binary, so that $! is its pid.
kl_apply() {
	kl_n=$1
	shift
	exec "$BIN" $KLAPPLY $(kl_host "$kl_n") "$@" "$K/plan.json"
}
# kl_lease NAME: the Lease as the fake holds it now ("null" when none).
kl_lease() { jq -c --arg n "$1" '[.leases[]? | select(.metadata.name == $n)][0]' "$K/state.json"; }
# kl_marker DIR: the lease the journal in DIR holds.
kl_marker() { jq -r '.slot.lease // empty' "$1/journal.json" 2>/dev/null; }
# kl_wait_for COMMAND...: up to 20 s for COMMAND to succeed.
kl_wait_for() {
	kl_i=0
	while ! "$@" && [ $kl_i -lt 200 ]; do sleep 0.1; kl_i=$((kl_i + 1)); done
	"$@"
}
# kl_three ARGS...: hosts 1, 2 and 3 apply at once; their exit statuses in kl_rcs.
kl_three() {
	for n in 1 2 3; do
		kl_apply $n "$@" >"$K/out$n" 2>"$K/err$n" &
		eval "kl_pid$n=\$!"
	done
	kl_rcs=""
	for n in 1 2 3; do
		eval "wait \$kl_pid$n"
		kl_rcs="$kl_rcs $?"
	done
}
# kl_most DIRS...: the most applies whose steps ran at once (journals'
# first start to last end).
kl_most() {
	/usr/bin/python3 - "$@" <<'PY'
import json, sys
ev = []
for d in sys.argv[1:]:
    s = json.load(open(d + '/journal.json'))['steps']
    ev += [(min(x['start_ms'] for x in s), 1), (max(x['end_ms'] for x in s), -1)]
n = top = 0
for t, e in sorted(ev, key=lambda x: (x[0], x[1])):
    n += e
    top = max(top, n)
print(top)
PY
}

# --- three hosts, one slot: one after another -----------------------------------
rm -rf "$K"/st*
kl_three $KLSEM --semaphore-group serial
name="kube-lease: three applies sharing one slot all finish"
if [ "$kl_rcs" = " 0 0 0" ]; then ok; else bad "exit statuses$kl_rcs: $(cat "$K/err1" "$K/err2" "$K/err3")"; fi
name="kube-lease: with one slot, no two applies' steps overlap"
kl_top=$(kl_most "$K/st1" "$K/st2" "$K/st3" 2>&1)
if [ "$kl_top" = 1 ]; then ok; else bad "at most $kl_top at once"; fi
name="kube-lease: each journaled the same Lease, acquired anew"
if [ "$(jq -r .slot.key "$K"/st[123]/journal.json | sort -u)" = adpart-update-serial-0 ] &&
	[ "$(jq -r .slot.lease "$K"/st[123]/journal.json | sort -u | wc -l)" -eq 3 ] &&
	[ "$(jq -r .slot.group "$K/st1/journal.json")" = serial ]; then ok; else bad "$(jq -c .slot "$K"/st[123]/journal.json)"; fi
name="kube-lease: each apply deleted its Lease at the end, under a precondition"
if [ "$(kl_lease adpart-update-serial-0)" = null ] &&
	[ "$(grep -c "^DELETE $LEASES/adpart-update-serial-0 200$" "$K/log")" = 3 ]; then ok; else
	bad "$(kl_lease adpart-update-serial-0); $(grep serial "$K/log")"; fi
name="kube-lease: every Lease request answered as the API documents (no 403, no 422, no 5xx)"
if grep -E "leases" "$K/log" | grep -Evq ' (200|201|404|409)$'; then bad "$(grep leases "$K/log" | grep -Ev ' (200|201|404|409)$')"; else ok; fi

# --- two slots: two at once, never three -------------------------------------------
rm -rf "$K"/st*
echo 1 >"$K/sleep"
kl_three $KLSEM --semaphore-group pair --semaphore-slots 2
rm -f "$K/sleep"
name="kube-lease: with two slots, two applies overlap and the third waits"
kl_top=$(kl_most "$K/st1" "$K/st2" "$K/st3" 2>&1)
if [ "$kl_rcs" = " 0 0 0" ] && [ "$kl_top" = 2 ]; then ok; else
	bad "exit statuses$kl_rcs, at most $kl_top at once: $(cat "$K/err1" "$K/err2" "$K/err3")"; fi
name="kube-lease: two slots are Leases 0 and 1"
if [ "$(jq -r .slot.key "$K"/st[123]/journal.json | sort -u | tr '\n' ' ')" = "adpart-update-pair-0 adpart-update-pair-1 " ]; then
	ok; else bad "$(jq -r .slot.key "$K"/st[123]/journal.json)"; fi

# --- a holder killed with -9: its slot frees after the TTL, not before -----------------
rm -rf "$K"/st* "$K/mark"
touch "$K/slow"
kl_apply 1 $KLSEM --semaphore-group crash --semaphore-ttl 5s >"$K/out1" 2>"$K/err1" &
kl_pid1=$!
kl_wait_for test -e "$K/mark"
name="kube-lease: the holder's Lease as the API shows it"
if [ "$(kl_lease adpart-update-crash-0 | jq -r --arg h "$(hostname):$K/st1" '.spec.holderIdentity == $h and
	.spec.leaseDurationSeconds == 5 and .spec.leaseTransitions == 0 and
	(.spec.renewTime | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$")) and
	(.metadata.annotations["adpart-update.io/holder"] | fromjson | .host != null and .pid > 0)')" = true ]; then ok; else
	bad "$(kl_lease adpart-update-crash-0)"; fi
kill -9 $kl_pid1
wait $kl_pid1 2>/dev/null
kl_killed=$(date +%s%3N)
rm -f "$K/mark"
run "kube-lease: a second apply waits for the killed holder's Lease, then applies" 0 $KLAPPLY $(kl_host 2) \
	$KLSEM --semaphore-group crash --semaphore-ttl 5s "$K/plan.json" && expect_out "applied: $KLSTEPS steps done"
# The Lease was last renewed at most a third of the TTL before the kill:
# it cannot expire earlier than 5 - 5/3 s after it.
kl_first=$(jq '[.steps[].start_ms] | min' "$K/st2/journal.json")
name="kube-lease: the killed holder's Lease freed after its TTL, not before ($(( (kl_first - kl_killed) / 1000 )) s)"
if [ $((kl_first - kl_killed)) -ge 3000 ] && [ $((kl_first - kl_killed)) -le 30000 ]; then ok; else
	bad "the second apply's first step began $((kl_first - kl_killed)) ms after the kill"; fi
name="kube-lease: the waiter took the expired Lease over with an update, not a create"
if [ "$(jq -r .slot.key "$K/st2/journal.json")" = adpart-update-crash-0 ] &&
	grep -q "^PUT $LEASES/adpart-update-crash-0 200$" "$K/log" &&
	[ "$(grep -c "^POST $LEASES 201$" "$K/log")" -ge 1 ]; then ok; else bad "$(grep crash "$K/log" | tail -5)"; fi

# --- the server stopped mid-apply: stop at the next step boundary; --resume goes on -----
kstart
rm -rf "$K"/st* "$K/mark"
touch "$K/slow"
kl_apply 1 $KLSEM --semaphore-group lost --semaphore-ttl 5s >"$TMP/out" 2>"$TMP/err" &
kl_pid1=$!
kl_wait_for test -e "$K/mark"
kl_m1=$(kl_marker "$K/st1")
kill -STOP "$FK_PID"
sleep 6
kill -CONT "$FK_PID"
wait $kl_pid1
kl_rc=$?
name="kube-lease: the server stopped mid-apply: the holder stops at the next step boundary (exit 7)"
if [ $kl_rc -eq 7 ]; then ok; else bad "exit status $kl_rc"; fi
expect_err "the fleet slot 'adpart-update-lost-0' of group 'lost' was lost \(its Lease 'fleet/adpart-update-lost-0' could not be kept alive for [0-9]+ s"
name="kube-lease: stopped right after the step under way, journal stopped"
if [ "$(jq -r .state "$K/st1/journal.json")" = stopped ] &&
	[ "$(jq '[.steps[] | select(.status == "done")] | length' "$K/st1/journal.json")" -eq 1 ] &&
	jq -e '.stopped_by | test("was lost")' "$K/st1/journal.json" >/dev/null; then ok; else
	bad "$(jq -c '[.state, [.steps[].status]]' "$K/st1/journal.json")"; fi
expect_out "next: adpart-update apply --resume --driver kubernetes -d $K/st1 --semaphore kubernetes://fleet --semaphore-group lost --semaphore-ttl 5s $K/plan.json"
run "kube-lease: --resume with the server back takes its Lease again and finishes" 0 $KLAPPLY $(kl_host 1) --resume \
	$KLSEM --semaphore-group lost --semaphore-ttl 5s "$K/plan.json" && expect_out "applied: $KLSTEPS steps done"
name="kube-lease: the resumed apply held the slot and deleted its Lease"
if [ "$(jq -r .state "$K/st1/journal.json")" = done ] && [ -n "$(kl_marker "$K/st1")" ] &&
	[ "$(kl_lease adpart-update-lost-0)" = null ]; then ok; else
	bad "state $(jq -r .state "$K/st1/journal.json"), $(kl_lease adpart-update-lost-0)"; fi

# --- --resume after a kill -9 within the TTL keeps its own Lease -------------------------
rm -rf "$K"/st*
ADPART_TEST_CRASH_AFTER_STEP=1
export ADPART_TEST_CRASH_AFTER_STEP
run "kube-lease: apply killed after step 1, holding its Lease" 137 $KLAPPLY $(kl_host 1) $KLSEM \
	--semaphore-group keep "$K/plan.json"
unset ADPART_TEST_CRASH_AFTER_STEP
kl_m1=$(kl_marker "$K/st1")
kl_acq=$(kl_lease adpart-update-keep-0 | jq -r .spec.acquireTime)
name="kube-lease: the crashed apply's Lease is still held"
if [ -n "$kl_m1" ] && [ "$kl_acq" != null ]; then ok; else bad "lease '$kl_m1', $(kl_lease adpart-update-keep-0)"; fi
run "kube-lease: another host is refused the held Lease" 6 $KLAPPLY $(kl_host 2) $KLSEM --semaphore-group keep \
	--semaphore-wait 0 "$K/plan.json" && expect_err "slot 0 held by host '$(hostname)' \(pid [0-9]+, state dir '$K/st1'"
kl_puts=$(grep -c "^PUT $LEASES/adpart-update-keep-0 " "$K/log")
run "kube-lease: --resume within the TTL keeps its Lease and finishes" 0 $KLAPPLY $(kl_host 1) --resume $KLSEM \
	--semaphore-group keep "$K/plan.json" && expect_out "applied: $KLSTEPS steps done"
name="kube-lease: the journal shows the same Lease after --resume (acquireTime kept), deleted at the end"
if [ "$(kl_marker "$K/st1")" = "$kl_m1" ] && [ "$(kl_lease adpart-update-keep-0)" = null ] &&
	[ "$(grep -c "^PUT $LEASES/adpart-update-keep-0 200$" "$K/log")" -gt "$kl_puts" ]; then ok; else
	bad "lease $(kl_marker "$K/st1"), was $kl_m1; $(grep keep-0 "$K/log" | tail -4)"; fi

# --- refusals: nothing changed --------------------------------------------------------------
rm -rf "$K"/st*
kl_now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
fk_admin POST $LEASES '{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name":
	"adpart-update-held-0", "annotations": {"adpart-update.io/holder": "{\"host\":\"db-7\",\"state_dir\":\"/var/lib/adpart-update/state\",\"pid\":4242,\"plan\":\"k 0123456789ab\",\"since\":\"2018-05-06T04:00:00Z\"}"}},
	"spec": {"holderIdentity": "db-7:/var/lib/adpart-update/state", "leaseDurationSeconds": 60,
	"acquireTime": "'"$kl_now"'", "renewTime": "'"$kl_now"'", "leaseTransitions": 0}}' >"$K/admin.out"
run "kube-lease: every slot held past --semaphore-wait refuses (exit 6), naming the holder" 6 $KLAPPLY $(kl_host 1) \
	$KLSEM --semaphore-group held --semaphore-wait 1s "$K/plan.json" &&
	expect_err "refused: no fleet slot free in group 'held' \(1 slot as Leases in namespace 'fleet'\) after waiting 1s, --semaphore-wait's limit: slot 0 held by host 'db-7' \(pid 4242, state dir '/var/lib/adpart-update/state', plan 'k 0123456789ab'" &&
	expect_no_file "$K/st1/journal.json"
fk_admin POST $LEASES '{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "adpart-update-other-0"},
	"spec": {"holderIdentity": "leader-elector-1", "leaseDurationSeconds": 60, "renewTime": "'"$kl_now"'"}}' >"$K/admin.out"
run "kube-lease: a Lease held by another writer is named by its holderIdentity" 6 $KLAPPLY $(kl_host 1) \
	$KLSEM --semaphore-group other --semaphore-wait 0 "$K/plan.json" && expect_err "slot 0 held by 'leader-elector-1'"
kjq "kube-lease: the refusals left the held Leases as they were" \
	'[.leases[] | select(.metadata.name | test("held|other")) | .spec.holderIdentity] == ["db-7:/var/lib/adpart-update/state", "leader-elector-1"]'
# The fake's API semantics the semaphore relies on.
name="kube-lease: the fake: a create of an existing Lease is 409 AlreadyExists"
if fk_admin POST $LEASES '{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "adpart-update-held-0"}}' |
	jq -e '.code == 409 and .reason == "AlreadyExists"' >/dev/null; then ok; else bad "$(tail -1 "$K/log")"; fi
name="kube-lease: the fake: an update with a stale resourceVersion is 409 Conflict; without one, 422"
if [ "$(fk_admin PUT $LEASES/adpart-update-held-0 '{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
	"metadata": {"name": "adpart-update-held-0", "resourceVersion": "1"}, "spec": {}}' | jq -c '[.code, .reason]')" = '[409,"Conflict"]' ] &&
	[ "$(fk_admin PUT $LEASES/adpart-update-held-0 '{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
	"metadata": {"name": "adpart-update-held-0"}, "spec": {}}' | jq -c '[.code, .reason]')" = '[422,"Invalid"]' ]; then ok; else
	bad "$(tail -2 "$K/log")"; fi
name="kube-lease: the fake: a delete whose precondition fails is 409, the Lease kept"
if [ "$(fk_admin DELETE $LEASES/adpart-update-held-0 '{"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": "1"}}' |
	jq -c '[.code, .reason]')" = '[409,"Conflict"]' ] && [ "$(kl_lease adpart-update-held-0)" != null ]; then ok; else bad "$(tail -1 "$K/log")"; fi
name="kube-lease: the fake: a bad MicroTime or duration is 422"
if [ "$(fk_admin POST $LEASES '{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "bad"},
	"spec": {"renewTime": "yesterday"}}' | jq .code)" = 422 ] && [ "$(fk_admin POST $LEASES '{"apiVersion": "coordination.k8s.io/v1",
	"kind": "Lease", "metadata": {"name": "bad"}, "spec": {"leaseDurationSeconds": 0}}' | jq .code)" = 422 ]; then ok; else
	bad "$(tail -2 "$K/log")"; fi
name="kube-lease: no request of the applies was forbidden by the shipped ClusterRole"
if grep -q ' 403$' "$K/log"; then bad "$(grep ' 403$' "$K/log")"; else ok; fi
# Without the leases rule: refused before anything changed, saying what is needed.
grep -v '"leases"' "$TOP/deploy/kubernetes/clusterrole.yaml" >"$K/nolease.yaml"
kstart "$K/nolease.yaml"
run "kube-lease: Leases forbidden by RBAC refuse (exit 6), naming the verbs needed" 6 $KLAPPLY $(kl_host 1) $KLSEM \
	"$K/plan.json" && expect_err "cannot take a fleet slot of group 'k' \(no data fails closed\): kubernetes GET '$LEASES/adpart-update-k-0': HTTP 403: .*needs get, create, update and delete on leases" &&
	expect_no_file "$K/st1/journal.json"
kstart
# --rollback takes no slot.
ADPART_TEST_CRASH_AFTER_STEP=1
export ADPART_TEST_CRASH_AFTER_STEP
run "kube-lease: apply killed after step 1 (to roll back)" 137 $KLAPPLY $(kl_host 1) $KLSEM --semaphore-group rb "$K/plan.json"
unset ADPART_TEST_CRASH_AFTER_STEP
: >"$K/log"
run "kube-lease: --rollback takes no slot" 4 $KLAPPLY $(kl_host 1) --rollback $KLSEM --semaphore-group rb "$K/plan.json"
name="kube-lease: the rollback asked nothing of the Leases"
if grep -q leases "$K/log"; then bad "$(grep leases "$K/log")"; else ok; fi
# $ADPART_SEMAPHORE may name Leases too.
rm -rf "$K"/st*
ADPART_SEMAPHORE=kubernetes://fleet
export ADPART_SEMAPHORE
run "kube-lease: \$ADPART_SEMAPHORE=kubernetes://NAMESPACE" 0 $KLAPPLY $(kl_host 1) "$K/plan.json"
name="kube-lease: \$ADPART_SEMAPHORE: the Lease is journaled"
if [ "$(jq -r .slot.key "$K/st1/journal.json")" = adpart-update-k-0 ]; then ok; else bad "no slot in the journal"; fi
ADPART_SEMAPHORE=kubernetes://No_Such
run "kube-lease: a bad \$ADPART_SEMAPHORE namespace is a usage error" 64 $KLAPPLY $(kl_host 1) "$K/plan.json" &&
	expect_err "namespace 'No_Such' of 'kubernetes://No_Such' is not a namespace name"
unset ADPART_SEMAPHORE

# --- what a user gets wrong ---------------------------------------------------------------------
run "kube-lease: kubernetes:// without --driver kubernetes" 64 apply --driver exec --hook /bin/true $KLSEM "$K/plan.json" &&
	expect_err "--semaphore kubernetes://fleet holds the slots as Kubernetes Leases: it is for --driver kubernetes"
run "kube-lease: kubernetes:// with the default driver" 64 apply $KLSEM "$K/plan.json" &&
	expect_err "it is for --driver kubernetes, which has the API server's connection \(the local driver has none"
run "kube-lease: a namespace that is no DNS label" 64 $KLAPPLY --semaphore kubernetes://Fleet_1 "$K/plan.json" &&
	expect_err "--semaphore: namespace 'Fleet_1' of 'kubernetes://Fleet_1' is not a namespace name \(lower-case letters, digits and '-', at most 63"
run "kube-lease: kubernetes:// without a namespace" 64 $KLAPPLY --semaphore kubernetes:// "$K/plan.json" &&
	expect_err "names no namespace: expected kubernetes://NAMESPACE"
run "kube-lease: a namespace longer than 63" 64 $KLAPPLY --semaphore "kubernetes://$(printf 'a%.0s' $(seq 64))" "$K/plan.json"
for kl_o in --semaphore-cacert --semaphore-cert --semaphore-key; do
	run "kube-lease: $kl_o with kubernetes://" 64 $KLAPPLY $KLSEM $kl_o "$K/ca.crt" \
		$( [ $kl_o = --semaphore-cert ] && echo "--semaphore-key $K/cli.key") \
		$( [ $kl_o = --semaphore-key ] && echo "--semaphore-cert $K/cli.crt") "$K/plan.json" &&
		expect_err "is for etcd: a kubernetes:// semaphore uses the driver's connection"
done
run "kube-lease: a group that cannot name a Lease" 64 $KLAPPLY $KLSEM --semaphore-group Web_1 "$K/plan.json" &&
	expect_err "--semaphore-group: fleet slot group 'Web_1' cannot name a Kubernetes Lease: 'adpart-update-Web_1-0' is not a DNS-1123 subdomain"
run "kube-lease: a group ending in a dot" 64 $KLAPPLY $KLSEM --semaphore-group "web." "$K/plan.json" &&
	expect_err "cannot name a Kubernetes Lease"
name="kube-lease: no secret in any output"
if grep -rqF "$(cat "$K/token")" "$TMP/out" "$TMP/err" "$K"/out* "$K"/err* "$K"/st*; then bad "the token was printed"; else ok; fi
fk_stop
fi
