# kubernetes driver: the drain options of kubectl drain (--grace-period,
# --pod-selector, --delete-emptydir-data, --force, --disable-eviction),
# --node-selector, the budgets that can never allow the plan's evictions
# (refused before anything changes), --dry-run=server and
# --on-drain-timeout, against the FAKE API server in tests/fake-kube.

K="$TMP/kube-drain"
mkdir -p "$K"
. "$TOP/tests/fake-kube/lib.sh"
. "$TOP/tests/cli/lib.sh"
KNOW="--now 2018-05-06T00:00:00Z"

if ! command -v openssl >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
	echo "SKIP: kube-drain: openssl or jq missing (run .ci/deps)" >&2
else

fk_certs "$K" || { name="kube-drain: certificates"; bad "openssl could not make the test CA"; }
cli_schedule "$K/sched.json" k node-b "$K/updates.log"
KAPPLY="apply --driver kubernetes --kubeconfig $K/kubeconfig -d $K/st --poll-interval 50ms --evict-backoff 200ms"
WEBB=web-5d8f7b9c6-q7m3z # web's pod on node-b
# kpod NS NAME NODE [METADATA [SPEC]]: a jq filter adding a pod labelled
# app=NAME, its metadata and spec added to (JSON objects).
kpod() {
	kp_md=${4:-}
	kp_spec=${5:-}
	printf '.pods += [{"metadata": ({"name": "%s", "namespace": "%s", "labels": {"app": "%s"}} + %s),
	"spec": ({"nodeName": "%s", "containers": [{"name": "c"}]} + %s)}]' \
		"$2" "$1" "$2" "${kp_md:-"{}"}" "$3" "${kp_spec:-"{}"}"
}
OWNED='{"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "batch-6c7d8", "uid": "u", "controller": true}]}'
EMPTYDIR='{"volumes": [{"name": "scratch", "emptyDir": {}}]}'
# klog NAME REGEX [COUNT]: the fake's request log has COUNT lines (default:
# at least one) matching REGEX.
klog() {
	name=$1
	n=$(grep -Ec -- "$2" "$K/log")
	if { [ -z "${3:-}" ] && [ "$n" -gt 0 ]; } || [ "$n" = "${3:-}" ]; then ok; else bad "$n log lines match /$2/"; fi
}
# kunchanged NAME: nothing was written to the cluster (but requests with
# dryRun=All) and no journal made.
kunchanged() {
	name="$1: no write"
	if grep -E '^(POST|PATCH|DELETE|REMOVE) ' "$K/log" | grep -qv 'dryRun=All'; then
		bad "$(grep -E '^(POST|PATCH|DELETE|REMOVE) ' "$K/log" | grep -v 'dryRun=All')"; else ok; fi
	name="$1: no journal"
	if [ -e "$K/st/journal.json" ]; then bad "a journal was made"; else ok; fi
	kjq "$1: node-b schedulable" '(.nodes[1].spec.unschedulable // false) == false'
}

# --- the command line -------------------------------------------------------
kcluster .
kstart
kplan
run "kube-drain: a bad pod selector" 64 $KAPPLY --pod-selector 'app=we b' "$K/plan.json" &&
	expect_err "^adpart-update apply: --pod-selector: label selector 'app=we b': 'app=we b': a label value"
run "kube-drain: a bad node selector" 64 $KAPPLY --node-selector 'a/b/c' "$K/plan.json" &&
	expect_err "^adpart-update apply: --node-selector: label selector 'a/b/c': 'a/b/c': a label key"
run "kube-drain: a selector ending with a comma" 64 $KAPPLY --pod-selector 'app=web,' "$K/plan.json" &&
	expect_err "label selector 'app=web,': ends with a comma"
run "kube-drain: a bad node selector for plan" 64 plan --driver kubernetes --node-selector 'zone in (z1' -s "$K/sched.json" &&
	expect_err "--node-selector: label selector 'zone in \(z1'"
