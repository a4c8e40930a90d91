# The live local stack that apply's end-to-end test, the apply bench and
# the demo run against: a real HAProxy on loopback, python http.server
# components started in cgroups and adopted by apply from pid files, and
# a bounded load generator through HAProxy. Sourced (POSIX sh); every
# name starts with stack_ or STACK_. Set STACK_TOP to the checkout first.

STACK_PY=/usr/bin/python3
STACK_HAP=""
STACK_LOAD=""

# stack_why: prints why the stack cannot run on this host, nothing when
# it can (root, a writable cgroup memory controller, HAProxy, python3).
stack_why() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "not root"
	elif ! { grep -q ' cgroup .*memory' /proc/mounts && [ -w /sys/fs/cgroup/memory ]; } &&
		! grep -qw memory "$(stack_v2_root)/cgroup.controllers" 2>/dev/null; then
		echo "no writable cgroup memory controller"
	elif [ ! -x /usr/sbin/haproxy ]; then
		echo "haproxy is not installed"
	elif [ ! -x "$STACK_PY" ]; then
		echo "$STACK_PY is missing"
	fi
}

# The cgroup2 mount (the unified hierarchy beside v1, or the only one).
stack_v2_root() {
	awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts
}

# stack_ports N: N free loopback ports, chosen now.
stack_ports() {
	"$STACK_PY" -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
' "$1"
}

# stack_haproxy DIR [RETRY_ON...]: starts HAProxy with DIR/hap.sock as its
# admin socket; the frontends and backends come on stdin. RETRY_ON adds
# conditions to the connection-failure retries a rolling restart needs.
# Call it in the current shell, not at the end of a pipeline: a pipeline
# runs it in a subshell, STACK_HAP is lost there and stack_cleanup then
# leaves HAProxy running.
stack_haproxy() {
	stack_dir=$1
	shift
	{
		cat <<CFG
global
	stats socket $stack_dir/hap.sock mode 600 level admin
defaults
	mode http
	retries 3
	option redispatch 1
	retry-on conn-failure empty-response response-timeout $*
	timeout connect 1s
	timeout client 10s
	timeout server 10s
CFG
		cat
	} >"$stack_dir/haproxy.cfg"
	/usr/sbin/haproxy -db -f "$stack_dir/haproxy.cfg" >"$stack_dir/haproxy.log" 2>&1 &
	STACK_HAP=$!
	stack_i=0
	while [ $stack_i -lt 50 ] && [ ! -S "$stack_dir/hap.sock" ]; do
		sleep 0.1
		stack_i=$((stack_i + 1))
	done
}

