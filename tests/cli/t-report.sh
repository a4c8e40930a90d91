# report: a plan, its run and the actual load as one self-contained HTML
# page: a window applied through the exec driver (its samples far above
# the forecast, so monitoring warns), reported from files and from the
# plan store, the mistakes a user makes, and the page loaded in a real
# headless Chromium: the DOM's charts, axes, legends and proof, no
# request leaving the page (its network log), and a screenshot kept in
# the build directory's artefacts.

. "$TOP/tests/cli/lib.sh"
RP="$TMP/report"
mkdir -p "$RP"
cli_web_inventory "$RP/inv.json"
cli_schedule "$RP/sched.json" rep node-a "$RP/updates.log"
printf '#!/bin/sh\ncat >/dev/null\n[ "$1" = sample ] && echo %s\nexit 0\n' "'{\"cpu\": 50, \"memory\": 1048576}'" \
	>"$RP/hook"
chmod 755 "$RP/hook"
"$BIN" plan --driver exec -i "$RP/inv.json" -s "$RP/sched.json" --now 2018-05-06T00:00:00Z --store "$RP/store" \
	-f "$RP/plan.json" >/dev/null 2>&1
"$BIN" apply --driver exec --hook "$RP/hook" --now "$(cli_plan_start "$RP/plan.json")" --store "$RP/store" \
	-d "$RP/st" "$RP/plan.json" >/dev/null 2>&1
# web's actual load, long format, from four hours before the window to its end.
/usr/bin/python3 -c '
import datetime as d, math
t = d.datetime(2018, 5, 5, 21, 0, tzinfo=d.timezone.utc)
print("timestamp,component,resource,value")
i = 0
while t < d.datetime(2018, 5, 6, 5, 0, tzinfo=d.timezone.utc):
    s = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    print("%s,web,cpu,%.4f" % (s, 0.1 + 0.05 * math.sin(i / 6)))
    print("%s,web,memory,%d" % (s, 60000000))
    t += d.timedelta(minutes=5)
    i += 1' >"$RP/actual.csv"
name="report: the window was applied and monitoring warned"
if [ "$(jq -r .outcome "$RP/st/run.json")" = done ] &&
	[ "$(jq '[.observations[] | select(.decision == "warn")] | length' "$RP/st/run.json")" -gt 0 ]; then ok; else
	bad "outcome $(jq -r .outcome "$RP/st/run.json")"; fi

run "report: a plan file" 0 report "$RP/plan.json" -O "$RP/plan.html" && expect_out "^Report written to $RP/plan.html$" &&
	expect_file "$RP/plan.html"
name="report: one page, with its security policy, no script and nothing to fetch"
if grep -q "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">" \
	"$RP/plan.html" && ! grep -qi '<script' "$RP/plan.html" && ! grep -Eqi '(src|href)=' "$RP/plan.html" &&
	! grep -Eo 'https?://[^"]*' "$RP/plan.html" | grep -qv '^http://www.w3.org/2000/svg$'; then ok; else
	bad "$(grep -Eo '(src|href)=[^ ]*|https?://[^"]*' "$RP/plan.html" | sort -u | head -5)"; fi
run "report: with the run record and the actual load" 0 report "$RP/plan.json" --run "$RP/st/run.json" \
	--history "$RP/actual.csv" -O "$RP/full.html"