run "kube-drain: a grace period that is not a number" 64 $KAPPLY --grace-period soon "$K/plan.json" &&
	expect_err "--grace-period 'soon': expected whole seconds from 0 to 31536000, or -1"
run "kube-drain: a grace period below -1" 64 $KAPPLY --grace-period -2 "$K/plan.json" && expect_err "--grace-period '-2'"
run "kube-drain: an unknown drain timeout action" 64 $KAPPLY --on-drain-timeout later "$K/plan.json" &&
	expect_err "--on-drain-timeout 'later': expected rollback, stop or skip"
run "kube-drain: an unknown dry-run mode" 64 $KAPPLY --dry-run=remote "$K/plan.json" &&
	expect_err "--dry-run=remote: expected client .* or server"
run "kube-drain: --dry-run=server with the local driver" 64 apply --dry-run=server "$K/plan.json" &&
	expect_err "--dry-run=server is for --driver kubernetes: the local driver has no API server to ask"
run "kube-drain: --dry-run=server with the exec driver" 64 apply --driver exec --hook /bin/true --dry-run=server "$K/plan.json" &&
	expect_err "the exec driver has no API server to ask"
run "kube-drain: --dry-run=server excludes --resume" 64 $KAPPLY --dry-run=server --resume "$K/plan.json" &&
	expect_err "exclude each other"
run "kube-drain: --dry-run=client is the plain dry run" 0 $KAPPLY $(kat "$K/plan.json") --dry-run=client "$K/plan.json" &&
	expect_out "steps would run"
kunchanged "kube-drain: the client dry run"

# --- --grace-period -----------------------------------------------------------
kcluster .
kstart
kplan
run "kube-drain: apply with --grace-period 5" 0 $KAPPLY $(kat "$K/plan.json") --grace-period 5 "$K/plan.json"
klog "kube-drain: the eviction carried gracePeriodSeconds 5" "^REMOVE shop/$WEBB via=eviction grace=5$" 1
kcluster .
kstart
kplan
run "kube-drain: apply with --grace-period -1" 0 $KAPPLY $(kat "$K/plan.json") --grace-period -1 "$K/plan.json"
klog "kube-drain: -1 leaves each pod its own grace period" "^REMOVE shop/$WEBB via=eviction grace=default$" 1

# --- --disable-eviction -------------------------------------------------------
# The budget could never let web's pod go (checked before the run, below);
# deleting bypasses it, which is why the option is dangerous.
kcluster '(.poddisruptionbudgets[0].spec.minAvailable) = 3'
kstart
kplan
run "kube-drain: --disable-eviction deletes, bypassing the budget" 0 $KAPPLY $(kat "$K/plan.json") --disable-eviction \
	--grace-period 0 "$K/plan.json"
klog "kube-drain: a DELETE with gracePeriodSeconds=0" "^DELETE /api/v1/namespaces/shop/pods/$WEBB\\?gracePeriodSeconds=0 200$" 1
klog "kube-drain: deleted, not evicted" "^REMOVE shop/$WEBB via=delete grace=0$" 1
klog "kube-drain: no eviction request" "/eviction" 0
kmsg "kube-drain: the drain says deleted" '.steps[6]' "1 pods deleted from node 'node-b'"

# --- pods without a controller: refused, or deleted with --force ----------------
BARE=$(kpod default debug node-b)
kcluster "$BARE"
kstart
kplan
run "kube-drain: a bare pod refuses the drain" 4 $KAPPLY $(kat "$K/plan.json") "$K/plan.json" && expect_err "rolled back"
kmsg "kube-drain: the bare pod named" '.steps[8]' \
	"^cannot drain node 'node-b': pods without a controller \\('default/debug'\\): --force deletes them"
