# History from archives and from a real Prometheus server: the plan must
# be the one built from the same data as a plain CSV file.

SRC="$TMP/sources"
mkdir -p "$SRC/export"
cp "$TD/sources/"*.json "$TD/sources/history.csv" "$SRC/"
cp "$TD/sources/history.csv" "$SRC/export/history.csv"

# plan_core FILE: what must not depend on where the history came from.
plan_core() {
	jq -S '{waves, partitions, margin, steps, rollback_steps, shortfalls, risks}' "$1"
}

# no_secret TEXT: the last run showed TEXT neither on stdout nor on stderr.
no_secret() { if grep -q -- "$1" "$TMP/out" "$TMP/err"; then bad "'$1' was shown"; else ok; fi; }

same_plan() {
	name=$1
	if plan_core "$TMP/out" >"$TMP/got.json" && cmp -s "$TMP/want.json" "$TMP/got.json"; then
		ok
	else
		bad "plan differs from the CSV plan"
		diff "$TMP/want.json" "$TMP/got.json" | head -20 >&2
	fi
}

NOW=--now=2018-05-06T00:00:00Z
run "sources: csv plan" 2 plan -i "$SRC/inventory-csv.json" -s "$SRC/schedule.json" $NOW --no-write -o json
plan_core "$TMP/out" >"$TMP/want.json"
if [ "$(jq '.waves | length' "$TMP/want.json")" -ge 1 ]; then ok; else bad "csv plan has no waves"; fi

(cd "$SRC" && tar -czf history.tar.gz export && tar -cJf history.tar.xz export && tar -cf history.tar export)
for ext in tar.gz tar.xz tar; do
	sed "s/history\.tar\.gz/history.$ext/g" "$SRC/inventory-archive.json" >"$SRC/inv-$ext.json"
	run "sources: plan from $ext" 2 plan -i "$SRC/inv-$ext.json" -s "$SRC/schedule.json" $NOW --no-write -o json &&
		same_plan "sources: plan from $ext equals csv"
done
if command -v zip >/dev/null 2>&1; then
	(cd "$SRC" && zip -q -r history.zip export)
	sed "s/history\.tar\.gz/history.zip/g" "$SRC/inventory-archive.json" >"$SRC/inv-zip.json"
	run "sources: plan from zip" 2 plan -i "$SRC/inv-zip.json" -s "$SRC/schedule.json" $NOW --no-write -o json &&
		same_plan "sources: plan from zip equals csv"
fi

# The same samples as JSON: a plain file, and a JSON member of an archive.
/usr/bin/python3 - "$SRC/history.csv" "$SRC/history.json" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
samples = [{"timestamp": r["timestamp"], "component": r["component"], "resource": r["resource"],
            "value": float(r["value"])} for r in reversed(rows)]
json.dump({"samples": samples}, open(sys.argv[2], "w"), indent=1)
PY
sed 's/history\.csv/history.json/g' "$SRC/inventory-csv.json" >"$SRC/inv-json.json"
run "sources: plan from a JSON history file" 2 plan -i "$SRC/inv-json.json" -s "$SRC/schedule.json" $NOW --no-write -o json &&
	same_plan "sources: plan from JSON equals csv"
mkdir -p "$SRC/jexport" && cp "$SRC/history.json" "$SRC/jexport/"
(cd "$SRC" && tar -czf jhistory.tar.gz jexport)
sed 's/history\.tar\.gz/jhistory.tar.gz/; s|export/\*\.csv|jexport/*.json|g' "$SRC/inventory-archive.json" >"$SRC/inv-jtar.json"
run "sources: plan from a JSON archive member" 2 plan -i "$SRC/inv-jtar.json" -s "$SRC/schedule.json" $NOW --no-write -o json &&
	same_plan "sources: plan from a JSON member equals csv"
jq '.samples[3].value = -1' "$SRC/history.json" >"$SRC/neg.json"
run "sources: a negative JSON sample is refused" 1 validate --kind history "$SRC/neg.json" &&
	expect_err "neg.json:[0-9]+: samples\[3\]: value: -1 is out of range"
jq '.samples[2].resource = "disk"' "$SRC/history.json" >"$SRC/badres.json"
run "sources: an unknown JSON resource is refused" 1 validate "$SRC/badres.json" &&
	expect_err "badres.json:[0-9]+: samples\[2\]: resource: unknown resource 'disk'"
