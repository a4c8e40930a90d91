# kubernetes driver: discovery, apply, PDB-blocked drains, rollback, resume and
# configuration errors, against the FAKE API server in tests/fake-kube (not
# Kubernetes: it implements the API subset the driver uses, over HTTPS with a
# throwaway CA made here).

K="$TMP/kube"
mkdir -p "$K"
. "$TOP/tests/fake-kube/lib.sh"
. "$TOP/tests/cli/lib.sh"
KNOW="--now 2018-05-06T00:00:00Z"

if ! command -v openssl >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
	echo "SKIP: kube: openssl or jq missing (run .ci/deps)" >&2
else

fk_certs "$K" || { name="kube: certificates"; bad "openssl could not make the test CA"; }
cli_schedule "$K/sched.json" k node-b "$K/updates.log"

KAPPLY="apply --driver kubernetes --kubeconfig $K/kubeconfig -d $K/st --poll-interval 50ms --evict-backoff 200ms"
SHADOW='.pods | map(select(.metadata.name == "web-adp-shadow-1")) | length'
# A pod of web's budget that is not Ready (and no replica of web's): the
# budget blocks evictions for now, but could allow them, so apply's
# preflight lets the run start (one that never can is t-kube-drain.sh's).
UNREADY='.pods += [{"metadata": {"name": "web-canary", "namespace": "shop", "labels": {"app": "web"}},
	"spec": {"nodeName": "node-a", "containers": [{"name": "web"}]},
	"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}}]'

# --- discovery --------------------------------------------------------------
kcluster .
kstart
run "kube: plan --driver kubernetes" 2 plan --driver kubernetes --kubeconfig "$K/kubeconfig" -s "$K/sched.json" $KNOW \
	-i "$K/inv.json" -f "$K/plan.json" -H "$TD/kube/history.csv" &&
	expect_out "shop.web +node-b +-> node-c" && expect_err "discovered 3 nodes and 2 workloads" &&
	expect_err "PodDisruptionBudget 'shop/web' allows no disruption now" &&
	expect_out "^next: adpart-update apply --driver kubernetes --dry-run .*/plan.json \\(checks every step\\), then adpart-update apply --driver kubernetes .*/plan.json$"
name="kube: discovered inventory"
if [ "$(jq -c '[.partitions[].name, (.partitions[] | select(.name == "node-b") | .capacity.cpu | . * 1000 | round),
	.partitions[0].zone, .partitions[2].zone, .partitions[0].kubernetes.pool]' "$K/inv.json")" = \
	'["node-a","node-b","node-c",3700,"z1","z2","general"]' ]; then ok; else bad "partitions: $(jq -c .partitions "$K/inv.json")"; fi
# node-b: 4 cores allocatable minus the DaemonSet pod (100m) and the mirror pod (200m).
if [ "$(jq -c '[.components[] | [.name, .replicas, .placement, .tier, .kubernetes.kind, .min.cpu]]' "$K/inv.json")" = \
	'[["shop.web",2,["node-a","node-b"],1,"Deployment",0.6],["shop.db",1,["node-c"],null,"StatefulSet",1]]' ]; then ok; else
	bad "components: $(jq -c '[.components[] | [.name, .replicas, .placement, .tier, .kubernetes.kind, .min.cpu]]' "$K/inv.json")"; fi
if [ "$(jq -c '[.kubernetes.pod_disruption_budgets[0].name, .kubernetes.daemonsets[0].name]' "$K/inv.json")" = '["web","node-exporter"]' ]; then
	ok; else bad "pdbs and daemonsets not recorded"; fi
if [ "$(jq -r '.inputs[0].path' "$K/plan.json")" = "$K/inv.json" ]; then ok; else bad "the plan does not name the discovered inventory"; fi
run "kube: discovery limited to a namespace" 2 plan --driver kubernetes --kubeconfig "$K/kubeconfig" -s "$K/sched.json" $KNOW \
	-i "$K/inv.json" --no-write -H "$TD/kube/history.csv" --namespace shop && expect_err "discovered 3 nodes"
