#!/bin/sh
# apply on a live local stack: a real HAProxy on loopback in front of two
# python http.server components on cgroup partitions, a load generator at
# RATE requests/s through HAProxy. Prints:
#  - the engine's own time per step (journal writes, worker thread,
#    bookkeeping; not the driver's work, health checks or drains),
#  - the time from a verified shadow to the full traffic switch,
#  - failed requests and p50/p99 latency through HAProxy during RUNS
#    applies back to back, and for as long without any apply,
#  - on a second stack of two waves, the switch time of wave 2's shadow
#    (start_shadow's beginning to healthy, and to the full traffic switch)
#    made in its wave and made ahead in wave 1 (plan --preallocate), side
#    by side.
# Needs root, a writable cgroup memory controller, /usr/sbin/haproxy and
# /usr/bin/python3; says so and stops otherwise.
# Usage: bench/apply.sh path/to/adpart-update [runs] [rate]
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
RUNS=${2:-3}
RATE=${3:-100}
TOP=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
STACK_TOP=$TOP
. "$TOP/tests/stack.sh"
why=$(stack_why)
if [ -n "$why" ]; then
	echo "apply: skipped ($why; needs root, a writable cgroup memory controller, haproxy and /usr/bin/python3)"
	exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/adpart-bench-apply.XXXXXX")