name="report: the run's accuracy is accuracy's, its decisions listed, the history drawn"
acc=$("$BIN" accuracy "$RP/st/run.json" -o json | jq -r '.windows[0].rows[] | select(.resource == "cpu") |
	"<td>cpu</td><td>\(.samples)</td><td>\(.coverage_p95 * 1000 | round / 1000)"')
if grep -q "Accuracy after the window" "$RP/full.html" && grep -q "${acc%.*}" "$RP/full.html" &&
	grep -Eq '[0-9]+ observations? with a decision other than ok' "$RP/full.html" &&
	grep -q 'actual (history)' "$RP/full.html" && grep -q 'monitoring decision (apply)' "$RP/full.html"; then ok; else
	bad "no accuracy row like '$acc'"; fi
run "report: a stored plan and its run by reference" 0 report --store "$RP/store" rep/1 --run HEAD -O "$RP/stored.html"
printf '[defaults]\nstore = %s\n' "$RP/store" >"$RP/config"
ADPART_CONFIG="$RP/config"
export ADPART_CONFIG
run "report: the store from the config file" 0 report rep/1 --run HEAD -O "$RP/stored-config.html"
unset ADPART_CONFIG
name="report: the same page from the config's store"
if cmp -s "$RP/stored.html" "$RP/stored-config.html"; then ok; else bad "the pages differ"; fi
name="report: the stored plan's page is the file's, run and all"
if grep -q "Accuracy after the window" "$RP/stored.html" && grep -q "Plan &#39;rep&#39;" "$RP/stored.html"; then ok; else
	bad "$(head -c 300 "$RP/stored.html")"; fi

# --- mistakes ------------------------------------------------------------------
run "report without -O" 64 report "$RP/plan.json" && expect_err "name the page to write with -O FILE"
run "report without a plan" 64 report -O "$RP/x.html"
# Without a store, a PLAN that is no file is a missing file.
rp_store=${ADPART_STORE-}
unset ADPART_STORE
run "report: a missing plan file" 1 report "$RP/nope.json" -O "$RP/x.html" &&
	expect_err "cannot read plan '$RP/nope.json': No such file or directory" && expect_no_file "$RP/x.html"
if [ -n "$rp_store" ]; then export ADPART_STORE="$rp_store"; fi
run "report: a plan that is not one" 1 report "$RP/actual.csv" -O "$RP/x.html" && expect_err "actual.csv" &&
	expect_no_file "$RP/x.html"
run "report: a missing run record" 1 report "$RP/plan.json" --run "$RP/nope-run.json" -O "$RP/x.html" &&
	expect_err "cannot read run record '$RP/nope-run.json'" && expect_no_file "$RP/x.html"
run "report: a plan is no run record" 1 report "$RP/plan.json" --run "$RP/plan.json" -O "$RP/x.html" &&
	expect_err "$RP/plan.json: not a run record" && expect_no_file "$RP/x.html"
jq '.digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"' "$RP/st/run.json" >"$RP/other-run.json"
run "report: the run of another plan is refused" 1 report "$RP/plan.json" --run "$RP/other-run.json" -O "$RP/x.html" &&
	expect_err "other-run.json is the run of another plan \\(digest 0123456789ab, this plan's [0-9a-f]{12}\\)" &&
	expect_no_file "$RP/x.html"
printf '{"steps": [' >"$RP/cut.json"
run "report: a truncated run record names the file and line" 1 report "$RP/plan.json" --run "$RP/cut.json" \
	-O "$RP/x.html" && expect_err "cannot read run record '$RP/cut.json': line 1"
run "report: a missing history file" 1 report "$RP/plan.json" --history "$RP/nope.csv" -O "$RP/x.html" &&
	expect_err "nope.csv" && expect_no_file "$RP/x.html"
run "report: the page's directory does not exist" 1 report "$RP/plan.json" -O "$RP/no-dir/r.html" &&
	expect_err "cannot write the report '$RP/no-dir/r.html'" && expect_no_file "$RP/no-dir"
run "report: an unknown stored plan" 1 report --store "$RP/store" rep/9 -O "$RP/x.html" && expect_err "rep/9"

# --- in a real browser -----------------------------------------------------------
# report_chromium OUT ARGS... URL: headless Chromium, its stdout in OUT.
report_chromium() {
	rc_out=$1
	shift
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
		--user-data-dir="$(mktemp -d "$RP/chromium.XXXXXX")" "$@" >"$rc_out" 2>>"$RP/chromium.log"
}
printf '<!DOCTYPE html><html><body><p>chromium-ok</p></body></html>\n' >"$RP/probe.html"
if ! command -v chromium >/dev/null 2>&1; then
	echo "SKIP: report: no chromium (Debian's chromium; .ci/deps installs it)" >&2
elif ! report_chromium "$RP/probe.dom" --dump-dom "file://$RP/probe.html" || ! grep -q chromium-ok "$RP/probe.dom"; then
	echo "SKIP: report: chromium cannot run here ($(tail -n 1 "$RP/chromium.log"))" >&2
else
	report_chromium "$RP/full.dom" --log-net-log="$RP/net.json" --dump-dom "file://$RP/full.html"
	name="report in chromium: the DOM has the charts, each with a title, axes with units and a legend"
	svgs=$(grep -o '<svg' "$RP/full.dom" | wc -l)
	legends=$(grep -o 'class="legend"' "$RP/full.dom" | wc -l)
	axes=$(grep -o 'time (UTC)' "$RP/full.dom" | wc -l)
	titles=$(grep -o 'class="chart-title"' "$RP/full.dom" | wc -l)
	# the timeline, node-b's cpu and memory, web's cpu and memory and apply's cpu and memory samples
	if [ "$svgs" -ge 7 ] && [ "$legends" -eq "$svgs" ] && [ "$axes" -eq "$svgs" ] && [ "$titles" -eq "$svgs" ] &&
		grep -q 'cpu (cores)' "$RP/full.dom" && grep -Eq 'memory \((MiB|GiB)\)' "$RP/full.dom"; then ok; else
		bad "$svgs charts, $legends legends, $axes time axes, $titles titles"; fi
	name="report in chromium: the proof, the component, the partitions and the decisions"
	if grep -q 'Proof: holds: cpu worst P(overload)' "$RP/full.dom" && grep -q '<h3 class="component">web</h3>' "$RP/full.dom" &&
		grep -q '>node-a<' "$RP/full.dom" && grep -q 'node-b cpu: predicted total against capacity' "$RP/full.dom" &&
		grep -q 'web cpu: apply.*s samples against the band it monitored' "$RP/full.dom" &&
		grep -q '<li>.*web replica 0 on node-b: warn' "$RP/full.dom"; then ok; else bad "$(head -c 400 "$RP/full.dom")"; fi
	# report_requests NETLOG: the URLs the page asked for (Chromium's own
	# requests, to update itself and the like, have no origin).
	report_requests() {
		/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
names = {v: k for k, v in d["constants"]["logEventTypes"].items()}
for e in d["events"]:
    p = e.get("params") or {}
    if names.get(e["type"]) == "URL_REQUEST_START_JOB" and p.get("initiator") != "not an origin":
        print(p.get("url"))' "$1"
	}
	name="report in chromium: the page asks for nothing on the network"
	if [ -s "$RP/net.json" ] && [ -z "$(report_requests "$RP/net.json" | grep -E '^(https?|wss?|ftp):')" ]; then ok; else
		bad "requests: $(report_requests "$RP/net.json" | head -5)"; fi
	# The check itself catches a page that fetches an image.
	printf '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/leak.png"></body></html>\n' >"$RP/leak.html"
	report_chromium "$RP/leak.dom" --log-net-log="$RP/leak-net.json" --dump-dom "file://$RP/leak.html"
	name="report in chromium: the network check sees a page that fetches"
	if report_requests "$RP/leak-net.json" | grep '^http://127.0.0.1:9/leak.png$' >/dev/null; then ok; else
		bad "the leak went unseen: $(report_requests "$RP/leak-net.json" | head -3)"; fi
	# The screenshot: an artefact of the build, kept after the run.
	ART="$(dirname "$BIN")/artefacts"
	mkdir -p "$ART"
	rm -f "$ART/report.png"
	report_chromium "$RP/shot.out" --screenshot="$ART/report.png" --window-size=1280,2000 "file://$RP/full.html"
	name="report in chromium: a screenshot, a PNG"
	if [ -s "$ART/report.png" ] && [ "$(head -c 8 "$ART/report.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
		ok
		cp "$RP/full.html" "$ART/report.html"
		echo "report: screenshot in $ART/report.png (of $ART/report.html)" >&2
	else
		bad "no PNG at $ART/report.png"
	fi
fi