kjq "kube-drain: the bare pod is still there" '[.pods[] | select(.metadata.name == "debug")] | length == 1'
kjq "kube-drain: node-b schedulable after the rollback" '(.nodes[1].spec.unschedulable // false) == false'
name="kube-drain: nothing of node-b's was removed by the refused drain"
if grep -q '^REMOVE default/debug' "$K/log"; then bad "$(grep ^REMOVE "$K/log")"; else ok; fi
kcluster "$BARE"
kstart
kplan
run "kube-drain: --force deletes the bare pod" 0 $KAPPLY $(kat "$K/plan.json") --force "$K/plan.json"
klog "kube-drain: the bare pod deleted, not evicted" "^REMOVE default/debug via=delete grace=default$" 1
klog "kube-drain: no eviction of the bare pod" "pods/debug/eviction" 0
kjq "kube-drain: DaemonSet and mirror pods stay, the bare pod is gone" \
	'[.pods[] | select(.spec.nodeName == "node-b") | .metadata.name] == ["node-exporter-babcd", "kube-proxy-node-b"]'
kmsg "kube-drain: the update step says what the node drain did" '.steps[8]' \
	"node 'node-b' drained: 0 pods evicted, 1 deleted .* 2 left"
kcluster .
kstart
kplan
run "kube-drain: --force without a pod to force" 0 $KAPPLY $(kat "$K/plan.json") --force "$K/plan.json"
kmsg "kube-drain: nothing else to drain" '.steps[8]' "no other pod to drain from node 'node-b' \\(2 left"

# --- emptyDir volumes: refused, or drained with --delete-emptydir-data -------------
CACHE=$(kpod shop batch-6c7d8-x1 node-b "$OWNED" "$EMPTYDIR")
kcluster "$CACHE"
kstart
kplan
run "kube-drain: a pod with an emptyDir volume refuses the drain" 4 $KAPPLY $(kat "$K/plan.json") "$K/plan.json"
kmsg "kube-drain: the emptyDir pod named" '.steps[8]' \
	"pods with emptyDir volumes \\('shop/batch-6c7d8-x1'\\): --delete-emptydir-data lets them go, their data lost"
kjq "kube-drain: the emptyDir pod is still there" '[.pods[] | select(.metadata.name == "batch-6c7d8-x1")] | length == 1'
kcluster "$CACHE"
kstart
kplan
run "kube-drain: --delete-emptydir-data drains it" 0 $KAPPLY $(kat "$K/plan.json") --delete-emptydir-data "$K/plan.json"
klog "kube-drain: the emptyDir pod evicted" "^REMOVE shop/batch-6c7d8-x1 via=eviction" 1
# web's own pod with an emptyDir volume: its drain step refuses before any eviction.
kcluster "(.pods[] | select(.metadata.name == \"$WEBB\") | .spec.volumes) = [{\"name\": \"tmp\", \"emptyDir\": {}}]"
kstart
kplan
run "kube-drain: the plan's own pod with an emptyDir volume" 4 $KAPPLY $(kat "$K/plan.json") "$K/plan.json"
kmsg "kube-drain: the drain step names it" '.steps[6]' "pods with emptyDir volumes \\('shop/$WEBB'\\)"
klog "kube-drain: no eviction of it" "/eviction" 0

# --- --pod-selector --------------------------------------------------------------
SEL="$(kpod shop batch-6c7d8-x1 node-b "$OWNED") | $(kpod shop batch-6c7d8-x2 node-b "$OWNED + {\"labels\": {\"app\": \"keep\"}}")"
kcluster "$SEL"
kstart
kplan
run "kube-drain: --pod-selector drains only what it selects" 0 $KAPPLY $(kat "$K/plan.json") --pod-selector 'app!=keep' "$K/plan.json"
klog "kube-drain: the selected pod evicted" "^REMOVE shop/batch-6c7d8-x1 via=eviction" 1
klog "kube-drain: the other one left" "^REMOVE shop/batch-6c7d8-x2" 0
kjq "kube-drain: the unselected pod is still on node-b" \
	'[.pods[] | select(.metadata.name == "batch-6c7d8-x2") | .spec.nodeName] == ["node-b"]'
