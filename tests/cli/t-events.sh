# Known events (the schedule's "events"): a surge declared ahead is in
# the forecast the plan reserves for. A history with a sales hour the
# past never showed: planned without the event, every step of the wave
# is a violation in simulate; with it declared, none is.

. "$TOP/tests/cli/lib.sh"
EV="$TMP/events"
mkdir -p "$EV"
/usr/bin/python3 - "$EV/web.csv" <<'PY'
import datetime as d, math, sys
t, end = d.datetime(2018, 4, 16, tzinfo=d.timezone.utc), d.datetime(2018, 5, 6, 5, tzinfo=d.timezone.utc)
s0, s1 = d.datetime(2018, 5, 6, 2, tzinfo=d.timezone.utc), d.datetime(2018, 5, 6, 3, tzinfo=d.timezone.utc)
with open(sys.argv[1], 'w') as f:
    f.write('TimeStamp,Value\n')
    i = 0
    while t < end:
        v = 600 if s0 <= t < s1 else 100 + 20 * math.sin(2 * math.pi * (t.hour * 60 + t.minute) / 1440) + (i * 7919) % 13 - 6
        f.write('%s,%.1f\n' % (t.strftime('%Y-%m-%dT%H:%M:%SZ'), v))
        t += d.timedelta(minutes=5)
        i += 1
PY
cli_web_inventory "$EV/inv.json" "$EV/web.csv"
# ev_sched FILE [EVENTS_JSON]: a one-hour window over the sales hour.
ev_sched() {
	cat >"$1" <<JSON
{"name": "e", "window": {"start": "2018-05-06T02:00:00Z", "end": "2018-05-06T03:00:00Z"}, "cutoff": "0s",
 "partitions": ["node-a"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m", "period": "1d"${2:+,
 \"events\": $2}}
JSON
}
ev_sched "$EV/none.json"
ev_sched "$EV/sale.json" '[{"start": "2018-05-06T02:00:00Z", "end": "2018-05-06T03:00:00Z", "components": ["web"],
  "multiplier": {"cpu": 6}, "reason": "sales day"}]'
run "events: plan without the event" 2 plan -i "$EV/inv.json" -s "$EV/none.json" --now 2018-05-06T00:00:00Z -f "$EV/p-none.json"
run "events: plan with the sales hour declared" 2 plan -i "$EV/inv.json" -s "$EV/sale.json" --now 2018-05-06T00:00:00Z \
	-f "$EV/p-sale.json" &&
	expect_out "risk: known event 'sales day' from 2018-05-06T02:00:00Z to 2018-05-06T03:00:00Z is in the forecast \\(cpu x6\\) for web"
run "events: simulate the plan without it" 0 simulate "$EV/p-none.json" -i "$EV/inv.json" -o json
cp "$TMP/out" "$EV/sim-none.json"
run "events: simulate the plan with it" 0 simulate "$EV/p-sale.json" -i "$EV/inv.json" -o json
name="events: the surge breaks the plan made without the event at every step, and none of the one with it"
v_none=$(jq '.components[] | select(.component == "web" and .resource == "cpu") | .methods.plan | .violations == .steps and .steps > 0' "$EV/sim-none.json")
v_sale=$(jq '.components[] | select(.component == "web" and .resource == "cpu") | .methods.plan | .violations == 0 and .steps > 0' "$TMP/out")
if [ "$v_none $v_sale" = "true true" ]; then ok; else bad "without: $v_none, with: $v_sale"; fi
name="events: simulate's forecast figures: the p95 without the event covered no step of the surge, with it every step"
c_none=$(jq '.components[] | select(.component == "web" and .resource == "cpu") | .forecast | .coverage_p95 == 0 and .bias_p50 > 3' "$EV/sim-none.json")
c_sale=$(jq '.components[] | select(.component == "web" and .resource == "cpu") | .forecast | .coverage_p95 == 1 and .samples > 0' "$TMP/out")
if [ "$c_none $c_sale" = "true true" ]; then ok; else bad "without: $c_none, with: $c_sale"; fi
run "events: simulate prints the forecast table" 0 simulate "$EV/p-sale.json" -i "$EV/inv.json" &&
	expect_out "^FORECAST +RESOURCE +STEPS +COV P95" && expect_out "^web +cpu +6 +1.000 +1.000"
