# tune: the planner's weights learned on past windows of the demo's real
# traces (six days before its window, four learned on, two judged on).
TUNE_INV="$TD/demo/inventory.json"
TUNE_NOW=2018-05-06T00:00:00Z
# Today's weights: moves at 0.05, so that a replica may stay down with its
# partition and the weights change what the plans do.
/usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
s["weights"] = {"moves": 0.05}
json.dump(s, open(sys.argv[2], "w"), indent=2)' "$TD/demo/schedule.json" "$TMP/tune-sched.json"
cp "$TMP/tune-sched.json" "$TMP/tune-sched.orig"

run tune-table 0 tune -i "$TUNE_INV" -s "$TMP/tune-sched.json" --now $TUNE_NOW -n 6 -c 8 --seed 1 &&
	expect_out '^Past windows of 4h: 6, time split at 0\.667$' &&
	expect_out '^  train: 4 windows, 2018-04-30T01:00:00Z \.\. 2018-05-03T01:00:00Z$' &&
	expect_out '^  test:  2 windows, 2018-05-04T01:00:00Z \.\. 2018-05-05T01:00:00Z$' &&
	expect_out '^Search: successive halving over 8 candidates \(seed 1\), [0-9]+ plans replayed$' &&
	expect_out '^Bounds: +risk \[1, 100\] waste \[0\.1, 10\] moves \[0\.005, 0\.5\] confidence \[0\.05, 5\]$' &&
	expect_out '^WEIGHTS +SPLIT +WINDOWS +VIOLATIONS +OVERLOADS +ALLOCATED +RESERVED +MOVES +INFEASIBLE +SCORE$' &&
	expect_out '^today +train +4 +[0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+ +[0-9.]+$' &&
	expect_out '^proposed +train +4 ' && expect_out '^today +test +2 ' && expect_out '^proposed +test +2 ' &&
	expect_out '^today +risk 10 +waste 1 +moves 0\.05 +confidence 0\.5 *$' &&
	expect_out '^Proposed: the weights above score [0-9.]+ against today.s [0-9.]+ on the test windows\.$' &&
	expect_out '^Not written: pass --write FILE' && expect_no_err
cp "$TMP/out" "$TMP/tune-1"
name="tune: the schedule untouched without --write"
if cmp -s "$TMP/tune-sched.json" "$TMP/tune-sched.orig"; then ok; else bad "schedule changed"; fi

run tune-same-seed 0 tune -i "$TUNE_INV" -s "$TMP/tune-sched.json" --now $TUNE_NOW -n 6 -c 8 --seed 1
name="tune: the same output for the same seed"
if cmp -s "$TMP/out" "$TMP/tune-1"; then ok; else bad "outputs differ: $(diff "$TMP/tune-1" "$TMP/out" | head -5)"; fi

run tune-json-write 0 tune -i "$TUNE_INV" -s "$TMP/tune-sched.json" --now $TUNE_NOW -n 6 -c 8 --seed 1 -o json \
	-O "$TMP/tuned.json"
name="tune: json has the split, the evidence and the weights"
if jq -e '(.windows | length) == 6 and ([.windows[] | select(.split == "train")] | length) == 4
	and .windows[4].split == "test" and .train_share > 0.66 and .seed == 1 and .candidates == 8
	and .improved == true and (.written | endswith("tuned.json"))
	and .today.moves == 0.05 and (.proposed | keys) == ["confidence", "moves", "risk", "waste"]
	and .bounds.risk == [1, 100]
	and ([.train.today, .train.proposed, .test.today, .test.proposed][]
	     | has("violations") and has("overloads") and has("allocated") and has("reserved") and has("moves")
	       and has("score") and has("component_steps") and has("host_steps"))
	and .test.proposed.score < .test.today.score' "$TMP/out" >/dev/null; then ok; else bad "json lacks a field"; fi
