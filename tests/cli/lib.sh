# Shared by the black-box test groups (sourced after tests/cli/run.sh's
# helpers): fixture files that several groups write alike. Every name
# starts with cli_.

# cli_schedule FILE NAME PARTITION LOG [PRE]: a schedule NAME with a
# 01:00-05:00 window on 2018-05-06 that updates PARTITION with a command
# appending "updated PARTITION" to LOG, after the shell command PRE.
cli_schedule() {
	cat >"$1" <<JSON
{"name": "$2", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": ["$3"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "plan_ttl": "24h", "period": "1d",
 "update": {"command": ["/bin/sh", "-c", "${5:+$5; }echo updated \$ADPART_PARTITION >>\"\$0\"", "$4"], "timeout": "1m"}}
JSON
}

# cli_web_inventory FILE [HISTORY]: two nodes and one component, web on
# node-a, its history HISTORY (default the demo's api-01), a TimeStamp and
# Value CSV (the exec driver's tests use it).
cli_web_inventory() {
	cat >"$1" <<JSON
{"partitions": [
  {"name": "node-a", "zone": "z1", "capacity": {"cpu": 2, "memory": "4GiB"}},
  {"name": "node-b", "zone": "z1", "capacity": {"cpu": 2, "memory": "4GiB"}}],
 "components": [{"name": "web", "tier": 0, "replicas": 1, "placement": ["node-a"],
  "min": {"cpu": 0.1, "memory": "64MiB"},
  "history": {"file": "${2:-$TD/demo/history/api-01.csv}", "format": "columns", "delimiter": ",",
   "time_column": "TimeStamp", "time_format": "rfc3339",
   "columns": {"cpu": {"column": "Value", "scale": 0.002}, "memory": {"column": "Value", "scale": 1048576}}}}]}
JSON
}

# cli_plan_start PLAN: when PLAN starts (its first wave), the earliest
# --now its apply accepts.
cli_plan_start() {
	/usr/bin/python3 -c 'import json, sys; p = json.load(open(sys.argv[1]))
w = p.get("waves") or []
print(w[0]["start"] if w else p["schedule"]["window_start"])' "$1"
}

# cli_time_add TIME SECONDS: the RFC 3339 (UTC) time SECONDS after TIME.
cli_time_add() {
	/usr/bin/python3 -c 'import datetime as d, sys
t = d.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")) + d.timedelta(seconds=int(sys.argv[2]))
print(t.astimezone(d.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$1" "$2"
}

# cli_free_port: a free loopback port, chosen now.
cli_free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cli_prom_backfill DIR OPENMETRICS: a Prometheus store DIR/tsdb made
# from the file (promtool's output in DIR/promtool.log), and
# DIR/prometheus.yml scraping nothing. False when promtool fails.
cli_prom_backfill() {
	mkdir -p "$1/tsdb"
	printf 'global:\n  scrape_interval: 1h\nscrape_configs: []\n' >"$1/prometheus.yml"
	promtool tsdb create-blocks-from openmetrics "$2" "$1/tsdb" >"$1/promtool.log" 2>&1
}

# cli_prom_start DIR LOG [WEB_CONFIG CA]: Prometheus on DIR's store at a
# free loopback port (CLI_PROM_PORT; pid CLI_PROM_PID), logging to LOG;
# with WEB_CONFIG it serves TLS, checked against CA. False when it is not
# ready within 20 s.
cli_prom_start() {
	CLI_PROM_PORT=$(cli_free_port)
	cli_log=$2
	cli_ca=${4:-}
	set -- --config.file="$1/prometheus.yml" --storage.tsdb.path="$1/tsdb" --storage.tsdb.retention.time=100y \
		--web.listen-address="127.0.0.1:$CLI_PROM_PORT" ${3:+"--web.config.file=$3"}
	prometheus "$@" >"$cli_log" 2>&1 &
	CLI_PROM_PID=$!
	cli_i=0
	while [ $cli_i -lt 100 ]; do
		curl -fsS ${cli_ca:+--cacert "$cli_ca"} "http${cli_ca:+s}://127.0.0.1:$CLI_PROM_PORT/-/ready" >/dev/null 2>&1 &&
			return 0
		sleep 0.2
		cli_i=$((cli_i + 1))
	done
	return 1
}

# cli_prom_stop: stops the Prometheus cli_prom_start started.
cli_prom_stop() {
	kill "$CLI_PROM_PID" 2>/dev/null
	wait "$CLI_PROM_PID" 2>/dev/null
}

# cli_slot_hook FILE: the exec driver's hook of the fleet slot groups:
# every act sleeps $HOOK_SLEEP seconds, except the act of step
# $HOOK_SLOW_ID, which first touches $HOOK_MARK and sleeps $HOOK_SLOW_S;
# a sample reports the placement's median forecast.
cli_slot_hook() {
	cat >"$1" <<'HOOK'
#!/usr/bin/python3
import json, os, sys, time
phase = sys.argv[1]
doc = json.load(sys.stdin)
step = doc.get('step') or {}
if phase == 'act':
    if str(step.get('id')) == os.environ.get('HOOK_SLOW_ID'):
        open(os.environ['HOOK_MARK'], 'w').close()
        time.sleep(float(os.environ['HOOK_SLOW_S']))
    else:
        time.sleep(float(os.environ.get('HOOK_SLEEP', '0')))
elif phase == 'sample':
    p = doc['placement']['p50_peak']
    print(json.dumps({'cpu': p['cpu'], 'memory': p['memory']}))
HOOK
	chmod 755 "$1"
}

# cli_serial DIR...: whether the applies journaled in the DIRs ran one
# after another (each one's first step start to last step end); if not,
# which two overlapped.
cli_serial() {
	/usr/bin/python3 - "$@" <<'PY'
import json, sys
spans = []
for d in sys.argv[1:]:
    s = json.load(open(d + '/journal.json'))['steps']
    spans.append((min(x['start_ms'] for x in s), max(x['end_ms'] for x in s), d))
spans.sort()
for a, b in zip(spans, spans[1:]):
    if b[0] < a[1]:
        sys.exit('%s started at %d before %s ended at %d' % (b[2], b[0], a[2], a[1]))
PY
}