run "kube-drain: --pod-selector that leaves out the plan's own pods" 6 $KAPPLY $(kat "$K/plan.json") -d "$K/st-sel" \
	--pod-selector 'app in (batch, keep)' "$K/plan.json" &&
	expect_err "^adpart-update: refused: --pod-selector 'app in \\(batch, keep\\)' does not select the pods of 'shop.web', which step 7 \\(drain\\) moves off node 'node-b'"

# --- --node-selector --------------------------------------------------------------
kcluster '.nodes[2].metadata.labels["node.kubernetes.io/pool"] = "gpu"'
kstart
# db's only node is left out, and db with it (and from the history); on
# two nodes web's replicas have nowhere to go (exit 3), which is the
# planner's business: the inventory is what is checked here.
grep -v 'shop\.db' "$TD/kube/history.csv" >"$K/history-web.csv"
run "kube-drain: plan --node-selector leaves other nodes out" 3 plan --driver kubernetes --kubeconfig "$K/kubeconfig" \
	-s "$K/sched.json" $KNOW -i "$K/inv-sel.json" -f "$K/plan-sel.json" -H "$K/history-web.csv" \
	--node-selector 'node.kubernetes.io/pool=general' &&
	expect_err "node 'node-c' does not match --node-selector 'node.kubernetes.io/pool=general': left out of the partitions" &&
	expect_err "discovered 2 nodes"
name="kube-drain: only the selected nodes are partitions"
if [ "$(jq -c '[.partitions[].name]' "$K/inv-sel.json")" = '["node-a","node-b"]' ]; then ok; else bad "$(jq -c '[.partitions[].name]' "$K/inv-sel.json")"; fi
kplan
: >"$K/log"
run "kube-drain: apply refuses a node the selector does not match" 6 $KAPPLY $(kat "$K/plan.json") \
	--node-selector 'node.kubernetes.io/pool=gpu' "$K/plan.json" &&
	expect_err "^adpart-update: refused: node 'node-b' does not match --node-selector 'node.kubernetes.io/pool=gpu'"
kunchanged "kube-drain: the node selector's refusal"
run "kube-drain: apply refuses a target node the selector does not match" 6 $KAPPLY $(kat "$K/plan.json") \
	--node-selector 'node.kubernetes.io/pool!=gpu' "$K/plan.json" &&
	expect_err "refused: target node 'node-c' does not match --node-selector 'node.kubernetes.io/pool!=gpu'"
run "kube-drain: apply within the node selector" 0 $KAPPLY $(kat "$K/plan.json") --node-selector 'node.kubernetes.io/pool' "$K/plan.json"

# --- budgets that can never allow the plan's evictions: refused first ---------------
# minAvailable 3 over web's two pods and its shadow: never more than 3 healthy.
kcluster '(.poddisruptionbudgets[0].spec.minAvailable) = 3'
kstart
kplan
: >"$K/log"
run "kube-drain: an unsatisfiable budget refuses apply" 6 $KAPPLY $(kat "$K/plan.json") "$K/plan.json" &&
	expect_err "^adpart-update: refused: PodDisruptionBudget 'web' in namespace 'shop' can never allow a disruption \\(minAvailable 3 of at most 3 matching pods; 1 of them the plan's shadows\\): it blocks the eviction of 'shop/$WEBB' from node 'node-b' \\(wave 1\\)"
kunchanged "kube-drain: the unsatisfiable budget's refusal"
kcluster 'del(.poddisruptionbudgets[0].spec.minAvailable) | .poddisruptionbudgets[0].spec.maxUnavailable = 0'
kstart
kplan
run "kube-drain: maxUnavailable 0 refuses apply" 6 $KAPPLY $(kat "$K/plan.json") "$K/plan.json" &&
	expect_err "refused: PodDisruptionBudget 'web' in namespace 'shop' can never allow a disruption \\(maxUnavailable 0;"