# stack_partitions CGROUP [NAME...]: an inventory's start: partitions
# NAME (default node-a and node-b; 2 cores, 4 GiB each) as cgroups below
# CGROUP, then the opening of its components array (stack_component
# entries follow, then "]}").
stack_partitions() {
	stack_cg=$1
	shift
	[ $# -eq 0 ] && set -- node-a node-b
	echo '{"partitions": ['
	stack_sep=""
	for stack_p in "$@"; do
		printf '%s  {"name": "%s", "zone": "z1", "capacity": {"cpu": 2, "memory": "4GiB"}, "cgroup": {"path": "%s/%s"}}' \
			"$stack_sep" "$stack_p" "$stack_cg" "$stack_p"
		stack_sep=",
"
	done
	printf '],\n "components": [\n'
}

# stack_component DIR NAME TIER HOME PORTS BACKEND CWD "CPU MEMORY" HEALTH
# [TRAFFIC]: a component's inventory entry: one replica on HOME, an
# http.server (argv STACK_ARGV, a JSON array, when set) serving CWD on
# PORTS (JSON: a port per partition), the demo's api-01 history scaled
# by CPU and MEMORY, the HEALTH section (JSON), and its traffic through
# HAProxy's DIR/hap.sock, backend BACKEND (TRAFFIC: more fields);
# STACK_RUN, when set, adds fields to its run section (", ..." JSON).
stack_component() {
	set -- "$@" ""
	stack_scale_cpu=${8% *}
	stack_scale_mem=${8#* }
	stack_argv='["'"$STACK_PY"'", "-m", "http.server", "--bind", "127.0.0.1", "{port}"]'
	[ -n "${STACK_ARGV:-}" ] && stack_argv=$STACK_ARGV
	cat <<JSON
  {"name": "$2", "tier": $3, "replicas": 1, "placement": ["$4"], "min": {"cpu": 0.1, "memory": "64MiB"},
   "history": {"file": "$STACK_TOP/testdata/demo/history/api-01.csv", "format": "columns", "delimiter": ",",
    "time_column": "TimeStamp", "time_format": "rfc3339",
    "columns": {"cpu": {"column": "Value", "scale": $stack_scale_cpu}, "memory": {"column": "Value", "scale": $stack_scale_mem}}},
   "run": {"argv": $stack_argv,
    "cwd": "$7", "ports": $5, "stop_grace": 2${STACK_RUN:-}},
   "health": $9,
   "traffic": {"haproxy_socket": "$1/hap.sock", "backend": "$6"${10}}}
JSON
}

# stack_hap_pair NAME FRONT_PORT PORT_A PORT_B [HOME SHADOW]: HAProxy
# configuration for frontend fe_NAME on FRONT_PORT and backend be_NAME,
# its server HOME (node-a) on PORT_A serving and SHADOW (node-b) on
# PORT_B disabled.
stack_hap_pair() {
	cat <<CFG
frontend fe_$1
	bind 127.0.0.1:$2
	default_backend be_$1
backend be_$1
	server ${5:-node-a} 127.0.0.1:$3 weight 100
	server ${6:-node-b} 127.0.0.1:$4 weight 100 disabled
CFG
}

# stack_hap_stat SOCKET: "backend server status weight" for each node-*
# server of each be_* backend, from HAProxy's "show stat".
stack_hap_stat() {
	"$STACK_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
d = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    d += b
for line in d.decode().splitlines():
    f = line.split(",")
    if len(f) > 18 and f[0].startswith("be_") and f[1].startswith("node-"):
        print(f[0], f[1], f[17], f[18])
' "$1"
}

# stack_journal_has ACTION STATUS JOURNAL: whether a step of ACTION has
# STATUS in the journal (false while it cannot be read).
stack_journal_has() {
	"$STACK_PY" -c '
import json, sys
j = json.load(open(sys.argv[3]))
sys.exit(0 if any(s["action"] == sys.argv[1] and s["status"] == sys.argv[2] for s in j["steps"]) else 1)' \
		"$1" "$2" "$3" 2>/dev/null
}

# stack_original PIDFILE CWD PORT [CGROUP]: starts an http.server on PORT
# serving CWD, inside CGROUP (a path below the cgroup root, created; v1
# memory, cpu and cpuacct, else v2), waits until it serves and records it
# in PIDFILE ("pid starttime") for apply to adopt.
stack_original() {
	stack_targets=""
	if [ -n "${4:-}" ]; then
		if grep -q ' cgroup .*memory' /proc/mounts; then
			for stack_ctl in memory cpu cpuacct; do
				mkdir -p "/sys/fs/cgroup/$stack_ctl/$4" 2>/dev/null &&
					stack_targets="$stack_targets /sys/fs/cgroup/$stack_ctl/$4/tasks"
			done
		elif mkdir -p "$(stack_v2_root)/$4" 2>/dev/null; then
			stack_targets="$(stack_v2_root)/$4/cgroup.procs"
		fi
	fi
	# shellcheck disable=SC2086 # the targets are paths without blanks
	(cd "$2" && exec /bin/sh -c '
		p=$1
		shift
		for t in "$@"; do echo $$ >"$t"; done 2>/dev/null
		exec setsid /usr/bin/python3 -m http.server --bind 127.0.0.1 "$p" >/dev/null 2>&1' sh "$3" $stack_targets) &
	stack_pid=$!
	stack_i=0
	while [ $stack_i -lt 50 ] && ! "$STACK_PY" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$3/', timeout=1)" 2>/dev/null; do
		sleep 0.1
		stack_i=$((stack_i + 1))
	done
	mkdir -p "$(dirname "$1")"
	echo "$stack_pid $(cut -d')' -f2 "/proc/$stack_pid/stat" | awk '{print $20}')" >"$1"
}

# stack_borrow_files DIR CGROUP CAPACITY UPDATE_ARGV: the borrowing
# stack's files in DIR: two weeks of 5-minute history (hog flat near 20
# MiB; idle near 10 MiB with a daily 300 MiB peak from 01:10 to 01:40),
# an inventory of node-a and node-b (node-b's memory CAPACITY, cgroups
# below CGROUP) with hog and idle both homed on node-a, and a schedule
# updating node-a from 01:00 (the earliest start) with UPDATE_ARGV (a
# JSON array). hog, once started, holds 32 MiB more than its history,
# writes DIR/ready (its health check waits for it) and lets go of it when
# DIR/free appears; idle (guarantee 128 MiB) uses a few MiB.
stack_borrow_files() {
	[ -s "$1/idle.csv" ] || "$STACK_PY" - "$1" <<'PY'
import datetime, random, sys
random.seed(7)
t0 = datetime.datetime(2018, 4, 22)
with open(sys.argv[1] + "/hog.csv", "w") as h, open(sys.argv[1] + "/idle.csv", "w") as i:
    h.write("TimeStamp,Value\n")
    i.write("TimeStamp,Value\n")
    for k in range(14 * 288):
        t = t0 + datetime.timedelta(minutes=5 * k)
        ts = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        m = t.hour * 60 + t.minute
        h.write("%s,%.3f\n" % (ts, 20 + random.random() * 2))
        i.write("%s,%.3f\n" % (ts, 300 + random.random() * 4 if 70 <= m < 100 else 10 + random.random() * 2))
PY
	cat >"$1/inv.json" <<JSON
{"partitions": [
  {"name": "node-a", "zone": "z1", "capacity": {"cpu": 2, "memory": "4GiB"}, "cgroup": {"path": "$2/node-a"}},
  {"name": "node-b", "zone": "z1", "capacity": {"cpu": 2, "memory": "$3"}, "cgroup": {"path": "$2/node-b"}}],
 "components": [
  {"name": "hog", "tier": 1, "replicas": 1, "placement": ["node-a"],
   "history": {"file": "$1/hog.csv", "format": "columns", "delimiter": ",", "time_column": "TimeStamp",
    "time_format": "rfc3339", "columns": {"cpu": {"column": "Value", "scale": 0.001}, "memory": {"column": "Value", "scale": 1048576}}},
   "run": {"argv": ["$STACK_PY", "-c",
     "import os, sys, time\nb = b'x' * (32 << 20)\nopen(sys.argv[1] + '/ready', 'w').close()\nwhile not os.path.exists(sys.argv[1] + '/free'): time.sleep(0.1)\ndel b\ntime.sleep(600)",
     "$1"], "stop_grace": 2},
   "health": {"command": ["/bin/sh", "-c", "test -e $1/ready"], "retries": 50, "interval": 0.1, "timeout": 2}},
  {"name": "idle", "tier": 1, "replicas": 1, "placement": ["node-a"], "min": {"memory": "128MiB"},
   "history": {"file": "$1/idle.csv", "format": "columns", "delimiter": ",", "time_column": "TimeStamp",
    "time_format": "rfc3339", "columns": {"cpu": {"column": "Value", "scale": 0.001}, "memory": {"column": "Value", "scale": 1048576}}},
   "run": {"argv": ["$STACK_PY", "-c", "import time; time.sleep(600)"], "stop_grace": 2}}]}
JSON
	cat >"$1/sched.json" <<JSON
{"name": "bw", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T03:00:00Z"}, "cutoff": "30m",
 "partitions": ["node-a"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "plan_ttl": "24h", "period": "1d", "start": "earliest",
 "update": {"command": $4, "timeout": "1m"}}
JSON
}

# stack_borrow_plan BIN DIR CGROUP CAPACITY: the borrowing stack's files,
# its update command DIR/update.sh (the caller's), and DIR/plan.json
# made by BIN.
stack_borrow_plan() {
	stack_borrow_files "$2" "$3" "$4" "[\"/bin/sh\", \"$2/update.sh\"]"
	(cd "$2" && "$1" plan -i inv.json -s sched.json --now 2018-05-06T00:00:00Z -f plan.json >/dev/null 2>&1)
}

# stack_limit_script FILE CGROUP PARTITION: writes FILE, a script that
# prints an instance's memory limit in bytes (v1 or v2) on PARTITION below
# CGROUP, or "none": sh FILE INSTANCE.
stack_limit_script() {
	{
		echo 'for f in /sys/fs/cgroup/memory/'"$2/$3"'/$1/memory.limit_in_bytes \'
		echo '	'"$(stack_v2_root)/$2/$3"'/$1/memory.max; do'
		echo '	[ -r "$f" ] && { cat "$f"; exit; }'
		echo 'done'
		echo 'echo none'
	} >"$1"
}

# stack_load_start OUT RATE MAX_SECONDS URL...: the load generator, until
# stack_load_stop OUT.
stack_load_start() {
	rm -f "$1" "$1.stop"
	"$STACK_PY" "$STACK_TOP/tests/loadgen.py" "$@" &
	STACK_LOAD=$!
}

# stack_load_stop OUT: stops it; STACK_LOAD_LINE is its summary line
# ("requests=N failed=N p50_ms=X p99_ms=X max_ms=X").
stack_load_stop() {
	: >"$1.stop"
	[ -n "$STACK_LOAD" ] && wait "$STACK_LOAD"
	STACK_LOAD=""
	STACK_LOAD_LINE=""
	[ -s "$1" ] && read -r STACK_LOAD_LINE <"$1"
}

# stack_kill_instances PIDFILE...: kills the instances pid files name.
stack_kill_instances() {
	for stack_f in "$@"; do
		[ -e "$stack_f" ] && kill -9 "$(cut -d' ' -f1 "$stack_f")" 2>/dev/null
	done
	return 0
}

# stack_cleanup CGROUP PIDFILE...: the load generator, the instances,
# HAProxy, and every cgroup below CGROUP.
stack_cleanup() {
	stack_cg=$1
	shift
	if [ -n "$STACK_LOAD" ]; then
		kill "$STACK_LOAD" 2>/dev/null
		wait "$STACK_LOAD" 2>/dev/null
		STACK_LOAD=""
	fi
	stack_kill_instances "$@"
	if [ -n "$STACK_HAP" ]; then
		kill "$STACK_HAP" 2>/dev/null
		wait "$STACK_HAP" 2>/dev/null
		STACK_HAP=""
	fi
	sleep 0.2
	for stack_d in /sys/fs/cgroup/*/"$stack_cg" /sys/fs/cgroup/"$stack_cg" "$(stack_v2_root)/$stack_cg"; do
		[ -d "$stack_d" ] && find "$stack_d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}
