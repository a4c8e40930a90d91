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