kcluster '.poddisruptionbudgets += [.poddisruptionbudgets[0] | .metadata.name = "web-too" | .spec.minAvailable = 1]'
kstart
kplan
run "kube-drain: a pod under two budgets refuses apply" 6 $KAPPLY $(kat "$K/plan.json") "$K/plan.json" &&
	expect_err "refused: pod 'shop/$WEBB' on node 'node-b' \\(wave 1\\) is under two PodDisruptionBudgets, 'web' and 'web-too' in namespace 'shop'"
# A budget that blocks only for now (a pod of its not Ready) is no refusal:
# the drain waits, here past its timeout, and the run rolls back.
UNREADY='.pods += [{"metadata": {"name": "web-canary", "namespace": "shop", "labels": {"app": "web"}},
	"spec": {"nodeName": "node-a", "containers": [{"name": "web"}]},
	"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}}]'
kcluster "(.poddisruptionbudgets[0].spec.minAvailable) = 3 | $UNREADY"
kstart
kplan
run "kube-drain: a budget blocking for now is not refused" 4 $KAPPLY $(kat "$K/plan.json") --drain-timeout 1s "$K/plan.json"
kmsg "kube-drain: the drain timed out instead" '.steps[6]' "timed out after 1s: eviction of pod 'shop/$WEBB' still refused"
# An absorbed replica has no shadow: the fixture's budget (both of web's
# pods) can never let it go.
jq '.weights = {"moves": 1000}' "$K/sched.json" >"$K/sched-abs.json"
kcluster .
kstart
"$BIN" plan --driver kubernetes --kubeconfig "$K/kubeconfig" -s "$K/sched-abs.json" $KNOW -f "$K/plan-abs.json" \
	-i "$K/inv-abs.json" -H "$TD/kube/history.csv" >"$K/plan.out" 2>"$K/plan.err"
run "kube-drain: an absorbed replica under an unsatisfiable budget" 6 $KAPPLY $(kat "$K/plan-abs.json") "$K/plan-abs.json" &&
	expect_err "minAvailable 2 of at most 2 matching pods; 0 of them the plan's shadows\\): it blocks the eviction of 'shop/$WEBB'"

# --- --dry-run=server ---------------------------------------------------------------
kcluster .
kstart
kplan
: >"$K/log"
run "kube-drain: server dry run" 0 $KAPPLY $(kat "$K/plan.json") --dry-run=server --update-image registry.example/os-update:1 \
	"$K/plan.json" &&
	expect_out "^ +2  start_shadow +accepted create shadow pod 'shop/web-adp-shadow-1' on node 'node-c'$" &&
	expect_out "^ +7  drain +accepted cordon node 'node-b'$" &&
	expect_out "^ +7  drain +blocked +evict pod 'shop/$WEBB' from node 'node-b': Cannot evict pod as it would violate" &&
	expect_out "^ +9  run_update +accepted create update Job 'default/adp-update-node-b-[0-9a-f]{8}' for node 'node-b'$" &&
	expect_out "would accept 3 requests, refuse 0, and 1 evictions are blocked now" &&
	expect_out "^next: adpart-update apply --driver kubernetes .*plan.json$"
