# Recurring windows: a schedule's window.recurrence (a calendar event in
# the window's zone, systemd's OnCalendar subset), its duration and
# blackout dates; plan takes the next occurrence after --now, or the
# first at or after --occurrence; every mistake named with its line.

RC="$TMP/recur"
mkdir -p "$RC"
INV="$TD/demo/inventory.json"
# rc_sched FILE WINDOW_JSON: the demo schedule with this window.
rc_sched() {
	cat >"$1" <<JSON
{"name": "weekly",
 "window": $2,
 "cutoff": "30m", "partitions": ["node-a"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m"}
JSON
}
rc_start() { jq -r .schedule.window_start "$1"; }

rc_sched "$RC/weekly.json" '{"recurrence": "Sun *-*-* 01:00", "duration": "4h", "timezone": "Europe/Berlin"}'
run "recur: plan takes the next occurrence after --now" 2 plan -i "$INV" -s "$RC/weekly.json" --now 2018-05-05T12:00:00Z \
	-f "$RC/p1.json" && expect_out "window 2018-05-06T01:00:00\\+02:00 to 05:00 \\(Europe/Berlin; 23:00 to 03:00 UTC\\)"
name="recur: the plan's window is that occurrence, in UTC"
if [ "$(rc_start "$RC/p1.json")" = 2018-05-05T23:00:00Z ] &&
	[ "$(jq -r .schedule.window_end "$RC/p1.json")" = 2018-05-06T03:00:00Z ]; then ok; else bad "$(rc_start "$RC/p1.json")"; fi
# Messages give times in the window's zone, UTC beside them.
run "recur: a dry run ahead says when, in the window's zone and UTC" 0 apply --dry-run --now 2018-05-05T12:00:00Z \
	"$RC/p1.json" && expect_out "starts at 2018-05-06T0[0-9]:[0-9]{2}:00\+02:00 \(2[23]:[0-9]{2} UTC\), in "
rc_sched "$RC/skip.json" '{"recurrence": "Sun *-*-* 01:00", "duration": "4h", "timezone": "Europe/Berlin",
  "blackout_dates": ["2018-05-06"]}'
run "recur: a blackout date has no occurrence: the next one" 2 plan -i "$INV" -s "$RC/skip.json" \
	--now 2018-05-05T12:00:00Z -f "$RC/p2.json" && expect_out "window 2018-05-13T01:00:00\\+02:00"
rc_sched "$RC/daily.json" '{"recurrence": "*-*-* 01:00", "duration": "3h"}'
run "recur: --occurrence takes the first at or after it" 2 plan -i "$INV" -s "$RC/daily.json" --now 2018-05-05T12:00:00Z \
	--occurrence 2018-05-06T01:00:01Z -f "$RC/p3.json"
name="recur: --occurrence's window"
if [ "$(rc_start "$RC/p3.json")" = 2018-05-07T01:00:00Z ]; then ok; else bad "$(rc_start "$RC/p3.json")"; fi
run "recur: --occurrence needs a recurring window" 1 plan -i "$INV" -s "$TD/demo/schedule.json" \
	--now 2018-05-05T12:00:00Z --occurrence 2018-05-06T00:00:00Z --no-write &&
	expect_err "--occurrence is for a recurring window"
run "recur: --occurrence takes a time" 64 plan -i "$INV" -s "$RC/daily.json" --occurrence sunday --no-write
run "recur: forecast reads the occurrence after --now" 0 forecast -i "$INV" -s "$RC/weekly.json" \
	--now 2018-05-05T12:00:00Z -c api-01 -o json
name="recur: the forecast's window is the occurrence"
if [ "$(jq -r .start "$TMP/out")" = 2018-05-05T23:00:00Z ]; then ok; else bad "$(head -c 300 "$TMP/out")"; fi

# rc_bad WINDOW_JSON WHAT MESSAGE: validate names line 2 and the field.
rc_bad() {
	rc_sched "$RC/bad.json" "$1"
	run "recur: $2" 1 validate -i "$INV" "$RC/bad.json" && expect_err "bad.json:2: $3"
}
rc_bad '{"recurrence": "Sunday 25:00", "duration": "4h"}' "an hour out of range" \
	"window.recurrence: 'Sunday 25:00': time '25:00'"
rc_bad '{"recurrence": "Funday 01:00", "duration": "4h"}' "an unknown weekday" "window.recurrence: 'Funday 01:00': weekdays"
rc_bad '{"recurrence": "Sun 01:00", "start": "2018-05-06T01:00:00Z", "duration": "4h"}' "a recurrence and a start" \
	"window.recurrence: give a recurrence or a start, not both"
rc_bad '{"recurrence": "Sun 01:00"}' "a recurrence without its duration" "window: a recurring window needs its duration"
rc_bad '{"start": "2018-05-06T01:00:00Z", "duration": "4h", "blackout_dates": ["2018-05-06"]}' \
	"blackout dates without a recurrence" "window.blackout_dates: blackout dates are for a recurring window"
rc_bad '{"recurrence": "Sun 01:00", "duration": "4h", "blackout_dates": ["6 May"]}' "a blackout date that is no date" \
	"window.blackout_dates\\[0\\]: expected a date such as"
rc_bad '{"recurrence": "2017-*-* 01:00", "duration": "4h"}' "a recurrence with no occurrence ahead" \
	"window.recurrence: '2017-\\*-\\* 01:00' has no occurrence in the 1500 days after"