jq '.samples[0].timestamp = "yesterday"' "$SRC/history.json" >"$SRC/badtime.json"
run "sources: a bad JSON timestamp is refused" 1 plan -i "$SRC/inventory-csv.json" -s "$SRC/schedule.json" \
	--history "$SRC/badtime.json" $NOW --no-write &&
	expect_err "badtime.json:[0-9]+: samples\[0\]: timestamp: expected RFC 3339"
run "sources: validate reads JSON history" 0 validate "$SRC/history.json" &&
	expect_out "history: 4 series"

# src_refused NAME SED INVENTORY OUT MESSAGE: plan with INVENTORY edited
# by SED (written as OUT) fails, saying MESSAGE.
src_refused() {
	sed "$2" "$SRC/$3" >"$SRC/$4"
	run "$1" 1 plan -i "$SRC/$4" -s "$SRC/schedule.json" $NOW --no-write && expect_err "$5"
}

src_refused "sources: archive without a matching member" \
	's|export/\*\.csv|nothing/*.csv|g' inventory-archive.json inv-nomatch.json \
	"^adpart-update: archive '.*history\.tar\.gz': no member matches 'nothing/\*\.csv'$"

src_refused "sources: prometheus spec with a file" \
	's|"format": "prometheus"|"format": "prometheus", "file": "x"|' inventory-prom.json inv-badprom.json \
	"inv-badprom.json:[0-9]+: components\[0\]\.history\.file: unknown field"
src_refused "sources: prometheus url scheme" \
	's|"url": "http://127.0.0.1:PORT", "cpu"|"url": "ftp://127.0.0.1", "cpu"|' inventory-prom.json inv-badurl.json \
	"components\[0\]\.history\.query\.url: 'ftp://127.0.0.1' is not an http:// or https:// URL"

# --- A real Prometheus, backfilled with the same history. ---
. "$TOP/tests/cli/lib.sh"

if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
	echo "SKIP: sources: prometheus or promtool not installed (run .ci/deps)" >&2
else
	# OpenMetrics from the long CSV: one family, series in time order.
	/usr/bin/python3 - "$SRC/history.csv" >"$SRC/history.om" <<'PY'