ev_sched "$EV/add.json" '[{"start": "2018-05-06T02:00:00Z", "end": "2018-05-06T03:00:00Z", "add": {"memory": "1GiB"}}]'
run "events: an added amount, for every component" 2 plan -i "$EV/inv.json" -s "$EV/add.json" --now 2018-05-06T00:00:00Z \
	-f "$EV/p-add.json" -o json
name="events: the added memory is in the p95 the plan monitors"
if [ "$(jq '[.waves[].placements[] | select(.component == "web") | .p95_peak.memory] | max > 1073741824' "$EV/p-add.json")" = true ] &&
	[ "$(jq '[.waves[].placements[] | select(.component == "web") | .p95_peak.memory] | max < 1073741824' "$EV/p-none.json")" = true ]; then
	ok; else bad "$(jq -c '[.waves[].placements[] | .p95_peak]' "$EV/p-add.json")"; fi

# ev_bad EVENTS WHAT MESSAGE: validate names line 3 and the field.
ev_bad() {
	ev_sched "$EV/bad.json" "$1"
	run "events: $2" 1 validate -i "$EV/inv.json" "$EV/bad.json" && expect_err "bad.json:3: $3"
}
ev_bad '[{"start": "2018-05-06T02:00:00Z", "end": "2018-05-06T03:00:00Z"}]' "neither multiplier nor add" \
	"events\\[0\\]: expected a multiplier, an add, or both"
ev_bad '[{"start": "2018-05-06T03:00:00Z", "end": "2018-05-06T02:00:00Z", "multiplier": 2}]' "an event that ends first" \
	"events\\[0\\]: an event must end after it starts"
ev_bad '[{"start": "2018-05-06T02:00:00Z", "end": "2018-05-06T03:00:00Z", "multiplier": 0}]' "a factor of 0" \
	"events\\[0\\].multiplier: expected a factor above 0"
ev_bad '[{"start": "2018-05-06T02:00:00Z", "end": "2018-05-06T03:00:00Z", "multiplier": {"gpu": 2}}]' "an unknown resource" \
	"events\\[0\\].multiplier.gpu: unknown resource"
ev_bad '[{"start": "2018-05-06T02:00:00Z", "end": "2018-05-06T03:00:00Z", "multiplier": 2, "components": ["db"]}]' \
	"a component the inventory lacks" "events\\[0\\].components\\[0\\]: component 'db' is not in the inventory"
ev_bad '[{"start": "2018-05-06T02:00:00Z", "end": "2018-05-06T03:00:00Z", "add": {"memory": "lots"}}]' "an amount that is no quantity" \
	"events\\[0\\].add.memory"

# --- events from a URL: the same list, served by a real HTTP server on loopback -----
mkdir -p "$EV/www/api"
printf '{"events": [{"start": "2018-05-06T02:00:00Z", "end": "2018-05-06T03:00:00Z", "components": ["web"],\n  "multiplier": {"cpu": 6}, "reason": "sales day"}]}\n' >"$EV/www/api/events.json"
printf '{"events": [{"start": "2018-05-06T02:00:00Z",\n  "end": "2018-05-06T03:00:00Z", "multiplier": {"gpu": 2}}]}\n' >"$EV/www/api/bad.json"
printf '[1, 2]\n' >"$EV/www/api/array.json"
printf '{"surges": []}\n' >"$EV/www/api/other.json"
EV_PORT=$(cli_free_port)
/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$EV/www" "$EV_PORT" >"$EV/http.log" 2>&1 &
EV_HTTP=$!
i=0
while ! curl -sf "http://127.0.0.1:$EV_PORT/api/events.json" >/dev/null 2>&1 && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
ev_sched "$EV/url.json" "{\"url\": \"http://127.0.0.1:$EV_PORT/api/events.json?token=s3cret\", \"timeout\": \"5s\"}"
run "events: plan with the events from a URL" 2 plan -i "$EV/inv.json" -s "$EV/url.json" --now 2018-05-06T00:00:00Z \
	-f "$EV/p-url.json" &&
	expect_out "risk: known event 'sales day' from 2018-05-06T02:00:00Z to 2018-05-06T03:00:00Z is in the forecast \\(cpu x6\\) for web"