klog "kube-drain: every write of the dry run had dryRun=All" '^(POST|PATCH|DELETE) .*dryRun=All' 4
klog "kube-drain: no write without dryRun=All" '^(POST|PATCH|DELETE) ' 4
kunchanged "kube-drain: the server dry run"
kjq "kube-drain: the dry run persisted no shadow, no Job" '([.pods[] | select(.metadata.name == "web-adp-shadow-1")] | length == 0) and ((.jobs // []) | length == 0)'
kjq "kube-drain: web's pod still on node-b" "[.pods[] | select(.metadata.name == \"$WEBB\")] | length == 1"
name="kube-drain: the dry run made no state directory"
if [ -e "$K/st" ]; then bad "$(ls -R "$K/st")"; else ok; fi
run "kube-drain: server dry run as JSON" 0 $KAPPLY $(kat "$K/plan.json") --dry-run=server -o json "$K/plan.json"
name="kube-drain: the JSON outcome is checked"
if jq -e '.outcome == "checked" and .exit_status == 0' "$TMP/out" >/dev/null; then ok; else bad "$(cat "$TMP/out")"; fi
# What the server or the drain would refuse: exit 6, nothing changed.
kcluster "$BARE"
kstart
kplan
: >"$K/log"
run "kube-drain: server dry run names the bare pod" 6 $KAPPLY $(kat "$K/plan.json") --dry-run=server "$K/plan.json" &&
	expect_out "^ +9  run_update +refused +drain pod 'default/debug' from node 'node-b': no controller: --force deletes it$" &&
	expect_err "^adpart-update: refused: the API server would refuse 1 of the plan's requests"
kunchanged "kube-drain: the refused server dry run"
run "kube-drain: server dry run with --force" 0 $KAPPLY $(kat "$K/plan.json") --dry-run=server --force "$K/plan.json" &&
	expect_out "^ +9  run_update +accepted delete pod 'default/debug' from node 'node-b'$"
klog "kube-drain: the dry DELETE" '^DELETE /api/v1/namespaces/default/pods/debug\?dryRun=All 200$' 1
kjq "kube-drain: the bare pod survives the dry DELETE" '[.pods[] | select(.metadata.name == "debug" and (.metadata.deletionTimestamp | not))] | length == 1'
grep -v 'pods/eviction' "$TOP/deploy/kubernetes/clusterrole.yaml" >"$K/norbac.yaml"
kcluster '(.poddisruptionbudgets[0].spec.minAvailable) = 1'
kstart "$K/norbac.yaml"
kplan
run "kube-drain: server dry run refused by RBAC" 6 $KAPPLY $(kat "$K/plan.json") --dry-run=server "$K/plan.json" &&
	expect_out "^ +7  drain +refused +evict pod 'shop/$WEBB' from node 'node-b': pods/eviction is forbidden"
kcluster '(.poddisruptionbudgets[0].spec.minAvailable) = 3'
kstart
kplan
run "kube-drain: server dry run runs the budget preflight" 6 $KAPPLY $(kat "$K/plan.json") --dry-run=server "$K/plan.json" &&
	expect_err "refused: PodDisruptionBudget 'web' in namespace 'shop' can never allow a disruption"

# --- --on-drain-timeout stop --------------------------------------------------------
kcluster "(.poddisruptionbudgets[0].spec.minAvailable) = 3 | $UNREADY"
kstart
kplan
run "kube-drain: a drain out of time stops" 7 $KAPPLY $(kat "$K/plan.json") --drain-timeout 1s --on-drain-timeout stop \
	"$K/plan.json" &&
	expect_err "^adpart-update: stopped at step 7 \\(drain\\): .*timed out after 1s: eviction of pod 'shop/$WEBB' still refused.*--resume repeats it, --rollback undoes$" &&
	expect_out "^next: adpart-update apply --resume --driver kubernetes -d $K/st .*plan.json$"
name="kube-drain: the journal: stopped, the drain step started"
if jq -e '.state == "stopped" and .steps[6].status == "started" and .steps[7].status == "pending" and
	(.steps[6].message | test("prior schedulability back"))' "$K/st/journal.json" >/dev/null; then ok; else
	bad "$(jq -c '[.state, [.steps[] | .status]]' "$K/st/journal.json")"; fi
