#!/bin/sh
# `make demo`, second part: plan and apply on a small local stack. HAProxy
# on loopback in front of three components (python http.server processes)
# on three cgroup partitions; the schedule updates node-a then node-b, so
# each wave moves one component to a shadow, runs the (demo) update, and
# moves it back, while a load generator sends requests through HAProxy.
# Everything it starts (processes, HAProxy, cgroups, files) is removed on
# exit. Without root, cgroups, HAProxy or /usr/bin/python3 it says so and
# stops after planning.
# Usage: demo/apply.sh path/to/adpart-update
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
TOP=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/adpart-demo.XXXXXX")
CG="adpart-demo-$$"
STACK_TOP=$TOP
. "$TOP/tests/stack.sh"
cleanup() {
	stack_cleanup "$CG" "$T"/st/proc/*.pid
	rm -rf "$T"
	left=$(find /sys/fs/cgroup -maxdepth 2 -name "$CG" 2>/dev/null | wc -l)
	echo "demo: cleaned up (processes, HAProxy, temporary files; $left cgroups left)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ports=$(stack_ports 10 2>/dev/null) || ports="20000 20001 20002 20003 20004 20005 20006 20007 20008 20009"
set -- $ports
# Each component has a port on every partition (its home and any shadow).
P_WA=$1 P_WB=$2 P_WC=$3 P_AA=$4 P_AB=$5 P_AC=$6 P_SA=$7 P_SB=$8 P_SC=$9
shift 9
P_FE=$1

comp() { # name tier home port-json backend
	stack_component "$T" "$1" "$2" "$3" "$4" "$5" "$T/www" "0.0005 262144" \
		'{"http": "http://127.0.0.1:{port}/", "retries": 20, "timeout": 2, "interval": 0.2}'
}
{
	echo '{"partitions": ['
	for p in a b c; do
		sep=","
		[ $p = c ] && sep=""
		echo "  {\"name\": \"node-$p\", \"zone\": \"z1\", \"capacity\": {\"cpu\": 1, \"memory\": \"2GiB\"}, \"cgroup\": {\"path\": \"$CG/node-$p\"}}$sep"
	done
	echo '], "components": ['
	comp web 0 node-a "{\"node-a\": $P_WA, \"node-b\": $P_WB, \"node-c\": $P_WC}" be_web
	echo ","
	comp api 1 node-b "{\"node-a\": $P_AA, \"node-b\": $P_AB, \"node-c\": $P_AC}" be_api
	echo ","
	comp static 2 node-c "{\"node-a\": $P_SA, \"node-b\": $P_SB, \"node-c\": $P_SC}" be_static
	echo "]}"
} >"$T/inventory.json"
cat >"$T/schedule.json" <<JSON
{"name": "demo-local", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": ["node-a", "node-b"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "plan_ttl": "24h", "period": "1d",
 "update": {"command": ["/bin/sh", "-c", "echo \"updating \$ADPART_PARTITION (demo: nothing is changed)\"; sleep 1"],
  "timeout": "1m"}}
JSON

echo "demo: local stack: plan"
(cd "$T" && "$BIN" plan -i inventory.json -s schedule.json --now 2018-05-06T00:00:00Z -f plan.json)
rc=$?
if [ "$rc" -ne 2 ]; then
	echo "demo: plan exited $rc, expected 2 (plan written)" >&2
	exit 1
fi

why=$(stack_why)
if [ -n "$why" ]; then
	echo "demo: not applying the local stack plan: $why (apply needs root, cgroups, HAProxy and python3)"
	exit 0
fi

mkdir -p "$T/www/api" "$T/www/static" "$T/st/proc"
for d in "" /api /static; do
	echo "hello from the demo stack$d" >"$T/www$d/index.html"
done
{
	cat <<CFG
frontend fe
	bind 127.0.0.1:$P_FE
	use_backend be_api if { path_beg /api }
	use_backend be_static if { path_beg /static }
	default_backend be_web
CFG
	# Every backend has a server per partition; only the home one is enabled.
	for b in "web a $P_WA $P_WB $P_WC" "api b $P_AA $P_AB $P_AC" "static c $P_SA $P_SB $P_SC"; do
		set -- $b
		printf 'backend be_%s\n' "$1"
		for p in a b c; do
			port=$3
			[ $p = b ] && port=$4
			[ $p = c ] && port=$5
			if [ $p = "$2" ]; then state=""; else state=" disabled"; fi
			printf '\tserver node-%s 127.0.0.1:%s weight 100%s\n' "$p" "$port" "$state"
		done
	done
} >"$T/backends.cfg"
stack_haproxy "$T" <"$T/backends.cfg"

# The running stack: each component's original, adopted by apply from its pid file.
for c in web:node-a:$P_WA api:node-b:$P_AB static:node-c:$P_SC; do
	IFS=: read -r n part port <<EOF
$c
EOF
	stack_original "$T/st/proc/$n.0@$part.pid" "$T/www" "$port"
done

stack_load_start "$T/load.out" 20 600 "http://127.0.0.1:$P_FE/" "http://127.0.0.1:$P_FE/api/" \
	"http://127.0.0.1:$P_FE/static/"
echo "demo: local stack: apply (HAProxy on 127.0.0.1:$P_FE, load generator running)"
# A dry run an hour ahead says when apply may start; apply runs then (the
# clock is the plan's, --now, as the history is from 2018).
(cd "$T" && "$BIN" apply --dry-run --now 2018-05-06T00:00:00Z plan.json | head -n 2)
START=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["waves"][0]["start"])' "$T/plan.json")
(cd "$T" && "$BIN" apply -d st --now "$START" plan.json)
rc=$?
stack_load_stop "$T/load.out"
echo "demo: apply exited $rc; load through HAProxy during apply: $STACK_LOAD_LINE"
"$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))
for s in r["steps"]:
    print("  %3d %-22s %-8s %-7s %-6s %s" % (s["id"], s["action"], s.get("partition", "-"), s.get("component", ""),
          s["status"], s.get("message", "")[:60]))
print("demo: outcome %s, %d observations in the run record" % (r["outcome"], len(r.get("observations", []))))
' "$T/st/run.json"
[ "$rc" -eq 0 ]
