# Notifications: the schedule's webhooks, HMAC-signed JSON POSTs to a real
# HTTP receiver on loopback (tests/webhook_receiver.py), for plan written,
# apply started, each wave, deviation, rollback and the outcome; retries,
# a slow or dead receiver never holding up apply, secrets never shown.

. "$TOP/tests/cli/lib.sh"
NT="$TMP/notify"
mkdir -p "$NT"
printf 's3cret-for-the-tests' >"$NT/secret"
cli_web_inventory "$NT/inv.json"
cat >"$NT/hook" <<'HOOK'
#!/bin/sh
cat >/dev/null
[ "$1" = act ] && [ -n "${HOOK_FAIL:-}" ] && grep -q "$HOOK_FAIL" /dev/null
[ "$1" = sample ] && echo '{"cpu": 0.01, "memory": 1048576}'
exit 0
HOOK
# A hook whose run_update fails (for a rollback).
cat >"$NT/failhook" <<'HOOK'
#!/usr/bin/python3
import json, sys
doc = json.load(sys.stdin)
if sys.argv[1] == 'sample':
    print('{"cpu": 0.01, "memory": 1048576}')
if sys.argv[1] == 'act' and (doc.get('step') or {}).get('action') == 'run_update':
    print('update failed'); sys.exit(1)
HOOK
chmod 755 "$NT/hook" "$NT/failhook"

# nt_receiver NAME [FAIL_FIRST [DELAY]]: a receiver logging to NAME.log;
# its URL in NT_URL, its pid in NT_PID.
nt_receiver() {
	rm -f "$NT/$1.port" "$NT/$1.log"
	/usr/bin/python3 "$TOP/tests/webhook_receiver.py" "$NT/$1.port" "$NT/$1.log" ${2:-0} ${3:-} &
	NT_PID=$!
	i=0
	while [ ! -s "$NT/$1.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	NT_URL="http://127.0.0.1:$(cat "$NT/$1.port")/hook"
}
nt_stop() { kill "$NT_PID" 2>/dev/null; wait "$NT_PID" 2>/dev/null; }
# nt_plan NAME WEBHOOKS_JSON: schedule and plan NAME (NT_AT: --now at its start).
nt_plan() {
	cat >"$NT/$1.sched.json" <<JSON
{"name": "$1", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": ["node-a"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "plan_ttl": "24h", "period": "1d", "notify": {"webhooks": $2}}
JSON
	"$BIN" plan --driver exec -i "$NT/inv.json" -s "$NT/$1.sched.json" --now 2018-05-06T00:00:00Z \
		-f "$NT/$1.json" >"$NT/$1.plan.out" 2>"$NT/$1.plan.err"
	NT_AT="--now $(cli_plan_start "$NT/$1.json")"
}
# nt_check LOG: every request signed right (HMAC-SHA256 of the body under
# the secret), JSON with the envelope's fields; prints the events in order.
nt_events() {
	/usr/bin/python3 - "$1" "$NT/secret" <<'PY'
import hashlib, hmac, json, sys
key = open(sys.argv[2], 'rb').read()
for line in open(sys.argv[1]):
    r = json.loads(line)
    body = r['body'].encode()
    want = 'sha256=' + hmac.new(key, body, hashlib.sha256).hexdigest()
    sig = r['headers'].get('x-adpart-signature-256', '')
    d = json.loads(body)
    ok = hmac.compare_digest(sig, want) and all(k in d for k in ('event', 'delivery', 'at', 'host', 'schedule', 'plan_digest', 'detail'))
    ok = ok and r['headers'].get('x-adpart-event') == d['event'] and r['headers'].get('content-type') == 'application/json'
    extra = d['detail'].get('phase') or d['detail'].get('outcome') or ''
    print(('' if ok else 'BAD ') + d['event'] + ('/' + extra if extra else ''))
PY
}

# --- plan written, apply's events in order, signed -------------------------
nt_receiver main
nt_plan main "[{\"url\": \"$NT_URL\", \"secret_file\": \"$NT/secret\"}]"
name="notify: plan writes the plan and sends plan_written"
if [ -s "$NT/main.json" ] && [ "$(nt_events "$NT/main.log")" = plan_written ]; then ok; else
	bad "$(cat "$NT/main.plan.err") events: $(nt_events "$NT/main.log" | tr '\n' ' ')"; fi
name="notify: plan_written names the plan file and its start"
if jq -e --arg f "$NT/main.json" '.body | fromjson | .detail.plan_file == $f and (.detail.start | test("^2018-05-06T")) and .detail.waves == 1' \
	"$NT/main.log" >/dev/null; then ok; else bad "$(head -c 400 "$NT/main.log")"; fi
: >"$NT/main.log"
run "notify: apply through the exec driver" 0 apply --driver exec --hook "$NT/hook" $NT_AT -d "$NT/st" "$NT/main.json"
name="notify: apply_started, the wave started and done, the outcome: each signed"
want="apply_started wave/started wave/done outcome/done "
got=$(nt_events "$NT/main.log" | tr '\n' ' ')
if [ "$got" = "$want" ]; then ok; else bad "got: $got"; fi
name="notify: the secret is in no output, journal or run record"
if ! grep -rq 's3cret-for-the-tests' "$TMP/out" "$TMP/err" "$NT/st" "$NT/main.log"; then ok; else bad "secret shown"; fi

# --- usage above the forecast: deviation events ----------------------------
sed 's/"cpu": 0.01/"cpu": 50/' "$NT/hook" >"$NT/bighook"
chmod 755 "$NT/bighook"
: >"$NT/main.log"
rm -rf "$NT/st"
run "notify: apply with usage far above the forecast (warn)" 0 apply --driver exec --hook "$NT/bighook" $NT_AT \
	-d "$NT/st" "$NT/main.json"
name="notify: deviations are sent with the observation"
if jq -s -e '[.[] | .body | fromjson | select(.event == "deviation") | .detail] | length > 0 and
	all(.decision == "warn" and .resource == "cpu" and .actual == 50 and .component == "web")' \
	"$NT/main.log" >/dev/null; then ok; else bad "$(nt_events "$NT/main.log" | tr '\n' ' ')"; fi

# --- a failed step: rollback and the outcome --------------------------------
: >"$NT/main.log"
rm -rf "$NT/st"
run "notify: a failing update rolls back (exit 4)" 4 apply --driver exec --hook "$NT/failhook" $NT_AT -d "$NT/st" "$NT/main.json"
name="notify: rollback and outcome rolled_back are sent"
got=$(nt_events "$NT/main.log" | tr '\n' ' ')
case $got in "apply_started wave/started rollback outcome/rolled_back ") ok ;; *) bad "got: $got" ;; esac
nt_stop