kjq "kube-drain: the stopped drain gave node-b back" '(.nodes[1].spec.unschedulable // false) == false'
kjq "kube-drain: web's pod was not evicted" "[.pods[] | select(.metadata.name == \"$WEBB\")] | length == 1"
fk_admin PATCH /apis/policy/v1/namespaces/shop/poddisruptionbudgets/web '{"spec":{"minAvailable":2}}' >/dev/null
run "kube-drain: --resume after the budget is eased" 0 $KAPPLY $(kat "$K/plan.json") --resume "$K/plan.json" &&
	expect_out "applied: 15 steps done"
kjq "kube-drain: resumed: web's pod evicted" "[.pods[] | select(.metadata.name == \"$WEBB\")] | length == 0"
kjq "kube-drain: resumed: node-b uncordoned" '(.nodes[1].spec.unschedulable // false) == false'
# Stopped, then undone.
kcluster "(.poddisruptionbudgets[0].spec.minAvailable) = 3 | $UNREADY"
kstart
kplan
run "kube-drain: stopped again" 7 $KAPPLY $(kat "$K/plan.json") --drain-timeout 1s --on-drain-timeout stop "$K/plan.json"
run "kube-drain: --rollback after the stop" 4 $KAPPLY $(kat "$K/plan.json") --rollback "$K/plan.json"
kjq "kube-drain: the rollback removed the shadow" '[.pods[] | select(.metadata.name == "web-adp-shadow-1")] | length == 0'
kjq "kube-drain: node-b schedulable after the rollback" '(.nodes[1].spec.unschedulable // false) == false'
krun "kube-drain: the stopped drain was undone" '[.undo[] | select(.action == "undrain" and .status == "done")] | length == 1'
# --on-drain-timeout skip, on a plan of two waves (node-b, then node-c):
# node-b's drain runs out of time, its wave is undone and journaled
# skipped, and node-c's wave goes on.
cp "$K/sched.json" "$K/sched-one.json"
sed 's/"partitions": \["node-b"\]/"partitions": ["node-b", "node-c"]/' "$K/sched-one.json" >"$K/sched.json"
kcluster "(.poddisruptionbudgets[0].spec.minAvailable) = 3 | $UNREADY"
kstart
kplan
name="kube-drain: the two-wave plan updates node-b, then node-c"
if [ "$(jq -c '[.waves[].offline[0]]' "$K/plan.json")" = '["node-b","node-c"]' ]; then ok; else
	bad "waves: $(jq -c '[.waves[].offline]' "$K/plan.json")"; fi
run "kube-drain: a drain out of time gives its wave up, the next goes on" 0 $KAPPLY $(kat "$K/plan.json") \
	--drain-timeout 1s --on-drain-timeout skip "$K/plan.json" &&
	expect_err "1 wave was given up and undone \(see \"given_up\" in the run record\): its partitions were not updated" &&
	expect_out "^applied: [0-9]+ steps done"
krun "kube-drain: the run record: wave 1 given up, why, and undone" \
	'(.given_up | length) == 1 and .given_up[0].wave == 1 and .given_up[0].state == "done" and
	 (.given_up[0].why | test("timed out after 1s")) and ([.given_up[0].undo[].status] | all(. == "done"))'
krun "kube-drain: wave 1's steps journaled skipped, wave 2's done" \
	'([.steps[] | select(.status == "skipped")] | length) > 0 and ([.steps[] | select(.status == "skipped") |
	  .message | test("^wave 1 given up")] | all) and ([.steps[] | select(.status != "skipped") | .status] | all(. == "done"))'
kjq "kube-drain: node-b schedulable after its wave was given up" '(.nodes[1].spec.unschedulable // false) == false'
run "kube-drain: report of the run with a wave given up" 0 report "$K/plan.json" --run "$K/st/run.json" -O "$K/given-up.html"
name="kube-drain: the report says the wave was given up"
if grep -q "1 wave was given up and undone" "$K/given-up.html"; then ok; else bad "no given-up paragraph"; fi
kjq "kube-drain: wave 1's shadow removed" '[.pods[] | select(.metadata.name == "web-adp-shadow-1")] | length == 0'
kjq "kube-drain: web's pod on node-b kept" "[.pods[] | select(.metadata.name == \"$WEBB\")] | length == 1"
name="kube-drain: node-c updated, node-b not"
if grep -q "updated node-c" "$K/updates.log" && ! grep -q "updated node-b" "$K/updates.log"; then ok; else
	bad "updates: $(cat "$K/updates.log" 2>/dev/null)"; fi