# Two Deployments whose names share a prefix keep their own pods.
kcluster '.deployments += [{"metadata": {"name": "web-api", "namespace": "shop"}, "spec": {"replicas": 1,
	"selector": {"matchLabels": {"app": "web-api"}}, "template": {"metadata": {"labels": {"app": "web-api"}},
	"spec": {"containers": [{"name": "api", "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}}}]}}}}]
	| .pods += [{"metadata": {"name": "web-api-7f6d5c4b3-abcde", "namespace": "shop", "labels": {"app": "web-api"},
	"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-api-7f6d5c4b3", "uid": "u", "controller": true}]},
	"spec": {"nodeName": "node-c", "containers": [{"name": "api", "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}}}]}}]'
kstart
run "kube: workloads with a shared name prefix" 1 plan --driver kubernetes --kubeconfig "$K/kubeconfig" -s "$K/sched.json" $KNOW \
	-i "$K/inv6.json" --no-write -H "$TD/kube/history.csv" &&
	expect_err "inv6.json: component 'shop.web-api' has no history"
name="kube: web-api's pod is not web's"
if [ "$(jq -c '[.components[] | [.name, .placement]]' "$K/inv6.json")" = \
	'[["shop.web",["node-a","node-b"]],["shop.web-api",["node-c"]],["shop.db",["node-c"]]]' ]; then ok; else
	bad "$(jq -c '[.components[] | [.name, .placement]]' "$K/inv6.json")"; fi

# Paged lists (the server returns two items per page, with continue tokens).
kcluster '.behaviour.max_page = 2 | .nodes[2].spec.unschedulable = true'
kstart
run "kube: paged lists, cordoned node left out" 1 plan --driver kubernetes --kubeconfig "$K/kubeconfig" -s "$K/sched.json" \
	$KNOW -i "$K/inv2.json" --no-write -H "$TD/kube/history.csv" &&
	expect_err "node 'node-c' is cordoned: left out of the partitions" && expect_err "discovered 2 nodes and 1 workloads"
if grep -q 'continue=2' "$K/log"; then ok; else name="kube: continue token followed"; bad "no continued list in the log"; fi

# --- a full apply over three nodes -------------------------------------------
kcluster '.behaviour.heartbeat_conflict = true'
kstart
kplan
run "kube: apply" 0 $KAPPLY $(kat "$K/plan.json") "$K/plan.json" && expect_out "applied: 15 steps done"
kjq "kube: node-b uncordoned" '.nodes[1].spec.unschedulable == false'
kjq "kube: original evicted" '.pods | map(select(.metadata.name == "web-5d8f7b9c6-q7m3z")) | length == 0'
kjq "kube: shadow removed" "$SHADOW == 0"
kjq "kube: DaemonSet and mirror pods left alone" \
	'[.pods[] | select(.spec.nodeName == "node-b") | .metadata.name] == ["node-exporter-babcd", "kube-proxy-node-b"]'
name="kube: evictions"
if [ "$(grep -c '/eviction ' "$K/log")" = 1 ] && grep -q 'POST /api/v1/namespaces/shop/pods/web-5d8f7b9c6-q7m3z/eviction 201' "$K/log"; then
	ok; else bad "$(grep eviction "$K/log")"; fi
name="kube: shadow created pinned before the eviction"
if [ "$(grep -n 'POST /api/v1/namespaces/shop/pods 201' "$K/log" | cut -d: -f1)" -lt "$(grep -n '/eviction' "$K/log" | cut -d: -f1)" ]; then
	ok; else bad "order: $(grep -E 'POST' "$K/log")"; fi
name="kube: cordon retried after 409"
if grep -q 'PATCH /api/v1/nodes/node-b 409' "$K/log" && [ "$(grep -c 'PATCH /api/v1/nodes/node-b 200' "$K/log")" = 2 ]; then
	ok; else bad "$(grep PATCH "$K/log")"; fi
if grep -qx "updated node-b" "$K/updates.log"; then ok; else name="kube: update ran"; bad "no update of node-b"; fi
name="kube: the shadow's readiness is watched from the resourceVersion read"
if grep -Eq '^WATCH /api/v1/namespaces/shop/pods\?watch=1&fieldSelector=metadata.name%3Dweb-adp-shadow-1&resourceVersion=[0-9]+&timeoutSeconds=[0-9]+ 200$' "$K/log"; then
	ok; else bad "$(grep -i watch "$K/log")"; fi
kjq "kube: the evicted pod was replaced by its controller, not on node-b" \
	'[.pods[] | select(.metadata.ownerReferences[0].kind == "ReplicaSet") | .spec.nodeName] | length == 2 and (index("node-b") | not)'
kmsg "kube: drain message" '.steps[6]' "cordoned node 'node-b'; 1 pods evicted"
kmsg "kube: shadow message" '.steps[1]' "created shadow 'shop/web-adp-shadow-1' on node 'node-c'"
krun "kube: step 12 is health_check_original" '.steps[11].action == "health_check_original"'
kmsg "kube: the workload whole again" '.steps[11]' "Deployment 'shop/web' has 2 of 2 replicas Ready"
name="kube: no secret in any output"
if grep -rqF "$(cat "$K/token")" "$TMP/out" "$TMP/err" "$K/st" "$K/plan.out" "$K/plan.err" "$K/inv.json" "$K/plan.json"; then
	bad "the token was printed"; else ok; fi

# The shadow pod as created: pinned by node affinity, sized to the plan.
kcluster .
kstart
kplan
ADPART_TEST_CRASH_AFTER_STEP=3 "$BIN" $KAPPLY $(kat "$K/plan.json") "$K/plan.json" >/dev/null 2>&1
kjq "kube: shadow pinned to node-c by matchFields" \
	'.pods[] | select(.metadata.name == "web-adp-shadow-1") | .spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0] == {"key": "metadata.name", "operator": "In", "values": ["node-c"]}'
kjq "kube: shadow labels" \
	'.pods[] | select(.metadata.name == "web-adp-shadow-1") | .metadata.labels | (.app == "web" and ."adpart-update.io/shadow-of" == "web" and (has("pod-template-hash") | not))'
alloc=$(jq '[.waves[0].placements[] | select(.from) | .allocation.cpu][0]' "$K/plan.json")
kjq "kube: shadow requests sum to the plan's allocation ($alloc cores)" \
	"[.pods[] | select(.metadata.name == \"web-adp-shadow-1\") | .spec.containers[].resources.requests.cpu | rtrimstr(\"m\") | tonumber] | add == ($alloc * 1000 | round)"
run "kube: resume after kill -9 at step 3" 0 $KAPPLY $(kat "$K/plan.json") --resume "$K/plan.json"
kjq "kube: resumed apply removed the shadow" "$SHADOW == 0"
kjq "kube: resumed apply uncordoned node-b" '.nodes[1].spec.unschedulable == false'

# A plan made from a local inventory is refused before anything changes.
"$BIN" plan -i "$TD/sources/inventory-csv.json" -s "$TD/sources/schedule.json" $KNOW -f "$K/local-plan.json" >/dev/null 2>&1
run "kube: a local plan refused by the kubernetes driver" 6 $KAPPLY $(kat "$K/local-plan.json") -d "$K/st-local" "$K/local-plan.json" &&
	expect_err "refused: component '(db|web)' has no kubernetes section in the inventory: plan with --driver kubernetes"
kjq "kube: nothing changed by the refusal" '[.nodes[].spec.unschedulable // false] | any | not'

# --- kill -9 after the drain, then --resume -----------------------------------
kcluster .
kstart
kplan
ADPART_TEST_CRASH_AFTER_STEP=7 "$BIN" $KAPPLY $(kat "$K/plan.json") "$K/plan.json" >/dev/null 2>&1
rc=$?
name="kube: killed after the drain"
if [ $rc -eq 137 ] && jq -e '.nodes["node-b"].cordoned == true' "$K/st/kube-state.json" >/dev/null; then ok; else bad "rc $rc, state $(cat "$K/st/kube-state.json" 2>&1)"; fi
kjq "kube: node-b cordoned while killed" '.nodes[1].spec.unschedulable == true'
run "kube: --resume" 0 $KAPPLY $(kat "$K/plan.json") --resume "$K/plan.json" && expect_out "applied: 15 steps done"
kjq "kube: node-b uncordoned after resume" '.nodes[1].spec.unschedulable == false'
kjq "kube: shadow removed after resume" "$SHADOW == 0"
if [ "$(grep -c '/eviction ' "$K/log")" = 1 ]; then ok; else name="kube: resume evicts once"; bad "$(grep eviction "$K/log")"; fi

# --- a StatefulSet with volumes: no shadow, the pod moves by eviction ------------
kcluster '.statefulsets[0].spec.volumeClaimTemplates = [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]'
kstart
sed 's/"partitions": \["node-b"\]/"partitions": ["node-c"]/' "$K/sched.json" >"$K/sched-c.json"
"$BIN" plan --driver kubernetes --kubeconfig "$K/kubeconfig" -s "$K/sched-c.json" $KNOW -f "$K/plan-c.json" \
	-i "$K/inventory-c.json" -H "$TD/kube/history.csv" >/dev/null 2>&1
run "kube: apply moving a StatefulSet pod with volumes" 0 $KAPPLY $(kat "$K/plan-c.json") "$K/plan-c.json"
kmsg "kube: StatefulSet moved without a shadow" '.steps[1]' "StatefulSet 'shop/db' has volume claims: no shadow"
kmsg "kube: StatefulSet pod evicted" '.steps[6]' "cordoned node 'node-c'; 1 pods evicted from node 'node-c'"
kjq "kube: db-0 recreated on another node" '[.pods[] | select(.metadata.name == "db-0") | .spec.nodeName] | length == 1 and .[0] != "node-c"'
kjq "kube: no shadow pod for the StatefulSet" '[.pods[] | select(.metadata.labels."adpart-update.io/shadow-of")] | length == 0'
kjq "kube: node-c uncordoned" '.nodes[2].spec.unschedulable == false'

# --- an API server that is briefly unavailable -----------------------------------
kcluster '.behaviour.unavailable_gets = 2'
kstart
run "kube: reads retried on 503" 2 plan --driver kubernetes --kubeconfig "$K/kubeconfig" -s "$K/sched.json" $KNOW \
	-i "$K/inv5.json" --no-write -H "$TD/kube/history.csv"
if [ "$(grep -c ' 503$' "$K/log")" = 2 ]; then ok; else name="kube: two 503 answers"; bad "$(grep -c ' 503$' "$K/log")"; fi
kcluster '.behaviour.unavailable_gets = 100'
kstart
run "kube: an unavailable API server is an error" 1 plan --driver kubernetes --kubeconfig "$K/kubeconfig" -s "$K/sched.json" $KNOW \
	-i "$K/inv5.json" --no-write && expect_err "kubernetes GET '/api/v1/nodes\?limit=500': HTTP 503: the server is currently unable"
if [ "$(grep -c ' 503$' "$K/log")" = 4 ]; then ok; else name="kube: 1 + 3 retries"; bad "$(grep -c ' 503$' "$K/log")"; fi

# --- a node cordoned before the run stays cordoned -------------------------------
kcluster .
kstart
kplan
fk_admin PATCH /api/v1/nodes/node-b '{"spec":{"unschedulable":true}}' >/dev/null
run "kube: apply on a node cordoned before" 0 $KAPPLY $(kat "$K/plan.json") "$K/plan.json"
kjq "kube: a node cordoned before is left cordoned" '.nodes[1].spec.unschedulable == true'
kmsg "kube: prior state message" '.steps[6]' "node 'node-b' was cordoned before: left as it was"

# --- drain blocked by a PodDisruptionBudget, then released --------------------
kcluster "(.poddisruptionbudgets[0].spec.minAvailable) = 3 | $UNREADY"
kstart
kplan
"$BIN" $KAPPLY $(kat "$K/plan.json") "$K/plan.json" >"$K/pdb.out" 2>"$K/pdb.err" &
apid=$!
i=0
while [ $i -lt 100 ] && [ "$(grep -c '/eviction 429' "$K/log" 2>/dev/null)" -lt 2 ]; do sleep 0.1; i=$((i + 1)); done
fk_admin PATCH /apis/policy/v1/namespaces/shop/poddisruptionbudgets/web '{"spec":{"minAvailable":2}}' >/dev/null
wait $apid
rc=$?
name="kube: drain blocked by a PDB, then released"
if [ $rc -eq 0 ] && grep -q '/eviction 429' "$K/log" && grep -q '/eviction 201' "$K/log"; then ok; else bad "rc $rc: $(cat "$K/pdb.err")"; fi
n429=$(grep -c '/eviction 429' "$K/log")
kmsg "kube: refusals counted ($n429)" '.steps[6]' "[(]$n429 refusals by a disruption budget"
# Backoff, not a hot loop: 200ms between refusals.
name="kube: evictions paced by the backoff"
if [ "$n429" -le 12 ]; then ok; else bad "$n429 refused evictions in about a second"; fi

# A PDB that allows nothing for longer than the drain timeout: the run rolls back.
kcluster "(.poddisruptionbudgets[0].spec.minAvailable) = 3 | $UNREADY"
kstart
kplan
run "kube: drain timeout rolls back" 4 $KAPPLY $(kat "$K/plan.json") --drain-timeout 1s "$K/plan.json" &&
	expect_err "rolled back"
kmsg "kube: drain timeout message" '.steps[6]' \
	"drain of 'shop.web' on node 'node-b' timed out after 1s: eviction of pod 'shop/web-5d8f7b9c6-q7m3z' still refused: Cannot evict pod"
kjq "kube: rollback uncordoned node-b" '.nodes[1].spec.unschedulable == false'
kjq "kube: rollback removed the shadow" "$SHADOW == 0"
kjq "kube: the original was never evicted" '.pods | map(select(.metadata.name == "web-5d8f7b9c6-q7m3z")) | length == 1'

# --- the node does not come back Ready: rollback ---------------------------------
kcluster '.behaviour.not_ready_after_update = ["node-b"]'
kstart
kplan
run "kube: node not Ready after the update rolls back" 4 $KAPPLY $(kat "$K/plan.json") --ready-timeout 1s --update-image registry.example/os-update:1 \
	"$K/plan.json" && expect_err "rolled back"
krun "kube: verify_partition failed" '.steps[9] | .action == "verify_partition" and .status == "failed"'
kmsg "kube: verify_partition message" '.steps[9]' "node 'node-b' is not Ready after 1s"
kjq "kube: the update Job was pinned, privileged, with deadline and backoff limit" \
	'.jobs[0] | .spec.activeDeadlineSeconds > 0 and .spec.backoffLimit == 0 and
	 .spec.template.spec.containers[0].securityContext.privileged == true and
	 .spec.template.spec.volumes[0].hostPath.path == "/" and
	 .spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values == ["node-b"] and
	 .spec.template.spec.containers[0].command[0] == "/bin/sh"'
kjq "kube: rollback restored node-b's schedulability" '.nodes[1].spec.unschedulable == false'
kjq "kube: rollback removed the shadow" "$SHADOW == 0"
# A failed update Job rolls back too.
kcluster '.behaviour.job_fail_nodes = ["node-b"]'
kstart
kplan
run "kube: failed update Job rolls back" 4 $KAPPLY $(kat "$K/plan.json") --update-image registry.example/os-update:1 "$K/plan.json"
kmsg "kube: job failure message" '.steps[8]' \
	"update Job 'default/adp-update-node-b-[0-9a-f]{8}' failed on node 'node-b': BackoffLimitExceeded"

# --- a step cut at its deadline -------------------------------------------------
# kcut NAME STEP CLUSTER_JQ MESSAGE [APPLY ARGS]: step STEP (from 0) of the plan
# gets a 2 s timeout on a cluster where it would wait far longer; the engine
# cancels the act at the deadline, it returns, the step fails with a message
# matching MESSAGE and the run rolls back.
kcut() {
	kc_name=$1 kc_step=$2 kc_msg=$4
	kcluster "$3"
	shift 4
	kstart
	kplan
	jq --argjson i "$kc_step" '.steps[$i].timeout = 2' "$K/plan.json" >"$K/plan-edit.json"
	# An edited plan is refused (its seal); the test re-seals it.
	"$(dirname "$BIN")/plan-reseal" "$K/plan-edit.json" "$K/plan-cut.json"
	run "$kc_name: rolled back" 4 $KAPPLY $(kat "$K/plan-cut.json") "$@" "$K/plan-cut.json" && expect_err "rolled back"
	krun "$kc_name: the step failed" ".steps[$kc_step].status == \"failed\""
	kmsg "$kc_name: the step's message" ".steps[$kc_step]" "$kc_msg"
	kjq "$kc_name: node-b schedulable again" '(.nodes[1].spec.unschedulable // false) == false'
}
# A shadow that never becomes Ready: the wait has the step's timeout too, so
# either side may end it.
kcut "kube: cut while waiting for the shadow" 2 '.behaviour.ready_after_ms = 3600000' \
	"shadow pod 'shop/web-adp-shadow-1' (is not Ready after 2s|to be Ready)"
krun "kube: the rollback removed the never Ready shadow" '[.undo[] | select(.action == "stop_shadow" and .status == "done")] | length == 1'
kjq "kube: no shadow left after the cut" "$SHADOW == 0"
# A drain held by a disruption budget, with a drain timeout of ten minutes:
# cut in its eviction backoff.
kcut "kube: cut in the eviction backoff" 6 "(.poddisruptionbudgets[0].spec.minAvailable) = 3 | $UNREADY" \
	"^timed out after 2 s: cancelled while waiting for the drain of 'shop.web' on node 'node-b'" --drain-timeout 10m
kjq "kube: the original was not evicted by the cut drain" '.pods | map(select(.metadata.name == "web-5d8f7b9c6-q7m3z")) | length == 1'
# An update Job that runs for an hour: cut while polling it. The failed act
# gives the node its prior schedulability back itself (a cancel does not cut
# that short), so the rollback finds it uncordoned.
kcut "kube: cut while the update Job runs" 8 '.behaviour.job_duration_ms = 3600000' \
	"^timed out after 2 s: cancelled while waiting for the update Job 'default/adp-update-node-b-[0-9a-f]{8}'" \
	--update-image registry.example/os-update:1
kmsg "kube: the cut update uncordoned node-b itself" '.undo[] | select(.action == "start_original")' "already uncordoned by this run"
# A node that does not come back Ready, with a ready timeout of ten minutes.
kcut "kube: cut while waiting for the node" 9 '.behaviour.not_ready_after_update = ["node-b"]' \
	"^timed out after 2 s: cancelled while waiting for node 'node-b' to be Ready" --ready-timeout 10m \
	--update-image registry.example/os-update:1
kmsg "kube: the cut verify uncordoned node-b itself" '.undo[] | select(.action == "start_original")' "already uncordoned by this run"

# --- monitoring through Prometheus (the fake's query_range) ----------------------
KPROM="--prometheus https://127.0.0.1:PORT --prom-ca-file $K/ca.crt"
kcluster '.behaviour.usage = {"web-adp-shadow-1": {"cpu": 0.05, "memory": 100000000}}'
kstart
kplan
run "kube: apply monitored through Prometheus" 0 $KAPPLY $(kat "$K/plan.json") $(echo "$KPROM" | sed "s/PORT/$FK_PORT/") --on-deviation rollback "$K/plan.json"
krun "kube: observations within the band" '(.observations | length) > 4 and all(.observations[]; .decision == "ok") and
	(.observations[0] | .actual == 0.05 and .resource == "cpu")'
# Above the band with grow: the shadow's limits are raised in place.
kcluster '.behaviour.usage = {"web-adp-shadow-1": {"cpu": 0.5}}'
kstart
kplan
ADPART_TEST_CRASH_AFTER_STEP=3 "$BIN" $KAPPLY $(kat "$K/plan.json") $(echo "$KPROM" | sed "s/PORT/$FK_PORT/") --on-deviation grow "$K/plan.json" >/dev/null 2>&1
grown=$(jq '[.observations[] | select(.decision == "grow") | .grown_to][0]' "$K/st/journal.json")
kjq "kube: grow resized the shadow in place to $grown cores" \
	"[.pods[] | select(.metadata.name == \"web-adp-shadow-1\") | .spec.containers[].resources.limits.cpu | rtrimstr(\"m\") | tonumber] | add | . - ($grown * 1000) | fabs < 2"
if grep -q 'PATCH /api/v1/namespaces/shop/pods/web-adp-shadow-1/resize 200' "$K/log"; then ok; else name="kube: resize subresource"; bad "no resize"; fi
run "kube: --rollback after a kill" 4 $KAPPLY $(kat "$K/plan.json") --rollback "$K/plan.json"
kjq "kube: --rollback removed the shadow" "$SHADOW == 0"
kjq "kube: --rollback left node-b schedulable" '(.nodes[1].spec.unschedulable // false) == false'
# No data: the engine fails closed.
kcluster '.behaviour.usage = {}'
kstart
kplan
run "kube: no monitoring data rolls back" 4 $KAPPLY $(kat "$K/plan.json") $(echo "$KPROM" | sed "s/PORT/$FK_PORT/") "$K/plan.json"
krun "kube: no_data observed" '.observations[0].state == "no_data"'
# A cluster without in-place resize: grow cannot, the wave rolls back.
kcluster '.behaviour.usage = {"web-adp-shadow-1": {"cpu": 0.5}} | .behaviour.resize_supported = false'
kstart
kplan
run "kube: grow without in-place resize rolls back" 4 $KAPPLY $(kat "$K/plan.json") $(echo "$KPROM" | sed "s/PORT/$FK_PORT/") --on-deviation grow "$K/plan.json"
kmsg "kube: resize unavailable message" '.observations[0]' "in-place resize of pod 'shop/web-adp-shadow-1' is not available"

# --- an absorbed replica and an in-place resize -----------------------------------
# With a weight on moves, web's replica on node-b is absorbed by the one on
# node-a instead of moved: node-a's pod is resized in place (pods/resize),
# node-b's is evicted (its controller recreates it elsewhere), and the pod
# gets exactly its prior resources back at the end of the wave.
# krec TEXT: the run record names it.
krec() {
	if grep -qF "$1" "$K/st/run.json"; then ok; else bad "run record lacks: $1"; fi
}
jq '.weights = {"moves": 1000}' "$K/sched.json" >"$K/sched-abs.json"
# The budget lets one of web's two pods go (the fixture's needs both).
PDB1='(.poddisruptionbudgets[0].spec.minAvailable) = 1'
kcluster "$PDB1"
kstart
"$BIN" plan --driver kubernetes --kubeconfig "$K/kubeconfig" -s "$K/sched-abs.json" $KNOW -f "$K/plan-abs.json" \
	-i "$K/inv-abs.json" -H "$TD/kube/history.csv" >"$K/plan.out" 2>"$K/plan.err"
name="kube: plan with a moves weight absorbs web's replica on node-b"
if jq -e '.waves[0].absorbed == [{"component": "shop.web", "replica": 1, "partition": "node-b"}] and
	([.steps[].action] | index("resize") == 0 and index("drain_absorbed") != null and
	 index("undrain_absorbed") != null and .[-1] == "restore_size")' "$K/plan-abs.json" >/dev/null; then ok; else
	bad "$(jq -c '[.waves[0].absorbed, [.steps[].action]]' "$K/plan-abs.json" 2>&1) $(cat "$K/plan.err")"; fi
WEBA='.pods[] | select(.metadata.name == "web-5d8f7b9c6-x2k4p")'
jq -c "$WEBA | .spec.containers | map(.resources)" "$K/state.json" >"$K/web-a.before"
run "kube: apply with an absorbed replica and a resize" 0 $KAPPLY $(kat "$K/plan-abs.json") "$K/plan-abs.json"
name="kube: the staying pod resized in place, then restored"
if [ "$(grep -c 'PATCH /api/v1/namespaces/shop/pods/web-5d8f7b9c6-x2k4p/resize 200' "$K/log")" = 2 ]; then ok; else
	bad "$(grep resize "$K/log")"; fi
name="kube: the staying pod has exactly its prior resources"
if [ "$(jq -c "$WEBA | .spec.containers | map(.resources)" "$K/state.json")" = "$(cat "$K/web-a.before")" ]; then ok; else
	bad "$(jq -c "$WEBA | .spec.containers | map(.resources)" "$K/state.json") vs $(cat "$K/web-a.before")"; fi
name="kube: the resize grew the staying pod's requests (0.6 cores before)"
if jq -e '[.steps[] | select(.action == "resize")][0].message | test("resized in place")' "$K/st/run.json" >/dev/null &&
	jq -e '.waves[0].placements[] | select(.component == "shop.web" and .replica == 0) | .allocation.cpu > 0.6' \
		"$K/plan-abs.json" >/dev/null; then ok; else bad "$(jq -c '[.steps[] | select(.action == "resize")]' "$K/st/run.json")"; fi
kjq "kube: the absorbed pod was evicted and recreated off node-b" \
	'[.pods[] | select(.metadata.ownerReferences[0].kind == "ReplicaSet") | .spec.nodeName] | length == 2 and (index("node-b") | not)'
kjq "kube: node-b uncordoned after the absorbed wave" '.nodes[1].spec.unschedulable == false'
kjq "kube: no shadow for an absorbed replica" "$SHADOW == 0"
# The update fails: rollback restores node-a's pod exactly.
kcluster "$PDB1 | .behaviour.job_fail_nodes = [\"node-b\"]"
kstart
run "kube: failed update after a resize rolls back" 4 $KAPPLY $(kat "$K/plan-abs.json") --update-image registry.example/os-update:1 "$K/plan-abs.json"
name="kube: rollback restored the resized pod"
if [ "$(jq -c "$WEBA | .spec.containers | map(.resources)" "$K/state.json")" = "$(cat "$K/web-a.before")" ] &&
	jq -e '[.undo[] | select(.action == "restore_size" and .status == "done")] | length == 1' "$K/st/run.json" >/dev/null; then
	ok; else bad "$(jq -c "$WEBA | .spec.containers | map(.resources)" "$K/state.json"); $(jq -c '[.steps[] | [.action, .status]]' "$K/st/run.json")"; fi
# A cluster without in-place resize (404 from pods/resize): the step fails, nothing is changed.
kcluster "$PDB1 | .behaviour.resize_supported = false"
kstart
run "kube: no in-place resize rolls back" 4 $KAPPLY $(kat "$K/plan-abs.json") "$K/plan-abs.json" &&
	krec "in-place resize of pod 'shop/web-5d8f7b9c6-x2k4p' is not available (HTTP 404 from pods/resize"
kjq "kube: without resize the pod is untouched" "[$WEBA | .spec.containers[0].resources.requests.cpu] == [\"500m\"]"
kjq "kube: without resize node-b was never drained" \
	'[.pods[] | select(.metadata.name == "web-5d8f7b9c6-q7m3z")] | length == 1'
# A node too small for the new requests (the reservation, raised here
# to 0.75 cores and the plan re-sealed): Infeasible, rolled back at once.
jq '(.waves[0].placements[] | select(.component == "shop.web" and .replica == 0) | .reservation.cpu) = 0.75 |
	(.waves[0].placements[] | select(.component == "shop.web" and .replica == 0) | .allocation.cpu) = 0.75' \
	"$K/plan-abs.json" >"$K/plan-big-edit.json"
"$(dirname "$BIN")/plan-reseal" "$K/plan-big-edit.json" "$K/plan-big.json"
kcluster "$PDB1 | .nodes[0].status.allocatable.cpu = \"0.7\""
kstart
run "kube: an infeasible resize rolls back" 4 $KAPPLY $(kat "$K/plan-big.json") "$K/plan-big.json" &&
	krec "resize of pod 'shop/web-5d8f7b9c6-x2k4p' is infeasible on its node: Node didn't have enough capacity: cpu"
# The fixture's budget (both of web's pods, and a third not Ready) refuses
# the absorbed pod's eviction: the drain times out and the resize is undone.
kcluster "$UNREADY"
kstart
run "kube: an absorbed pod held by its disruption budget rolls back" 4 $KAPPLY $(kat "$K/plan-abs.json") --drain-timeout 1s "$K/plan-abs.json" &&
	krec "eviction of pod 'shop/web-5d8f7b9c6-q7m3z' still refused"
kjq "kube: after the refused drain the resized pod is restored" "[$WEBA | .spec.containers[0].resources.requests.cpu] == [\"500m\"]"

# --- history from a real Prometheus with the default container queries -----------
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
	# cAdvisor-like series for the fixture's pods (and the pod-level
	# aggregate with container="", which the queries must not count twice),
	# and kube-prometheus's pod -> workload recording rule.
	/usr/bin/python3 - >"$K/metrics.om" <<'PY'
end = 1525564800  # 2018-05-06T00:00:00Z
start = end - 4 * 86400
pods = [("web-5d8f7b9c6-x2k4p", "web", "deployment", 0.2, 3e8), ("web-5d8f7b9c6-q7m3z", "web", "deployment", 0.2, 3e8),
        ("db-0", "db", "statefulset", 0.4, 1.2e9)]
print("# TYPE container_cpu_usage_seconds counter")
for pod, wl, kind, cpu, mem in pods:
    for c, k in ((wl, 1), ("", 5)):
        for t in range(start, end, 60):
            print('container_cpu_usage_seconds_total{namespace="shop",pod="%s",container="%s"} %.3f %d' % (pod, c, k * cpu * (t - start), t))
print("# TYPE container_memory_working_set_bytes gauge")
for pod, wl, kind, cpu, mem in pods:
    for t in range(start, end, 60):
        print('container_memory_working_set_bytes{namespace="shop",pod="%s",container="%s"} %d %d' % (pod, wl, mem, t))
print("# TYPE namespace_workload_pod:kube_pod_owner:relabel gauge")
for pod, wl, kind, cpu, mem in pods:
    for t in range(start, end, 60):
        print('namespace_workload_pod:kube_pod_owner:relabel{namespace="shop",pod="%s",workload="%s",workload_type="%s"} 1 %d' % (pod, wl, kind, t))
print("# EOF")
PY
	if cli_prom_backfill "$K" "$K/metrics.om"; then ok; else
		name="kube: promtool backfill"; bad "$(tail -3 "$K/promtool.log")"; fi
	cli_prom_start "$K" "$K/prometheus.log"
	KPORT=$CLI_PROM_PORT
	kcluster .
	kstart
	run "kube: plan with history from Prometheus (default queries)" 2 plan --driver kubernetes --kubeconfig "$K/kubeconfig" \
		-s "$K/sched.json" $KNOW -i "$K/inv-prom.json" --no-write -o json --prometheus "http://127.0.0.1:$KPORT" \
		--prom-range 4d --prom-step 5m
	name="kube: default queries map container metrics to workloads"
	if jq -e '[.forecast.series[] | select(.component == "shop.web" and .resource == "cpu") | .p50_peak][0] | . > 0.39 and . < 0.41' "$TMP/out" >/dev/null &&
		jq -e '[.forecast.series[] | select(.component == "shop.web" and .resource == "memory") | .p50_peak][0] | . > 5.9e8 and . < 6.1e8' "$TMP/out" >/dev/null &&
		jq -e '[.forecast.series[] | select(.component == "shop.db" and .resource == "cpu") | .p50_peak][0] | . > 0.39 and . < 0.41' "$TMP/out" >/dev/null; then
		ok; else bad "$(jq -c '[.forecast.series[] | [.component, .resource, .p50_peak]]' "$TMP/out" 2>&1 | head -c 400)"; fi
	cli_prom_stop
else
	echo "SKIP: kube: prometheus or promtool not installed (run .ci/deps)" >&2
fi

# --- configuration and TLS errors ---------------------------------------------
# kcfg NAME KUBECONFIG PATTERN [PLAN ARGS]: plan fails (exit 1) with PATTERN on stderr.
kcfg() {
	kc_name=$1 kc_file=$2 kc_pattern=$3
	shift 3
	run "$kc_name" 1 plan --driver kubernetes --kubeconfig "$kc_file" -s "$K/sched.json" $KNOW --no-write "$@" &&
		expect_err "$kc_pattern"
}
kcluster .
kstart
kcfg "kube: missing kubeconfig" "$K/nope.yaml" "^adpart-update: kubeconfig: .*nope.yaml"
printf 'apiVersion: v1\nclusters:\n- name: x\n  cluster: {server: "https://h\n' >"$K/bad.yaml"
kcfg "kube: kubeconfig that is not YAML" "$K/bad.yaml" "bad.yaml:[45]:[0-9]+: not valid YAML"
sed 's/    tokenFile: token/    exec:\n      command: aws/' "$K/kubeconfig" >"$K/exec.yaml"
kcfg "kube: exec plugin refused" "$K/exec.yaml" "exec.yaml:2[0-9]: exec: exec credential plugins are not supported"
kcfg "kube: unknown context" "$K/kubeconfig" "kubeconfig:[0-9]+: contexts: no context named 'prod' \(named by --context\)" \
	--context prod
sed 's/    certificate-authority: ca.crt/    insecure-skip-tls-verify: true/' "$K/kubeconfig" >"$K/insecure.yaml"
kcfg "kube: insecure-skip-tls-verify refused" "$K/insecure.yaml" \
	"insecure.yaml:[0-9]+: insecure-skip-tls-verify: TLS verification cannot be turned off"
sed 's|server: https://|server: http://|' "$K/kubeconfig" >"$K/http.yaml"
kcfg "kube: plain http refused" "$K/http.yaml" "http.yaml:[0-9]+: server: 'http://127.0.0.1:[0-9]+' is not an https:// URL"
sed 's|certificate-authority: ca.crt|certificate-authority: other-ca.crt|' "$K/kubeconfig" >"$K/wrongca.yaml"
kcfg "kube: TLS with the wrong CA refused" "$K/wrongca.yaml" "kubernetes API 'https://127.0.0.1:[0-9]+': .*(certificate|SSL)"
# tls-server-name: the certificate (IP:127.0.0.1 only) is checked against
# it, not against the server's host.
sed 's|^\(    server: https://127.0.0.1:.*\)$|\1\n    tls-server-name: wrong.example|' "$K/kubeconfig" >"$K/tlsname-wrong.yaml"
kcfg "kube: tls-server-name the certificate lacks refused" "$K/tlsname-wrong.yaml" \
	"kubernetes API 'https://127.0.0.1:[0-9]+': .*wrong.example"
sed 's|^    server: https://127.0.0.1:\(.*\)$|    server: https://localhost:\1|' "$K/kubeconfig" >"$K/localhost.yaml"
kcfg "kube: a host the certificate lacks refused" "$K/localhost.yaml" "kubernetes API 'https://localhost:[0-9]+': .*(certificate|SSL)"
sed 's|^\(    server: https://localhost:.*\)$|\1\n    tls-server-name: 127.0.0.1|' "$K/localhost.yaml" >"$K/tlsname.yaml"
run "kube: tls-server-name the certificate has" 2 plan --driver kubernetes --kubeconfig "$K/tlsname.yaml" -s "$K/sched.json" $KNOW \
	-i "$K/inv-tlsname.json" \
	--no-write -H "$TD/kube/history.csv" && expect_err "discovered 3 nodes"
kcfg "kube: no credentials" "$K/kubeconfig" "kubernetes GET '/api/v1/nodes\?limit=500': HTTP 401: Unauthorized" --context other
# certificate-authority-data and client certificate/key data (base64).
cat >"$K/data.yaml" <<YAML
apiVersion: v1
kind: Config
current-context: c
clusters:
- name: k
  cluster:
    server: https://127.0.0.1:$FK_PORT
    certificate-authority-data: $(base64 -w0 "$K/ca.crt")
contexts:
- name: c
  context: {cluster: k, user: u, namespace: shop}
users:
- name: u
  user:
    client-certificate-data: $(base64 -w0 "$K/cli.crt")
    client-key-data: $(base64 -w0 "$K/cli.key")
YAML
run "kube: client certificate and CA data" 2 plan --driver kubernetes --kubeconfig "$K/data.yaml" -s "$K/sched.json" $KNOW \
	-i "$K/inv3.json" --no-write -H "$TD/kube/history.csv" && expect_err "discovered 3 nodes"
name="kube: no key material in any output"
if grep -qF "$(sed -n 2p "$K/cli.key")" "$TMP/out" "$TMP/err" "$K/inv3.json"; then bad "the key was printed"; else ok; fi
# In-cluster: the service account directory and the environment.
mkdir -p "$K/sa"
cp "$K/token" "$K/sa/token"
cp "$K/ca.crt" "$K/sa/ca.crt"
echo shop >"$K/sa/namespace"
name="kube: in-cluster configuration"
if (cd "$K" && env -u KUBECONFIG HOME="$K/nohome" KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$FK_PORT" \
	"$BIN" plan --driver kubernetes --service-account-dir "$K/sa" -s sched.json $KNOW -i inv4.json --no-write \
	-H "$TD/kube/history.csv" >"$TMP/out" 2>"$TMP/err"); [ $? -eq 2 ]; then ok; else bad "$(cat "$TMP/err")"; fi
expect_err "discovered 3 nodes and 2 workloads from 'https://127.0.0.1:$FK_PORT'"
name="kube: in-cluster without a token"
rm "$K/sa/token"
if (env -u KUBECONFIG KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$FK_PORT" \
	"$BIN" plan --driver kubernetes --service-account-dir "$K/sa" -s "$K/sched.json" $KNOW --no-write \
	>"$TMP/out" 2>"$TMP/err"); [ $? -eq 1 ]; then ok; else bad "exit status"; fi
expect_err "in-cluster: cannot read the service account token '$K/sa/token'"
# The shipped ClusterRole is enforced by the fake for the token's identity:
# every request above passed it; without the eviction rule, apply is refused.
name="kube: no request was forbidden by the shipped ClusterRole"
if grep -q ' 403$' "$K/log"; then bad "$(grep ' 403$' "$K/log")"; else ok; fi
grep -v 'pods/eviction' "$TOP/deploy/kubernetes/clusterrole.yaml" >"$K/norbac.yaml"
kstart "$K/norbac.yaml"
kplan
run "kube: eviction forbidden by RBAC rolls back" 4 $KAPPLY $(kat "$K/plan.json") "$K/plan.json"
kmsg "kube: 403 message" '.steps[6]' "eviction of pod 'shop/web-5d8f7b9c6-q7m3z': HTTP 403: pods/eviction is forbidden"
# A ClusterRole without watch: the driver polls instead.
sed 's/"watch", //' "$TOP/deploy/kubernetes/clusterrole.yaml" >"$K/nowatch.yaml"
kstart "$K/nowatch.yaml"
kplan
run "kube: apply without watch permission polls" 0 $KAPPLY $(kat "$K/plan.json") "$K/plan.json"
name="kube: watch refused once, then polling"
if [ "$(grep -c 'watch=1.* 403$' "$K/log")" = 1 ]; then ok; else bad "$(grep -c 'watch=1' "$K/log") watch requests"; fi
run "kube: unknown driver" 64 plan --driver nomad -s "$K/sched.json" && expect_err "unknown driver 'nomad'"
run "kube: apply with an unknown driver" 64 apply --driver nomad "$K/plan.json" && expect_err "unknown driver 'nomad'"
fk_stop
fi
