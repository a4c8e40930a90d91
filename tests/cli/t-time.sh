# Local times in a schedule across daylight-saving transitions.
dst_schedule() {
	/usr/bin/python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
s["window"] = {"start": sys.argv[2], "duration": "4h", "timezone": "Europe/Berlin"}
json.dump(s, open(sys.argv[3], "w"), indent=2)' "$TD/demo/schedule.json" "$1" "$2"
}

dst_schedule "2018-03-25 02:30:00" gap.json
run "a window starting in a DST gap is refused" 1 validate -i "$TD/demo/inventory.json" gap.json
expect_err "gap.json:[0-9]+: window.start: '2018-03-25 02:30:00' does not exist in Europe/Berlin: the clocks skip it"

dst_schedule "2018-10-28 02:30:00" fold.json
run "a window starting in a DST fold is valid" 0 validate -i "$TD/demo/inventory.json" fold.json