run "kube-drain: --rollback after a given-up wave undoes the rest" 4 $KAPPLY $(kat "$K/plan.json") --rollback "$K/plan.json"
krun "kube-drain: the rollback left the given-up wave alone" \
	'[.undo[] | select(.action == "undrain" and .partition == "node-b")] | length == 0'
# Killed once the wave's undo list is journaled: --resume finishes giving
# it up, then goes on with node-c's wave.
kstart
kplan
KD=$(jq '[.steps[] | select(.action == "drain" and .wave == 1)][0].id' "$K/plan.json")
ADPART_TEST_CRASH_AFTER_STEP=$KD
export ADPART_TEST_CRASH_AFTER_STEP
run "kube-drain: killed while its wave is being given up" 137 $KAPPLY $(kat "$K/plan.json") --drain-timeout 1s \
	--on-drain-timeout skip "$K/plan.json"
unset ADPART_TEST_CRASH_AFTER_STEP
name="kube-drain: the journal holds the wave being given up, its undo not begun"
if jq -e '.given_up[0].state == "undoing" and ([.given_up[0].undo[].status] | all(. == "pending"))' \
	"$K/st/journal.json" >/dev/null; then ok; else bad "$(jq -c '.given_up' "$K/st/journal.json")"; fi
run "kube-drain: --resume finishes giving the wave up, then node-c's" 0 $KAPPLY $(kat "$K/plan.json") --drain-timeout 1s \
	--on-drain-timeout skip --resume "$K/plan.json" && expect_err "1 wave was given up and undone"
krun "kube-drain: resumed: wave 1 given up and undone, wave 2 done" \
	'.given_up[0].state == "done" and ([.given_up[0].undo[].status] | all(. == "done")) and
	 ([.steps[] | select(.status != "skipped") | .status] | all(. == "done"))'
kjq "kube-drain: resumed: wave 1's shadow removed" '[.pods[] | select(.metadata.name == "web-adp-shadow-1")] | length == 0'
cp "$K/sched-one.json" "$K/sched.json"
# The default stays: a rollback.
kcluster "(.poddisruptionbudgets[0].spec.minAvailable) = 3 | $UNREADY"
kstart
kplan
run "kube-drain: --on-drain-timeout rollback" 4 $KAPPLY $(kat "$K/plan.json") --drain-timeout 1s --on-drain-timeout rollback "$K/plan.json" &&
	expect_err "rolled back"
# --- kured's blocking pods: a gate before every wave -----------------------
kcluster "$(kpod batch report-1 node-b "$OWNED")"
kstart
kplan
run "kube-drain: a blocking pod on the wave's node blocks it (exit 9), nothing changed" 9 $KAPPLY $(kat "$K/plan.json") \
	--blocking-pod-selector app=report-1 "$K/plan.json" &&
	expect_err "blocked before the first step: pod 'batch/report-1' \\(a blocking pod: it matches --blocking-pod-selector\\) runs on node 'node-b': nothing was changed"
kjq "kube-drain: the blocked apply cordoned nothing" '(.nodes[1].spec.unschedulable // false) == false'
run "kube-drain: a blocking selector no pod matches lets the wave run" 0 $KAPPLY $(kat "$K/plan.json") \
	--blocking-pod-selector app=nightly "$K/plan.json"
run "kube-drain: a bad blocking selector is a usage error" 64 $KAPPLY --blocking-pod-selector "a b" "$K/plan.json"
fk_stop
fi