# --- retries: a receiver failing twice gets every event --------------------
nt_receiver flaky 2
nt_plan flaky "[{\"url\": \"$NT_URL\", \"secret_file\": \"$NT/secret\", \"events\": [\"outcome\"], \"retries\": 3}]"
run "notify: apply with a receiver that fails twice" 0 apply --driver exec --hook "$NT/hook" $NT_AT -d "$NT/st-flaky" \
	"$NT/flaky.json" && expect_no_err
name="notify: the outcome was retried until delivered (3 attempts, only the wanted event)"
if [ "$(wc -l <"$NT/flaky.log")" -eq 3 ] && [ "$(nt_events "$NT/flaky.log" | sort -u)" = outcome/done ]; then ok; else
	bad "$(nt_events "$NT/flaky.log" | tr '\n' ' ')"; fi
nt_stop

# --- a receiver too slow to wait for, and one that is not there ------------
nt_receiver slow 0 60
nt_plan slow "[{\"url\": \"$NT_URL\", \"timeout\": \"1s\", \"retries\": 0}]"
t0=$(date +%s)
run "notify: a receiver that never answers does not hold up apply" 0 apply --driver exec --hook "$NT/hook" $NT_AT \
	-d "$NT/st-slow" "$NT/slow.json" && expect_out "applied: 15 steps done" &&
	expect_err "warning: webhook '$NT_URL': 4 of 4 deliveries failed"
name="notify: the slow receiver cost seconds, not its 60 s delay per event"
if [ $(($(date +%s) - t0)) -lt 40 ]; then ok; else bad "apply took $(($(date +%s) - t0)) s"; fi
nt_stop
port=$(cli_free_port)
nt_plan dead "[{\"url\": \"http://127.0.0.1:$port/hook?token=tok-should-not-show\", \"retries\": 1}]"
run "notify: an unreachable receiver is a warning, the apply succeeds" 0 apply --driver exec --hook "$NT/hook" $NT_AT \
	-d "$NT/st-dead" "$NT/dead.json" && expect_err "warning: webhook 'http://127.0.0.1:$port/hook\\?token=REDACTED'"
name="notify: the URL's token is never shown"
if ! grep -q tok-should-not-show "$TMP/err" "$TMP/out" "$NT/dead.plan.err"; then ok; else bad "token shown"; fi

# --- mistakes ------------------------------------------------------------------
nt_plan nosecret "[{\"url\": \"http://127.0.0.1:$port/hook\", \"secret_file\": \"$NT/missing-secret\"}]"
run "notify: apply refuses a missing secret file before anything (exit 6)" 6 apply --driver exec --hook "$NT/hook" \
	$NT_AT -d "$NT/st-nosecret" "$NT/nosecret.json" && expect_err "webhook secret file.*missing-secret" &&
	expect_no_file "$NT/st-nosecret/journal.json"
nt_bad() {
	cat >"$NT/bad.json" <<JSON
{"name": "b", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": ["node-a"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "notify": $1}
JSON
	run "notify: $2" 1 validate -i "$NT/inv.json" "$NT/bad.json" && expect_err "bad.json:3: $3"
}
nt_bad '{"webhooks": [{"url": "ftp://x"}]}' "a URL that is not HTTP" "notify.webhooks\\[0\\].url: expected an http"
nt_bad '{"webhooks": [{"url": "http://x", "events": ["waves"]}]}' "an unknown event" \
	"notify.webhooks\\[0\\].events\\[0\\]: expected one of plan_written"
nt_bad '{"webhooks": [{"url": "http://x", "retries": 11}]}' "too many retries" "notify.webhooks\\[0\\].retries"
nt_bad '{"webhooks": []}' "no webhook" "notify.webhooks: expected an array of 1 to 8"
nt_bad '{"webhooks": [{"url": "http://x", "timeout": "2m"}]}' "a timeout too long" \
	"notify.webhooks\\[0\\].timeout: expected a duration from 1s to 1m"
