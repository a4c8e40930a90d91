# apply's gates (the schedule's "gates"): firing alerts from a real
# Prometheus evaluating a real alerting rule, and a per-partition
# sentinel (a file or a command), before the first step and every wave;
# every gate fails closed, a block exits 9. Through the exec driver.

. "$TOP/tests/cli/lib.sh"
GT="$TMP/gates"
mkdir -p "$GT"
cli_web_inventory "$GT/inv.json"
# The hook: one line per act in $HOOK_CALLS.
cat >"$GT/hook" <<'HOOK'
#!/bin/sh
doc=$(cat)
[ "$1" = act ] && printf '%s\n' "$doc" | /usr/bin/python3 -c 'import json, sys; s = json.load(sys.stdin)["step"]; print("act", s["id"], s["action"], s.get("partition") or "-")' >>"$HOOK_CALLS"
[ "$1" = sample ] && echo '{"cpu": 0.01, "memory": 1048576}'
exit 0
HOOK
chmod 755 "$GT/hook"
HOOK_CALLS="$GT/calls"
export HOOK_CALLS

# gt_plan NAME GATES_JSON [PARTITIONS]: schedule NAME.sched.json with the
# gates, and its plan NAME.json; GT_AT is --now at the plan's start.
gt_plan() {
	cat >"$GT/$1.sched.json" <<JSON
{"name": "$1", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": [${3:-\"node-a\"}], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "plan_ttl": "24h", "period": "1d", "gates": $2}
JSON
	"$BIN" plan --driver exec -i "$GT/inv.json" -s "$GT/$1.sched.json" --now 2018-05-06T00:00:00Z \
		-f "$GT/$1.json" >"$GT/$1.plan.out" 2>&1
	GT_AT="--now $(cli_plan_start "$GT/$1.json")"
}
GTAPPLY="apply --driver exec --hook $GT/hook -d $GT/st"
gt_acts() { grep -c '^act ' "$HOOK_CALLS" 2>/dev/null || echo 0; }

# --- the schedule's gates section is checked when read -------------------------
gt_bad() {
	cat >"$GT/bad.json" <<JSON
{"name": "b", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": ["node-a"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "gates": $1}
JSON
	run "gates: $2" 1 validate -i "$GT/inv.json" "$GT/bad.json" && expect_err "bad.json:3: $3"
}
gt_bad '{"alerts": {"prometheus": "http://127.0.0.1:1", "names": ["(unclosed"]}}' "a pattern that does not compile" \
	"gates.alerts.names\\[0\\]: '\\(unclosed' is not an extended regular expression"
gt_bad '{"alerts": {"names": ["x"]}}' "alerts without a Prometheus" "gates.alerts: missing required field .prometheus."
gt_bad '{"alerts": {"prometheus": "ftp://x"}}' "a Prometheus URL that is not HTTP" "gates.alerts.prometheus: expected an http"
gt_bad '{"alerts": {"prometheus": "http://x", "labels": {"severity": 2}}}' "a label value that is not a string" \
	"gates.alerts.labels.severity: expected a string"
gt_bad '{"sentinel": {"file": "/x", "command": ["/bin/true"]}}' "a sentinel with both file and command" \
	"gates.sentinel: expected either file or command"
gt_bad '{"sentinel": {"file": "relative/path"}}' "a relative sentinel file" "gates.sentinel.file: expected an absolute path"
gt_bad '{"sentinel": {"file": "/x"}, "pods": {}}' "an unknown gate" "gates"

# --- the sentinel -----------------------------------------------------------
gt_plan sfile "{\"sentinel\": {\"file\": \"$GT/need-{partition}\"}}"
rm -rf "$GT/st" "$HOOK_CALLS" "$GT/need-node-a"
run "gates: a wave whose partition has no sentinel file is skipped, nothing acts" 0 $GTAPPLY $GT_AT "$GT/sfile.json" &&
	expect_out "applied: 0 steps done, 15 skipped \\(no partition of their wave needed the update\\)"
name="gates: skipped steps never reach the driver and are journaled skipped with the reason"
if [ "$(gt_acts)" -eq 0 ] && [ "$(jq '[.steps[] | select(.status == "skipped")] | length' "$GT/st/run.json")" -eq 15 ] &&
	jq -e '.steps[0].message | test("no partition of wave 1 needs the update \\(sentinel\\): node-a")' \
		"$GT/st/run.json" >/dev/null; then ok; else bad "acts $(gt_acts); $(jq -c .steps[0] "$GT/st/run.json")"; fi
run "gates: show counts the skipped steps" 0 show "$GT/st/run.json" && expect_out "0 pending, 15 skipped$"
rm -rf "$GT/st" "$HOOK_CALLS"
: >"$GT/need-node-a"
run "gates: with its sentinel file present the wave runs" 0 $GTAPPLY $GT_AT "$GT/sfile.json" &&
	expect_out "applied: 15 steps done$"
name="gates: every act reached the driver"
if [ "$(gt_acts)" -eq 15 ]; then ok; else bad "$(gt_acts) acts"; fi

# A command: exit 0 needed, 1 not, anything else no answer (fails closed).
cat >"$GT/sentinel" <<'SH'
#!/bin/sh
# $1: the partition; the answer from $GT_SENTINEL_DIR/answer-PARTITION (0 when absent).
a=$(cat "$GT_SENTINEL_DIR/answer-$1" 2>/dev/null || echo 0)
[ "$a" = sleep ] && exec sleep 30
exit "$a"
SH
chmod 755 "$GT/sentinel"
GT_SENTINEL_DIR=$GT
export GT_SENTINEL_DIR
gt_plan scmd "{\"sentinel\": {\"command\": [\"$GT/sentinel\", \"{partition}\"], \"timeout\": \"2s\"}}" '"node-a", "node-b"'
name="gates: a plan of two waves, one a partition"
if [ "$(jq '.waves | length' "$GT/scmd.json")" -eq 2 ]; then ok; else bad "$(cat "$GT/scmd.plan.out")"; fi
rm -rf "$GT/st" "$HOOK_CALLS"
echo 1 >"$GT/answer-node-a"
echo 0 >"$GT/answer-node-b"
run "gates: a sentinel command exiting 1 skips its wave, the next runs" 0 $GTAPPLY $GT_AT "$GT/scmd.json" &&
	expect_out "skipped"
name="gates: only wave 2's steps acted"
if ! grep -q ' node-a$' "$HOOK_CALLS" 2>/dev/null && grep -q 'run_update node-b' "$HOOK_CALLS"; then ok; else
	bad "$(tr '\n' ';' <"$HOOK_CALLS")"; fi
rm -rf "$GT/st" "$HOOK_CALLS"
echo 0 >"$GT/answer-node-a"
echo 3 >"$GT/answer-node-b"
run "gates: a sentinel without an answer before wave 2 blocks there (exit 9)" 9 $GTAPPLY $GT_AT "$GT/scmd.json" &&
	expect_err "blocked before wave 2: no answer from the sentinel of 'node-b' \\(fails closed\\): .*exited 3" &&
	expect_err "--resume continues once it clears"
name="gates: wave 1 ran and was journaled; the journal says what blocked"
if grep -q 'run_update node-a' "$HOOK_CALLS" && [ "$(jq -r .state "$GT/st/journal.json")" = stopped ] &&
	jq -e '.blocked_by | test("sentinel of .node-b.")' "$GT/st/journal.json" >/dev/null &&
	[ "$(jq -r .outcome "$GT/st/run.json")" = blocked ]; then ok; else bad "$(jq -c '{state, blocked_by}' "$GT/st/journal.json")"; fi
run "gates: -o json names the outcome blocked and the resume" 9 $GTAPPLY $GT_AT --resume -o json "$GT/scmd.json"
name="gates: -o json: blocked, exit 9, next --resume"
if [ "$(jq -r '.outcome + " " + (.exit_status | tostring)' "$TMP/out")" = "blocked 9" ] &&
	jq -e '.next | test("apply --resume --driver exec")' "$TMP/out" >/dev/null; then ok; else bad "$(cat "$TMP/out")"; fi
echo sleep >"$GT/answer-node-b"
run "gates: a sentinel that times out blocks" 9 $GTAPPLY $GT_AT --resume "$GT/scmd.json" && expect_err "timed out after 2s"
echo 0 >"$GT/answer-node-b"
run "gates: once it clears, --resume finishes" 0 $GTAPPLY $GT_AT --resume "$GT/scmd.json" && expect_out "applied: 17 steps done$"
name="gates: wave 1 was not repeated"
if [ "$(grep -c 'run_update node-a' "$HOOK_CALLS")" -eq 1 ] && [ "$(grep -c 'run_update node-b' "$HOOK_CALLS")" -eq 1 ]; then
	ok; else bad "$(tr '\n' ';' <"$HOOK_CALLS")"; fi
unset GT_SENTINEL_DIR

# --- alerts from a real Prometheus with a real alerting rule ----------------
if ! command -v prometheus >/dev/null 2>&1; then
	echo "SKIP: gates: prometheus missing (run .ci/deps)" >&2
else
	mkdir -p "$GT/prom/tsdb"
	cat >"$GT/prom/rules.yml" <<'YML'
groups:
  - name: gate-test
    interval: 1s
    rules:
      - alert: NodeUnderMaintenance
        expr: vector(1) > 0
        labels: {severity: critical, team: infra}
        annotations: {summary: "always firing: the gate tests"}
      - alert: SlowBurn
        expr: vector(1) > 0
        for: 1h
        labels: {severity: warning}
YML
	printf 'global:\n  scrape_interval: 1h\n  evaluation_interval: 1s\nrule_files: [%s]\nscrape_configs: []\n' \
		"$GT/prom/rules.yml" >"$GT/prom/prometheus.yml"
	if ! cli_prom_start "$GT/prom" "$GT/prom.log"; then
		name="gates: prometheus start"
		bad "$(tail -3 "$GT/prom.log")"
	else
		PURL="http://127.0.0.1:$CLI_PROM_PORT"
		i=0
		until curl -fsS "$PURL/api/v1/alerts" | jq -e '.data.alerts | map(select(.state == "firing")) | length > 0' \
			>/dev/null 2>&1 || [ $i -ge 100 ]; do sleep 0.2; i=$((i + 1)); done
		name="gates: the rule fires in Prometheus"
		if [ $i -lt 100 ]; then ok; else bad "no firing alert after 20 s"; fi
		gt_plan afire "{\"alerts\": {\"prometheus\": \"$PURL\", \"names\": [\"^Node\"]}}"
		rm -rf "$GT/st" "$HOOK_CALLS"
		run "gates: a firing alert blocks before the first step (exit 9)" 9 $GTAPPLY $GT_AT "$GT/afire.json" &&
			expect_err "blocked before the first step: alert NodeUnderMaintenance\\{.*severity=\"critical\".*\\} is firing: nothing was changed"
		name="gates: blocked before the first step: no journal, no act"
		if [ ! -e "$GT/st/journal.json" ] && [ "$(gt_acts)" -eq 0 ]; then ok; else bad "journal or acts left"; fi
		gt_plan alabel "{\"alerts\": {\"prometheus\": \"$PURL\", \"labels\": {\"team\": \"infra\", \"severity\": \"warning\"}}}"
		rm -rf "$GT/st" "$HOOK_CALLS"
		run "gates: an alert without every label given does not block" 0 $GTAPPLY $GT_AT "$GT/alabel.json"
		gt_plan aignore "{\"alerts\": {\"prometheus\": \"$PURL\", \"ignore\": [\"Maintenance\$\"]}}"
		rm -rf "$GT/st" "$HOOK_CALLS"
		run "gates: an ignored alert does not block, a pending one neither" 0 $GTAPPLY $GT_AT "$GT/aignore.json"
		gt_plan apending "{\"alerts\": {\"prometheus\": \"$PURL\", \"ignore\": [\"Maintenance\$\"], \"pending\": true}}"
		rm -rf "$GT/st" "$HOOK_CALLS"
		run "gates: with pending, a pending alert blocks" 9 $GTAPPLY $GT_AT "$GT/apending.json" &&
			expect_err "alert SlowBurn\\{severity=\"warning\"\\} is pending"
		gt_plan anames "{\"alerts\": {\"prometheus\": \"$PURL\", \"names\": [\"^Disk\"]}}"
		rm -rf "$GT/st" "$HOOK_CALLS"
		run "gates: names select which alerts block" 0 $GTAPPLY $GT_AT "$GT/anames.json"
		cli_prom_stop
		rm -rf "$GT/st" "$HOOK_CALLS"
		run "gates: Prometheus gone: no answer fails closed (exit 9)" 9 $GTAPPLY $GT_AT "$GT/afire.json" &&
			expect_err "no answer from the alert gate \\(fails closed\\): .*127.0.0.1:$CLI_PROM_PORT"
	fi
fi
unset HOOK_CALLS
