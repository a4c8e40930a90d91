# apply --semaphore fleetlock+URL: the fleet slot from a FleetLock server
# (Zincati's protocol). No FleetLock server is packaged in Debian, so a
# fake one on loopback follows the protocol's documentation
# (tests/fleetlock_server.py). Applies of one plan in state directories of
# their own stand for the hosts of a fleet: with one slot they run one
# after another; a holder killed with -9 keeps its slot (the protocol's
# locks do not expire) until its --resume finishes; a slot freed on the
# server stops the holder at the next step boundary; and the refusals.

. "$TOP/tests/cli/lib.sh"

FK="$TMP/fleetlock"
mkdir -p "$FK"
/usr/bin/python3 "$TOP/tests/fleetlock_server.py" "$FK/port" "$FK/log" 1 &
FK_PID=$!
trap 'kill $FK_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fk_i=0
while [ ! -s "$FK/port" ] && [ $fk_i -lt 100 ]; do sleep 0.1; fk_i=$((fk_i + 1)); done
FK_BASE="http://127.0.0.1:$(cat "$FK/port")/fleet"
FK_URL="fleetlock+$FK_BASE"

cli_web_inventory "$FK/inv.json"
cat >"$FK/sched.json" <<JSON
{"name": "x", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": ["node-a"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "plan_ttl": "24h", "period": "1d"}
JSON
cli_slot_hook "$FK/hook"
"$BIN" plan --driver exec -i "$FK/inv.json" -s "$FK/sched.json" --now 2018-05-06T00:00:00Z -f "$FK/plan.json" \
	>/dev/null 2>&1
FKSTART=$(cli_plan_start "$FK/plan.json")
FKSTEPS=$(jq '.steps | length' "$FK/plan.json")
FKAPPLY="apply --driver exec --hook $FK/hook --now $FKSTART"
fk_host() { echo "-d $FK/st$1 --host-lock $FK/host$1.lock"; }
fk_apply() {
	fk_n=$1
	shift
	exec "$BIN" $FKAPPLY $(fk_host "$fk_n") "$@" "$FK/plan.json"
}
# fk_lock ID GROUP: takes a slot as another host would; the HTTP status.
fk_lock() {
	curl -sS -o /dev/null -w '%{http_code}' -H 'fleet-lock-protocol: true' \
		-d "{\"client_params\": {\"id\": \"$1\", \"group\": \"$2\"}}" "$FK_BASE/v1/pre-reboot"
}
fk_unlock() {
	curl -sS -o /dev/null -H 'fleet-lock-protocol: true' \
		-d "{\"client_params\": {\"id\": \"$1\", \"group\": \"$2\"}}" "$FK_BASE/v1/steady-state"
}
# fk_held GROUP: the ids holding GROUP's slots, replayed from the server's log.
fk_held() {
	/usr/bin/python3 - "$FK/log" "$1" <<'PY'
import json, sys
held = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["op"] == "free" and e["id"] in held:
        held.remove(e["id"])
    if e["group"] != sys.argv[2] or e["status"] != 200:
        continue
    if e["op"] == "pre-reboot" and e["id"] not in held:
        held.append(e["id"])
    elif e["op"] == "steady-state" and e["id"] in held:
        held.remove(e["id"])
print(" ".join(held))
PY
}

name="fleetlock: the fake server listens on loopback"
if [ -s "$FK/port" ]; then ok; else bad "no port"; fi

# --- three hosts, one slot: one after another ----------------------------------------
rm -rf "$FK"/st*
for n in 1 2 3; do
	HOOK_SLEEP=0.15 fk_apply $n --semaphore "$FK_URL" --semaphore-group serial >"$FK/out$n" 2>"$FK/err$n" &
	eval "fk_pid$n=\$!"
done
fk_rcs=""
for n in 1 2 3; do
	eval "wait \$fk_pid$n"
	fk_rcs="$fk_rcs $?"
done
name="fleetlock: three applies sharing one slot all finish"
if [ "$fk_rcs" = " 0 0 0" ]; then ok; else bad "exit statuses$fk_rcs: $(cat "$FK/err1" "$FK/err2" "$FK/err3")"; fi
name="fleetlock: with one slot, no two applies' steps overlap"
if cli_serial "$FK/st1" "$FK/st2" "$FK/st3" >"$FK/overlap" 2>&1; then ok; else bad "$(cat "$FK/overlap")"; fi
name="fleetlock: each journaled its own id (host and state directory) and the group"
if [ "$(jq -r .slot.key "$FK"/st[123]/journal.json | sort -u | wc -l)" -eq 3 ] &&
	jq -e --arg d "$(cd "$FK/st1" && pwd)" '.slot.key | endswith(":" + $d)' "$FK/st1/journal.json" >/dev/null &&
	[ "$(jq -r .slot.group "$FK/st1/journal.json")" = serial ]; then ok; else bad "$(jq -c .slot "$FK"/st[123]/journal.json)"; fi
name="fleetlock: every slot given back at the end (steady-state)"
if [ -z "$(fk_held serial)" ]; then ok; else bad "still held by $(fk_held serial)"; fi
name="fleetlock: every request carried the protocol's header and a valid body"
if ! grep -q '"status": 400' "$FK/log"; then ok; else bad "$(grep '"status": 400' "$FK/log" | head -3)"; fi

# --- a crashed holder keeps its slot (no TTL); its --resume takes it again ---------------
rm -rf "$FK"/st*
ADPART_TEST_CRASH_AFTER_STEP=4
export ADPART_TEST_CRASH_AFTER_STEP
run "fleetlock: apply killed after step 4, holding its slot" 137 $FKAPPLY $(fk_host 1) --semaphore "$FK_URL" \
	--semaphore-group keep "$FK/plan.json"
unset ADPART_TEST_CRASH_AFTER_STEP
fk_id1=$(jq -r .slot.key "$FK/st1/journal.json")
name="fleetlock: the crashed apply still holds the slot"
if [ "$(fk_held keep)" = "$fk_id1" ]; then ok; else bad "held by '$(fk_held keep)', journal '$fk_id1'"; fi
run "fleetlock: another host is refused while it is held (exit 6), the server's reason named" 6 $FKAPPLY $(fk_host 2) \
	--semaphore "$FK_URL" --semaphore-group keep --semaphore-wait 1s "$FK/plan.json" &&
	expect_err "no fleet slot free in group 'keep' \(at FleetLock server '$FK_BASE'\) after waiting 1s, --semaphore-wait's limit: the server refused \(HTTP 409, failed_lock_semaphore_full\): semaphore currently full"
run "fleetlock: --resume takes the same slot again (recursive) and finishes" 0 $FKAPPLY $(fk_host 1) --resume \
	--semaphore "$FK_URL" --semaphore-group keep "$FK/plan.json" && expect_out "applied: $FKSTEPS steps done"
name="fleetlock: the slot given back after the resume"
if [ -z "$(fk_held keep)" ]; then ok; else bad "still held by $(fk_held keep)"; fi

# --- a slot freed on the server and taken by another: stop at the next boundary ----------
rm -rf "$FK"/st* "$FK/mark"
HOOK_SLOW_ID=3 HOOK_SLOW_S=3 HOOK_MARK="$FK/mark" fk_apply 1 --semaphore "$FK_URL" --semaphore-group lost \
	>"$TMP/out" 2>"$TMP/err" &
fk_pid1=$!
fk_i=0
while [ ! -e "$FK/mark" ] && [ $fk_i -lt 200 ]; do sleep 0.1; fk_i=$((fk_i + 1)); done
fk_id1=$(jq -r .slot.key "$FK/st1/journal.json")
curl -sS -o /dev/null -X POST "$FK_BASE/../admin/free?id=$(printf '%s' "$fk_id1" | jq -sRr @uri)"
fk_code=$(fk_lock other-host lost)
wait $fk_pid1
fk_rc=$?
name="fleetlock: another host took the freed slot"
if [ "$fk_code" = 200 ]; then ok; else bad "HTTP $fk_code"; fi
name="fleetlock: the holder whose slot was taken stops at the next step boundary (exit 7)"
if [ $fk_rc -eq 7 ]; then ok; else bad "exit status $fk_rc: $(cat "$TMP/err")"; fi
expect_err "the fleet slot '.*' of group 'lost' was lost \(the server refused \(HTTP 409, failed_lock_semaphore_full\)"
name="fleetlock: stopped after the step under way, the rest pending"
if [ "$(jq -r .state "$FK/st1/journal.json")" = stopped ] &&
	[ "$(jq '[.steps[] | select(.status == "done")] | length' "$FK/st1/journal.json")" -eq 3 ]; then ok; else
	bad "$(jq -c '[.state, [.steps[].status]]' "$FK/st1/journal.json")"; fi
expect_out "next: adpart-update apply --resume --driver exec -d $FK/st1 --semaphore fleetlock\\+$FK_BASE --semaphore-group lost $FK/plan.json"
fk_unlock other-host lost
run "fleetlock: --resume once the slot is free finishes" 0 $FKAPPLY $(fk_host 1) --resume \
	--semaphore "$FK_URL" --semaphore-group lost "$FK/plan.json" && expect_out "applied: $FKSTEPS steps done"

# --- refusals ----------------------------------------------------------------------------
kill $FK_PID 2>/dev/null
wait $FK_PID 2>/dev/null
rm -rf "$FK"/st*
run "fleetlock: the server unreachable refuses (exit 6), nothing changed" 6 $FKAPPLY $(fk_host 1) \
	--semaphore "$FK_URL" "$FK/plan.json" &&
	expect_err "cannot take a fleet slot of group 'x' \(no data fails closed\)"
name="fleetlock: the refused apply acted on nothing"
if [ ! -e "$FK/st1/journal.json" ] || [ "$(jq '[.steps[] | select(.status == "done")] | length' "$FK/st1/journal.json")" -eq 0 ]; then ok; else bad "steps done"; fi
run "fleetlock: --semaphore-slots is the server's" 64 $FKAPPLY --semaphore "$FK_URL" --semaphore-slots 2 "$FK/plan.json" &&
	expect_err "--semaphore-slots is not for a FleetLock server, which counts the slots itself"
run "fleetlock: --semaphore-ttl too" 64 $FKAPPLY --semaphore "$FK_URL" --semaphore-ttl 30s "$FK/plan.json" &&
	expect_err "--semaphore-ttl is not for a FleetLock server"
run "fleetlock: a group outside the protocol's characters" 64 $FKAPPLY --semaphore "$FK_URL" --semaphore-group a_b \
	"$FK/plan.json" && expect_err "FleetLock group 'a_b' may hold only letters, digits, '.' and '-'"
run "fleetlock: a scheme other than http(s)" 64 $FKAPPLY --semaphore fleetlock+ftp://h/x "$FK/plan.json" &&
	expect_err "FleetLock server 'fleetlock\+ftp://h/x' is not fleetlock\+https://HOST"
run "fleetlock: a password in the URL is never shown" 64 $FKAPPLY --semaphore "fleetlock+https://u:sekrit@h?x=1" \
	"$FK/plan.json" && if grep -q sekrit "$TMP/err"; then bad "the password was shown"; else ok; fi