import csv, sys, datetime
rows = {}
for r in csv.DictReader(open(sys.argv[1])):
    t = int(datetime.datetime.strptime(r["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
            .replace(tzinfo=datetime.timezone.utc).timestamp())
    rows.setdefault((r["component"], r["resource"]), []).append((t, r["value"]))
print("# HELP adp_history load history")
print("# TYPE adp_history gauge")
for (c, res), pts in sorted(rows.items()):
    for t, v in sorted(pts):
        print('adp_history{component="%s",resource="%s"} %s %d' % (c, res, v, t))
print("# EOF")
PY
	if cli_prom_backfill "$SRC" "$SRC/history.om"; then ok; else
		name="sources: promtool backfill"; bad "promtool failed: $(tail -3 "$SRC/promtool.log")"; fi
	if cli_prom_start "$SRC" "$SRC/prometheus.log"; then ok; else
		name="sources: prometheus start"; bad "not ready: $(tail -3 "$SRC/prometheus.log")"; fi
	PORT=$CLI_PROM_PORT
	sed "s/PORT/$PORT/g" "$SRC/inventory-prom.json" >"$SRC/inv-prom.json"
	run "sources: plan from prometheus" 2 plan -i "$SRC/inv-prom.json" -s "$SRC/schedule.json" $NOW --no-write -o json &&
		same_plan "sources: plan from prometheus equals csv"

	# The same from the command line, for an inventory that names no history.
	jq 'del(.components[].history)' "$SRC/inventory-csv.json" >"$SRC/inv-nohist.json"
	run "sources: plan --prometheus" 2 plan -i "$SRC/inv-nohist.json" -s "$SRC/schedule.json" $NOW --no-write -o json \
		--prometheus "http://127.0.0.1:$PORT" --prom-query 'cpu=adp_history{resource="cpu"}' \
		--prom-query 'memory=adp_history{resource="memory"}' --prom-label component --prom-step 1h --prom-range 30d &&
		same_plan "sources: plan --prometheus equals csv"
	run "sources: --prom-query without a resource" 64 plan -i "$SRC/inv-nohist.json" -s "$SRC/schedule.json" \
		--prometheus "http://127.0.0.1:$PORT" --prom-query 'adp_history' &&
		expect_err "--prom-query expects RESOURCE=PROMQL"
	run "sources: --prometheus without a query" 64 plan -i "$SRC/inv-nohist.json" -s "$SRC/schedule.json" \
		--prometheus "http://127.0.0.1:$PORT" && expect_err "--prometheus needs at least one --prom-query"
	printf 'tok\n' >"$SRC/token"
	run "sources: a token over plain http is refused" 1 plan -i "$SRC/inv-nohist.json" -s "$SRC/schedule.json" $NOW --no-write \
		--prometheus "http://127.0.0.1:$PORT" --prom-query 'cpu=adp_history{resource="cpu"}' \
		--prom-query 'memory=adp_history{resource="memory"}' --prom-step 1h --prom-token-file "$SRC/token" &&
		expect_err "prometheus 'http://127.0.0.1:$PORT': a bearer token is never sent over plain http"
	# Credentials in the URL are used, and never shown: not in messages,
	# not in the plan.
	run "sources: credentials in the url" 2 plan -i "$SRC/inv-nohist.json" -s "$SRC/schedule.json" $NOW --no-write -o json \
		--prometheus "http://ops:pa55word@127.0.0.1:$PORT/" --prom-query 'cpu=adp_history{resource="cpu"}' \
		--prom-query 'memory=adp_history{resource="memory"}' --prom-step 1h --prom-range 30d &&
		same_plan "sources: plan with credentials in the url equals csv" && no_secret pa55word
	run "sources: credentials in the url are not in errors" 1 plan -i "$SRC/inv-nohist.json" -s "$SRC/schedule.json" $NOW --no-write \
		--prometheus "http://ops:pa55word@127.0.0.1:$PORT" --prom-query 'cpu=adp_history{resource=' &&
		expect_err "prometheus 'http://127.0.0.1:$PORT': cpu query" && no_secret pa55word
	run "sources: missing token file" 1 plan -i "$SRC/inv-nohist.json" -s "$SRC/schedule.json" $NOW --no-write \
		--prometheus "http://127.0.0.1:$PORT" --prom-query 'cpu=adp_history{resource="cpu"}' \
		--prom-token-file "$SRC/nonexistent-token" && expect_err "prometheus bearer token file"

	# Errors: a bad PromQL expression, an empty result, no server.
	src_refused "sources: promql error" \
		's|adp_history{resource=\\"cpu\\",component=\\"$component\\"}|adp_history{resource=|' inv-prom.json inv-promql.json \
		"^adpart-update: component 'web': prometheus 'http://127.0.0.1:$PORT': cpu query 'adp_history\{resource=' failed: HTTP 400: bad_data: "
	src_refused "sources: empty prometheus result" \
		's|component=\\"$component\\"}|component=\\"nobody\\"}|' inv-prom.json inv-empty.json \
		"cpu query 'adp_history\{resource=\"cpu\",component=\"nobody\"\}' returned no series for component 'web' from 2018-04-06T0[0-9]:00:00Z to 2018-05-05T23:00:00Z"
	# Before the history begins: a real range with nothing in it is no zero load.
	run "sources: prometheus range before the data" 1 plan -i "$SRC/inv-prom.json" -s "$SRC/schedule.json" --now=2018-04-01T00:00:00Z --no-write &&
		expect_err "returned no series"
	cli_prom_stop
	run "sources: prometheus down" 1 plan -i "$SRC/inv-prom.json" -s "$SRC/schedule.json" $NOW --no-write &&
		expect_err "prometheus 'http://127.0.0.1:$PORT': .*(after 2 attempts)"
	# TLS: the same server behind its own certificate; verified against
	# --prom-ca-file / ca_file, refused without it.
	if command -v openssl >/dev/null 2>&1 &&
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
			-addext subjectAltName=IP:127.0.0.1 -keyout "$SRC/tls.key" -out "$SRC/tls.crt" >/dev/null 2>&1; then
		printf 'tls_server_config:\n  cert_file: %s\n  key_file: %s\n' "$SRC/tls.crt" "$SRC/tls.key" >"$SRC/web.yml"
		if cli_prom_start "$SRC" "$SRC/prometheus-tls.log" "$SRC/web.yml" "$SRC/tls.crt"; then ok; else
			name="sources: prometheus tls start"; bad "not ready: $(tail -3 "$SRC/prometheus-tls.log")"; fi
		PORT=$CLI_PROM_PORT
		run "sources: plan over tls with the ca" 2 plan -i "$SRC/inv-nohist.json" -s "$SRC/schedule.json" $NOW --no-write -o json \
			--prometheus "https://127.0.0.1:$PORT" --prom-query 'cpu=adp_history{resource="cpu"}' \
			--prom-query 'memory=adp_history{resource="memory"}' --prom-step 1h --prom-ca-file "$SRC/tls.crt" &&
			same_plan "sources: plan over tls equals csv"
		run "sources: a token over tls" 2 plan -i "$SRC/inv-nohist.json" -s "$SRC/schedule.json" $NOW --no-write \
			--prometheus "https://127.0.0.1:$PORT" --prom-query 'cpu=adp_history{resource="cpu"}' \
			--prom-query 'memory=adp_history{resource="memory"}' --prom-step 1h --prom-ca-file "$SRC/tls.crt" \
			--prom-token-file "$SRC/token" && expect_out "Wave 1"
		run "sources: tls without the ca is refused" 1 plan -i "$SRC/inv-nohist.json" -s "$SRC/schedule.json" $NOW --no-write \
			--prometheus "https://127.0.0.1:$PORT" --prom-query 'cpu=adp_history{resource="cpu"}' --prom-step 1h &&
			expect_err "prometheus 'https://127.0.0.1:$PORT': .*(certificate|SSL)"
		cli_prom_stop
	else
		echo "SKIP: sources: openssl cannot make a test certificate" >&2
	fi
fi

# --- profile: real processes sampled from /proc. ---
sh -c 'i=0; while [ $i -lt 3000000 ]; do i=$((i + 1)); done' &
BUSY=$!
sleep 30 &
IDLE=$!
run "profile: two pids as one component" 0 profile --pid "$BUSY" --pid "$IDLE" --component web \
	--interval 1s --duration 2s --output-file "$TMP/prof.csv" --textfile "$TMP/prof.prom" --threads
kill "$BUSY" "$IDLE" 2>/dev/null
wait "$BUSY" "$IDLE" 2>/dev/null
name="profile: csv header"
if [ "$(head -n 1 "$TMP/prof.csv")" = "timestamp,component,resource,value" ]; then ok; else bad "header: $(head -n 1 "$TMP/prof.csv")"; fi
name="profile: cpu of the busy loop"
# The shell loop keeps a core busy: well above a tenth of a core per sample.
if awk -F, '$2 == "web" && $3 == "cpu" && $4 > 0.1 { n++ } END { exit !(n >= 1) }' "$TMP/prof.csv"; then ok; else bad "no cpu sample above 0.1: $(cat "$TMP/prof.csv")"; fi
name="profile: resident memory"
if awk -F, '$2 == "web" && $3 == "memory" && $4 > 100000 { n++ } END { exit !(n >= 1) }' "$TMP/prof.csv"; then ok; else bad "no memory sample"; fi
name="profile: textfile metadata"
if grep -q "^adpart_process_info{component=\"web\",pid=\"$IDLE\",name=\"sleep\",user=\"[^\"]*\",cmdline=\"sleep 30\"} 1$" "$TMP/prof.prom"; then ok; else bad "no info line for pid $IDLE"; fi
if command -v promtool >/dev/null 2>&1; then
	name="profile: textfile passes promtool check metrics"
	if promtool check metrics <"$TMP/prof.prom" >"$TMP/promtool.out" 2>&1; then ok; else bad "$(cat "$TMP/promtool.out")"; fi
fi
run "profile: output is valid history" 0 validate --kind history "$TMP/prof.csv" && expect_out "valid history"

run "profile: no selector" 64 profile --duration 1s && expect_err "choose processes with --cgroup, --pid or --name"
run "profile: bad pid" 64 profile --pid abc && expect_err "--pid 'abc' is not a process id"
run "profile: bad group" 64 profile --name x --group-by host && expect_err "--group-by 'host': expected name, cgroup, user or pid"
run "profile: bad cgroup" 1 profile --cgroup "$TMP/no-such-cgroup" --duration 1s &&
	expect_err "^adpart-update: cgroup '.*no-such-cgroup' cannot be read: No such file or directory"
run "profile: bad component" 1 profile --name x --component 'a b' --duration 1s &&
	expect_err "component 'a b' is not a valid name"
run "profile: -o is a format elsewhere, so it is not its file" 64 profile --name sh --duration 1s -o x.csv &&
	expect_err "profile's history file is -O/--output-file FILE"
run "profile: unwritable output" 1 profile --name 'sh' --interval 1s --duration 1s -O "$TMP/no/such/dir.csv" &&
	expect_err "cannot open '.*no/such/dir.csv'"

# A real cgroup, when this machine lets us make one (v2, else v1 memory).
CG=""
for base in /sys/fs/cgroup/unified /sys/fs/cgroup/memory /sys/fs/cgroup; do
	if [ -w "$base" ] && [ -e "$base/cgroup.procs" ] && mkdir "$base/adpart-test-$$" 2>/dev/null; then
		CG="$base/adpart-test-$$"
		break
	fi
done
if [ -n "$CG" ]; then
	sleep 30 &
	KID=$!
	if echo "$KID" >"$CG/cgroup.procs" 2>/dev/null; then
		run "profile: by cgroup, grouped by cgroup" 0 profile --cgroup "$CG" --group-by cgroup \
			--interval 1s --duration 1s --output-file "$TMP/cg.csv" --textfile "$TMP/cg.prom"
		name="profile: cgroup component"
		if grep -q ",adpart-test-$$,memory," "$TMP/cg.csv" && grep -q "pid=\"$KID\"" "$TMP/cg.prom"; then ok; else
			bad "component adpart-test-$$ missing: $(cat "$TMP/cg.csv")"; fi
	else
		echo "SKIP: profile: cannot move a process into $CG" >&2
	fi
	kill "$KID" 2>/dev/null
	wait "$KID" 2>/dev/null
	rmdir "$CG" 2>/dev/null
else
	echo "SKIP: profile: no writable cgroup hierarchy here" >&2
fi

# Inventory errors for the new history fields.
inv_with_history() {
	jq --argjson h "$1" '.components[0].history = $h' "$SRC/inventory-csv.json" >"$SRC/inv-h.json"
}
inv_with_history '{"format": "prometheus", "query": {"cpu": "up"}}'
run "inventory: prometheus without url" 1 validate "$SRC/inv-h.json" &&
	expect_err "components\[0\]\.history\.query: missing required field 'url'"
inv_with_history '{"format": "prometheus", "query": {"url": "http://x"}}'
run "inventory: prometheus without queries" 1 validate "$SRC/inv-h.json" &&
	expect_err "names no query: expected PromQL for at least one of cpu, memory, io, net"
inv_with_history '{"format": "prometheus", "query": {"url": "http://x", "cpu": "up", "username": "u"}}'
run "inventory: basic auth without password file" 1 validate "$SRC/inv-h.json" &&
	expect_err "username needs password_file"
inv_with_history '{"format": "prometheus", "query": {"url": "http://x", "cpu": "up", "range": "forever"}}'
run "inventory: bad prometheus range" 1 validate "$SRC/inv-h.json" &&
	expect_err "components\[0\]\.history\.query\.range: 'forever' is not a duration"
inv_with_history '{"format": "prometheus", "query": {"url": "http://x", "cpu": "up", "steps": "1m"}}'
run "inventory: unknown prometheus field" 1 validate "$SRC/inv-h.json" &&
	expect_err "components\[0\]\.history\.query\.steps: unknown field"
inv_with_history '{"format": "prometheus"}'
run "inventory: prometheus without query" 1 validate "$SRC/inv-h.json" &&
	expect_err "components\[0\]\.history: expected \"query\""
inv_with_history '{"file": "history.tar.gz", "format": "long", "member": "*.csv"}'
run "inventory: archive member is valid" 0 validate "$SRC/inv-h.json"