name="events: the URL's events give the plan the inline ones give"
if [ "$(jq -c '[.waves[].placements[] | .allocation]' "$EV/p-url.json")" = "$(jq -c '[.waves[].placements[] | .allocation]' "$EV/p-sale.json")" ] &&
	[ "$(jq -c '[.waves[].placements[] | .allocation]' "$EV/p-url.json")" != "$(jq -c '[.waves[].placements[] | .allocation]' "$EV/p-none.json")" ]; then
	ok; else bad "allocations differ from the inline events' plan"; fi
# ev_url_bad PATH_OR_URL WHAT MESSAGE: validate fails naming the URL (its token redacted).
ev_url_bad() {
	ev_sched "$EV/urlbad.json" "{\"url\": \"$1\"}"
	run "events: $2" 1 validate -i "$EV/inv.json" "$EV/urlbad.json" && expect_err "$3"
	name="events: $2: the token is not shown"
	if grep -q s3cret "$TMP/err"; then bad "the token is in the message"; else ok; fi
}
ev_url_bad "http://127.0.0.1:$EV_PORT/api/bad.json?token=s3cret" "an event from the URL that is wrong" \
	"api/bad.json\\?token=REDACTED:2: events\\[0\\].multiplier.gpu: unknown resource"
ev_url_bad "http://127.0.0.1:$EV_PORT/api/absent.json?token=s3cret" "a URL that answers 404" \
	"urlbad.json: events: 'http://127.0.0.1:$EV_PORT/api/absent.json\\?token=REDACTED' answered HTTP 404"
ev_url_bad "http://127.0.0.1:$EV_PORT/api/array.json?token=s3cret" "a URL that answers no events object" \
	"api/array.json\\?token=REDACTED:1: expected a JSON object at the top level"
ev_url_bad "http://127.0.0.1:$EV_PORT/api/other.json?token=s3cret" "a URL whose object has no events" \
	"answered without an object \\{\"events\": \\[...\\]\\}"
ev_url_bad "http://127.0.0.1:$(cli_free_port)/api/events.json?token=s3cret" "a URL nobody answers" \
	"events 'http://127.0.0.1:[0-9]+/api/events.json\\?token=REDACTED'"
ev_bad '{"url": "ftp://example.org/events.json"}' "a URL that is not http" \
	"events.url: expected an http:// or https:// URL"
ev_bad '{"url": "http://127.0.0.1:1/e.json", "timeout": "10m"}' "a timeout over its bound" \
	"events.timeout: expected a timeout from 1s to 120s"
kill $EV_HTTP 2>/dev/null
wait $EV_HTTP 2>/dev/null
# With the server gone: plan and validate, which fetch the list, fail
# naming it; forecast (no events) and apply (the plan holds them) do not
# fetch it, so an events server that is down never stops an update.
run "events: plan with the URL down fails naming it" 1 plan -i "$EV/inv.json" -s "$EV/url.json" --now 2018-05-06T00:00:00Z \
	-f "$EV/p-down.json" && expect_err "events 'http://127.0.0.1:$EV_PORT/api/events.json\\?token=REDACTED'"
name="events: nothing written when the URL is down"
if [ -e "$EV/p-down.json" ]; then bad "a plan was written"; else ok; fi
run "events: forecast does not fetch the URL" 0 forecast -i "$EV/inv.json" -s "$EV/url.json" --now 2018-05-06T00:00:00Z
printf '#!/bin/sh\ncat >/dev/null\necho "{}"\n' >"$EV/hook"
chmod +x "$EV/hook"
run "events: apply --dry-run of the URL's plan does not fetch it" 0 apply --driver exec --hook "$EV/hook" \
	--now "$(cli_plan_start "$EV/p-url.json")" --dry-run "$EV/p-url.json"