# The written schedule: the proposed weights, everything else as it was.
name="tune: the written schedule has the proposed weights"
if /usr/bin/python3 -c '
import json, sys
out, tuned, orig = (json.load(open(p)) for p in sys.argv[1:4])
assert tuned["weights"] == out["proposed"], (tuned["weights"], out["proposed"])
del tuned["weights"], orig["weights"]
assert tuned == orig
assert list(json.load(open(sys.argv[2])).keys())[:3] == ["name", "window", "cutoff"]
' "$TMP/out" "$TMP/tuned.json" "$TMP/tune-sched.orig"; then ok; else bad "written schedule differs"; fi
run tune-written-validates 0 validate "$TMP/tuned.json" && expect_out 'valid schedule'
# plan uses the written weights: its moves term is the proposed weight
# times the replicas it moves.
run tune-written-plans 2 plan -i "$TUNE_INV" -s "$TMP/tuned.json" --now $TUNE_NOW -f "$TMP/tuned-plan.json"
name="tune: plan costs moves at the written weight"
if /usr/bin/python3 -c '
import json, sys
p, w = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))["weights"]["moves"]
n = sum(1 for x in p["waves"] for y in x["placements"] if y.get("from"))
assert n and abs(p["cost"]["moves"] - w * n) < 1e-9, (p["cost"]["moves"], w, n)
' "$TMP/tuned-plan.json" "$TMP/tuned.json"; then ok; else bad "plan did not use the written weights"; fi

# Today's weights stand: nothing is written.
run tune-stands 0 tune -i "$TUNE_INV" -s "$TD/demo/schedule.json" --now $TUNE_NOW -n 3 -c 2 -O "$TMP/not.json" &&
	expect_out "^Today's weights stand: no candidate beat them on the test windows\.$" &&
	expect_out "^learned +test +1 " &&
	expect_out "^Nothing written to '.*not\.json': today's weights stand\.$" && expect_no_file "$TMP/not.json"
name="tune: when today's weights stand, no row says proposed"
if grep -q "^proposed" "$TMP/out"; then bad "a proposed row"; else ok; fi

# Mistakes, each named.
run tune-split-too-few 1 tune -i "$TUNE_INV" -s "$TMP/tune-sched.json" --now $TUNE_NOW -n 2 --train 0.4 &&
	expect_err "^adpart-update: too few windows for a split: 2 windows with train 0\.4 leave 0 to learn on and 2 to judge on"
run tune-bad-train 64 tune -i "$TUNE_INV" -s "$TMP/tune-sched.json" --train 1.5 &&
	expect_err "--train expects a share between 0 and 1 \(exclusive\), not '1\.5'"
run tune-bad-windows 64 tune -i "$TUNE_INV" -s "$TMP/tune-sched.json" -n 61 &&
	expect_err "--windows expects a whole number from 2 to 60, not '61'"
run tune-bad-candidates 64 tune -i "$TUNE_INV" -s "$TMP/tune-sched.json" -c 0 &&
	expect_err "--candidates expects a whole number from 1 to 64, not '0'"
run tune-bad-seed 64 tune -i "$TUNE_INV" -s "$TMP/tune-sched.json" --seed x &&
	expect_err "--seed expects a whole number from 0 to 9223372036854775807, not 'x'"
run tune-unknown-option 64 tune -i "$TUNE_INV" -s "$TMP/tune-sched.json" --frobnicate &&
	expect_err "unrecognized option '--frobnicate'"
run tune-no-schedule 64 tune -i "$TUNE_INV" && expect_err "give the inventory and the schedule"
# Windows before the history: the forecast's error names the window.
run tune-before-history 1 tune -i "$TUNE_INV" -s "$TMP/tune-sched.json" --now 2018-04-26T00:00:00Z -n 3 &&
	expect_err "^adpart-update: the past window at 2018-04-2[0-9]T01:00:00Z: "
# A window already past counts among them: the latest that end by --now.
run tune-window-past 0 tune -i "$TUNE_INV" -s "$TD/demo/schedule.json" --now 2018-05-06T05:00:00Z -n 2 -c 1 -o json
name="tune: a window that has ended is the latest"
if jq -e '[.windows[].start] == ["2018-05-05T01:00:00Z", "2018-05-06T01:00:00Z"] and .evaluations == 2' "$TMP/out" >/dev/null
then ok; else bad "windows $(jq -c '[.windows[].start]' "$TMP/out")"; fi