CG="adpart-bench-$$"
cleanup() {
	stack_cleanup "$CG" "$T"/st/proc/*.pid
	[ -n "${KEEP:-}" ] && cp "$T"/run-1.json "$KEEP"
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

set -- $(stack_ports 6)
P_WA=$1 P_WB=$2 P_AA=$3 P_AB=$4 P_FW=$5 P_FA=$6
mkdir -p "$T/www-node-a" "$T/www-node-b" "$T/st/proc"
echo ok >"$T/www-node-a/ok"
echo ok >"$T/www-node-b/ok"
{
	stack_hap_pair web "$P_FW" "$P_WA" "$P_WB"
	stack_hap_pair api "$P_FA" "$P_AA" "$P_AB"
} >"$T/backends.cfg"
stack_haproxy "$T" <"$T/backends.cfg"

comp() { # name tier port_a port_b backend
	stack_component "$T" "$1" "$2" node-a "{\"node-a\": $3, \"node-b\": $4}" "$5" "$T/www-{partition}" "0.002 1048576" \
		'{"http": "http://127.0.0.1:{port}/ok", "retries": 20, "timeout": 2, "interval": 0.1}'
}
{
	stack_partitions "$CG"
	comp web 0 "$P_WA" "$P_WB" be_web
	echo ","
	comp api 1 "$P_AA" "$P_AB" be_api
	echo "]}"
} >"$T/inv.json"
cat >"$T/sched.json" <<JSON
{"name": "bench", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": ["node-a"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "plan_ttl": "24h", "period": "1d", "update": {"command": ["/bin/true"], "timeout": "1m"}}
JSON
(cd "$T" && "$BIN" plan -i inv.json -s sched.json --now 2018-05-06T00:00:00Z -f plan.json >/dev/null 2>&1)
# Apply at the plan's start (its first wave), which it picks in the window.
start() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["waves"][0]["start"])' "$1"; }
NOW=$(start "$T/plan.json")

for c in web:$P_WA api:$P_AA; do
	stack_original "$T/st/proc/${c%%:*}.0@node-a.pid" "$T/www-node-a" "${c#*:}"
done

load() { # OUT: runs until stack_load_stop OUT
	stack_load_start "$1" "$RATE" 3600 "http://127.0.0.1:$P_FW/" "http://127.0.0.1:$P_FA/"
}

# With apply: RUNS full applies back to back under load.
load "$T/with.out"
t0=$(date +%s.%N)
r=1
while [ "$r" -le "$RUNS" ]; do
	rm -f "$T/st/journal.json"
	if ! (cd "$T" && "$BIN" apply -d st --record "run-$r.json" --now "$NOW" plan.json >/dev/null); then
		echo "apply: run $r failed" >&2
		stack_load_stop "$T/with.out"
		exit 1
	fi
	r=$((r + 1))
done
t1=$(date +%s.%N)
stack_load_stop "$T/with.out"
secs=$(echo "$t0 $t1" | awk '{ printf "%.0f", $2 - $1 }')
[ "$secs" -lt 5 ] && secs=5

# Without apply: as long, same load.
load "$T/without.out"
sleep "$secs"
stack_load_stop "$T/without.out"

"$PY" - "$T" "$RUNS" "$secs" <<'PY'
import json, statistics, sys
t, runs, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
over, journal, switch, rest = [], [], [], []
for r in range(1, runs + 1):
    rec = json.load(open("%s/run-%d.json" % (t, r)))
    steps = rec["steps"]
    for s in steps:
        over.append(s["engine_us"] + s["journal_us"])
        journal.append(s["journal_us"])
        rest.append(s["engine_us"] - s["journal_us"])
    for s in steps:
        if s["action"] != "verify_shadow":
            continue
        sw = [x for x in steps if x["action"] == "switch_traffic" and x["component"] == s["component"]
              and x["replica"] == s["replica"]]
        switch.append(sw[0]["end_ms"] - s["end_ms"])
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]
print("apply: %d runs of %d steps" % (runs, len(over) // runs))
print("apply: engine overhead per step: median %.0f us, p95 %.0f us, max %.0f us "
      "(two journal writes with fsync, the second estimated equal to the first: %.0f us median each; "
      "thread and bookkeeping: %.0f us median)"
      % (statistics.median(over), q(over, 0.95), max(over), statistics.median(journal), statistics.median(rest)))
print("apply: verified shadow to full traffic switch: median %.0f ms, max %.0f ms (%d moves)"
      % (statistics.median(switch), max(switch), len(switch)))
for name in ("with", "without"):
    line = open("%s/%s.out" % (t, name)).readline().split()
    f = dict(x.split("=") for x in line)
    print("apply: %-7s apply, %s s at the load generator's rate: %s requests, %s failed, p50 %s ms, p99 %s ms, max %s ms"
          % (name, secs, f["requests"], f["failed"], f["p50_ms"], f["p99_ms"], f["max_ms"]))
PY

# Shadows made ahead (plan --preallocate) against made in their wave: a
# second stack of three partitions, web on node-a and api on node-b, both
# with shadows on node-c, node-a then node-b updated, so that wave 2's
# shadow of api is made (and, with run.start_idle, started) in wave 1.
# Per run, the switch time of that shadow: from its start_shadow's
# beginning to its health check passing, and to the full traffic switch.
stack_cleanup "$CG" "$T"/st/proc/*.pid
PA="$T/pa"
mkdir -p "$PA/www-node-a" "$PA/www-node-b" "$PA/www-node-c"
for d in a b c; do echo ok >"$PA/www-node-$d/ok"; done
set -- $(stack_ports 6)
Q_WA=$1 Q_WC=$2 Q_AB=$3 Q_AC=$4 Q_FW=$5 Q_FA=$6
{
	stack_hap_pair web "$Q_FW" "$Q_WA" "$Q_WC" node-a node-c
	stack_hap_pair api "$Q_FA" "$Q_AB" "$Q_AC" node-b node-c
} >"$PA/backends.cfg"
stack_haproxy "$PA" <"$PA/backends.cfg"
health='{"http": "http://127.0.0.1:{port}/ok", "retries": 40, "timeout": 2, "interval": 0.05}'
{
	stack_partitions "$CG" node-a node-b node-c
	STACK_RUN=', "start_idle": true' stack_component "$PA" web 0 node-a "{\"node-a\": $Q_WA, \"node-c\": $Q_WC}" be_web \
		"$PA/www-{partition}" "0.002 1048576" "$health"
	echo ","
	STACK_RUN=', "start_idle": true' stack_component "$PA" api 1 node-b "{\"node-b\": $Q_AB, \"node-c\": $Q_AC}" be_api \
		"$PA/www-{partition}" "0.002 1048576" "$health"
	echo "]}"
} >"$PA/inv.json"
sed 's/"partitions": \["node-a"\]/"partitions": ["node-a", "node-b"]/' "$T/sched.json" >"$PA/sched.json"
(cd "$PA" && "$BIN" plan -i inv.json -s sched.json --now 2018-05-06T00:00:00Z -f plain.json >/dev/null 2>&1
	"$BIN" plan -i inv.json -s sched.json --now 2018-05-06T00:00:00Z -f pre.json --preallocate >/dev/null 2>&1)
r=1
while [ "$r" -le "$RUNS" ]; do
	for kind in plain pre; do
		stack_kill_instances "$PA"/st/proc/*.pid
		rm -rf "$PA/st"
		stack_original "$PA/st/proc/web.0@node-a.pid" "$PA/www-node-a" "$Q_WA"
		stack_original "$PA/st/proc/api.0@node-b.pid" "$PA/www-node-b" "$Q_AB"
		if ! (cd "$PA" && "$BIN" apply -d st --record "$kind-$r.json" --now "$(start "$PA/$kind.json")" "$kind.json" >/dev/null); then
			echo "apply: $kind run $r failed" >&2
			exit 1
		fi
	done
	r=$((r + 1))
done
stack_cleanup "$CG" "$PA"/st/proc/*.pid
"$PY" - "$PA" "$RUNS" <<'PY'
import json, statistics, sys
t, runs = sys.argv[1], int(sys.argv[2])
res = {}
for kind in ("plain", "pre"):
    healthy, switched, ahead = [], [], 0
    for r in range(1, runs + 1):
        steps = json.load(open("%s/%s-%d.json" % (t, kind, r)))["steps"]
        ahead += sum(1 for s in steps if s["action"] == "preallocate_shadow" and s["status"] == "done")
        def one(action):
            return [s for s in steps if s["action"] == action and s.get("component") == "api"][0]
        t0 = one("start_shadow")["start_ms"]
        healthy.append(one("health_check")["end_ms"] - t0)
        switched.append(one("switch_traffic")["end_ms"] - t0)
    res[kind] = (healthy, switched, ahead)
print("apply: wave 2's shadow (api on node-c), start_shadow's beginning to healthy / to the full traffic switch, %d runs each:" % runs)
for kind, label in (("plain", "made in its wave"), ("pre", "made ahead (--preallocate, start_idle)")):
    h, s, a = res[kind]
    print("apply:   %-40s healthy median %5.0f ms (max %5.0f), switched median %5.0f ms (max %5.0f); %d made ahead"
          % (label, statistics.median(h), max(h), statistics.median(s), max(s), a))
PY

# Borrowing (--on-deviation borrow) on the borrowing stack of the tests
# (tests/stack.sh): hog, moved to node-b where the plan leaves less than
# a unit of headroom, holds 32 MiB above its band until the update
# command, 2 s in, tells it to let go; idle, on node-b too, is forecast
# low for now. Per run: the act time of a loan (two limit writes), the
# time from hog's shadow verified to its loan lent, from hog letting go
# to the loan given back, idle's lowest limit against its guarantee, and
# hog's room (limit less usage) while it holds the memory, against the
# same runs under --on-deviation warn.
stack_cleanup "$CG" "$PA"/st/proc/*.pid
BW="$T/bw"
mkdir -p "$BW"
cat >"$BW/update.sh" <<SH
for i in hog.0 idle.0; do
	for d in /sys/fs/cgroup/memory/$CG/node-b/\$i $(stack_v2_root)/$CG/node-b/\$i; do
		[ -r \$d/memory.limit_in_bytes ] && echo "\$i \$(cat \$d/memory.limit_in_bytes) \$(cat \$d/memory.usage_in_bytes)"
		[ -r \$d/memory.max ] && echo "\$i \$(cat \$d/memory.max) \$(cat \$d/memory.current)"
	done
done >"\$0.room"
sleep 2
date +%s%3N >"$BW/free.ms"
: >"$BW/free"
sleep 3
SH
stack_borrow_plan "$BIN" "$BW" "$CG" 370MiB
r=1
while [ "$r" -le "$RUNS" ]; do
	for policy in borrow warn; do
		stack_kill_instances "$BW"/st/proc/*.pid
		rm -rf "$BW/st" "$BW/ready" "$BW/free"
		if ! (cd "$BW" && "$BIN" apply -d st --record "$policy-$r.json" --on-deviation "$policy" --monitor-interval 0.5 \
			--now "$(start "$BW/plan.json")" plan.json >/dev/null); then
			echo "apply: borrowing run $r ($policy) failed" >&2
			exit 1
		fi
		mv "$BW/update.sh.room" "$BW/$policy-$r.room"
		mv "$BW/free.ms" "$BW/$policy-$r.free"
	done
	r=$((r + 1))
done
stack_cleanup "$CG" "$BW"/st/proc/*.pid
"$PY" - "$BW" "$RUNS" <<'PY'
import json, statistics, sys
t, runs = sys.argv[1], int(sys.argv[2])
MiB = 1048576.0
act, lent, back, lowest, room = [], [], [], [], {"borrow": [], "warn": []}
nloans = 0
for r in range(1, runs + 1):
    rec = json.load(open("%s/borrow-%d.json" % (t, r)))
    plan = json.load(open("%s/plan.json" % t))
    idle = [x for x in plan["waves"][0]["placements"] if x["component"] == "idle"][0]
    verified = [s for s in rec["steps"] if s["action"] == "verify_shadow" and s["component"] == "hog"][0]["end_ms"]
    free = int(open("%s/borrow-%d.free" % (t, r)).read())
    for l in rec.get("loans", []):
        if l["resource"] != "memory" or l.get("state") != "returned":
            continue
        nloans += 1
        act.append(l["act_us"] / 1000.0)
        lent.append(l["lent_ms"] - verified)
        if l.get("returned_why") == "the borrower's need passed":
            back.append(l["returned_ms"] - free)
        if "from_limit" in l:
            lowest.append((l["from_limit"], idle["guarantee"]["memory"]))
    for policy in ("borrow", "warn"):
        for line in open("%s/%s-%d.room" % (t, policy, r)):
            inst, lim, use = line.split()
            if inst == "hog.0":
                room[policy].append((float(lim) - float(use)) / MiB)
print("apply: borrowing, %d runs (hog above its band on a partition without headroom, idle lending):" % runs)
print("apply:   %d memory loans; act (lender lowered, borrower raised) median %.2f ms; hog's shadow verified to "
      "its loan lent median %.0f ms; hog letting go to the loan given back median %.0f ms (monitoring every 0.5 s)"
      % (nloans, statistics.median(act), statistics.median(lent), statistics.median(back) if back else float("nan")))
print("apply:   idle's lowest limit %.0f MiB against its guarantee %.0f MiB (held: %s)"
      % (min(x[0] for x in lowest) / MiB, lowest[0][1] / MiB, all(x[0] >= x[1] for x in lowest)))
print("apply:   hog's room above its usage while it holds the memory: borrow median %.0f MiB, warn median %.0f MiB"
      % (statistics.median(room["borrow"]), statistics.median(room["warn"])))
PY
