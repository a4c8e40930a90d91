# forecast: quantiles over the demo window.
DEMO="--inventory $TD/demo/inventory.json --schedule $TD/demo/schedule.json --now 2018-05-06T00:00:00Z"

run "forecast human" 0 forecast $DEMO --component api-01 --resource cpu
expect_out "'api-01' cpu: model (seasonal-naive|holt-winters|holt-winters-weekly|stl-ar|mean:[a-z+-]+), period 86400s, 200 scenarios"
expect_out "p50 +p90 +p95 +p99"
expect_no_err

run "forecast csv" 0 forecast $DEMO --output csv --levels 0.5,0.95
expect_out "^component,resource,time,p50,p95$"
expect_out "^mongo-01,memory,2018-05-06T01:00:00Z,"
# Each row's p95 is at least its p50.
if awk -F, 'NR > 1 && $5 + 0 < $4 + 0 { bad = 1 } END { exit bad }' "$TMP/out"; then ok; else bad "p95 below p50 in csv"; fi

run "forecast json" 0 forecast $DEMO --output json --component mongo-01 --resource memory
expect_out '"component": "mongo-01"'
expect_out '"resource": "memory"'
expect_out '"scenarios": [0-9]+'

run "forecast bad levels" 64 forecast $DEMO --levels 0.9,0.5
expect_err "levels '0.9,0.5' is not a list of ascending levels"

run "forecast bad output" 64 forecast $DEMO --output xml
expect_err "unknown output format 'xml'"

run "forecast bad resource" 64 forecast $DEMO --resource disk
expect_err "unknown resource 'disk'"

run "forecast unknown component" 1 forecast $DEMO --component nosuch
expect_err "^adpart-update: no history matches"

run "forecast unknown model" 1 forecast $DEMO --model nosuch
expect_err "unknown forecast model 'nosuch'"

run "forecast missing inventory" 1 forecast --inventory nosuch.json --schedule $TD/demo/schedule.json
expect_err "nosuch.json"

run "forecast without schedule or horizon" 64 forecast --inventory $TD/demo/inventory.json
expect_err "forecast: --schedule or --horizon is required: the window to forecast, or how long from --now$"

run "forecast without anything" 64 forecast
expect_err "forecast: --inventory and --schedule \(or --horizon\) are required$"

run "forecast horizon without inventory" 64 forecast --horizon 1h
expect_err "forecast: --inventory is required$"

run "forecast analog model" 0 forecast $DEMO --model seasonal-analog --component api-01 --resource cpu
expect_out "model seasonal-analog"

run "forecast holt-winters" 0 forecast $DEMO --model holt-winters --output json --component mongo-01 --resource cpu
expect_out '"alpha": '
expect_out '"backtest_origins": [1-9]'

run "forecast backtest" 0 forecast $DEMO --backtest --origins 3 --component mongo-01 --component api-01 --resource cpu
expect_out "^mongo-01 +cpu +(holt-winters|holt-winters-weekly|stl-ar|seasonal-naive) +3 +144 "
expect_out "^all "

run "forecast backtest csv" 0 forecast $DEMO --backtest --origins 2 --component ingress-01 --resource net --output csv
expect_out "^component,resource,model,origins,points,mase,pinball_p2.5,coverage_p2.5,pinball_p50,coverage_p50,.*,interval_p2.5_p97.5$"
# Coverage is a share: every coverage column lies in [0, 1].
if awk -F, 'NR > 1 { for (i = 8; i <= NF; i += 2) if ($i < 0 || $i > 1) bad = 1 } END { exit bad }' "$TMP/out"; then ok; else bad "coverage out of [0,1]"; fi

run "forecast backtest json" 0 forecast $DEMO --backtest --origins 2 --component api-01 --output json
expect_out '"aggregate"'
expect_out '"coverage"'

run "forecast bad origins" 64 forecast $DEMO --backtest --origins 0
expect_err "origins '0' is not a count"

# The central 95% interval is measured by default, per series and pooled.
run "forecast backtest interval" 0 forecast $DEMO --backtest --origins 2 --component mongo-02 --resource cpu
expect_out "cov@p2.5 .* in95%"
expect_out "^all "
# Inside [p2.5, p97.5] is coverage(p97.5) minus the share strictly below p2.5: at most coverage(p97.5).
if awk 'NR > 1 && $1 != "all" { if ($NF > $(NF - 2) + 1e-9) bad = 1 } END { exit bad }' "$TMP/out"; then ok; else bad "interval wider than p97.5 coverage"; fi

run "forecast backtest json intervals" 0 forecast $DEMO --backtest --origins 2 --component mongo-02 --resource cpu --output json
expect_out '"lower": 0.025'
expect_out '"upper": 0.975'

# Memory is sized at a higher level than cpu (the schedule's confidence defaults).
run "forecast sizing levels" 0 forecast $DEMO --component mongo-01
expect_out "'mongo-01' cpu: .*"
expect_out "sized at p95 \(compressible\), the schedule's confidence for cpu"
expect_out "sized at p99 \(incompressible\), the schedule's confidence for memory"

run "forecast sizing json" 0 forecast $DEMO --component mongo-01 --resource memory --output json
expect_out '"sizing_level": 0.99'

# Dependencies: ingress-01 and ingress-03 move together beyond their daily pattern in the demo data.
run "forecast dependencies" 0 forecast $DEMO --component ingress-01 --component ingress-03 --resource cpu
expect_out "^dependencies \(residual correlation at least 0.5 within 12 steps\):"
expect_out "'ingress-01' cpu and 'ingress-03' cpu: correlation 0\.[5-9][0-9] at lag [+-][0-9]+ steps"

run "forecast dependencies json" 0 forecast $DEMO --component ingress-01 --component ingress-03 --resource cpu --output json
expect_out '"dependencies": \['
expect_out '"lag_seconds": '

run "forecast dependencies off" 0 forecast $DEMO --component ingress-01 --component ingress-03 --resource cpu --dependency-threshold 1
if grep -q "^dependencies" "$TMP/out"; then bad "dependencies reported with threshold 1"; else ok; fi

run "forecast bad dependency threshold" 64 forecast $DEMO --dependency-threshold 1.5
expect_err "dependency-threshold '1.5' is not a correlation"

run "forecast bad dependency lag" 64 forecast $DEMO --dependency-lag 1000
expect_err "dependency-lag '1000' is not a count of steps"

run "forecast periods p-value" 0 forecast $DEMO --component mongo-01 --resource cpu
expect_out "periods found: 86400s \(acf 0\.[0-9]+, p 0\.01\)"

run "forecast stl-ar" 0 forecast $DEMO --model stl-ar --component mongo-01 --resource cpu --output json
expect_out '"model": "stl-ar"'
expect_out '"ar": \['

# Too little history before --now: the error names the series and what is needed.
run "forecast short history" 1 forecast --inventory $TD/demo/inventory.json --schedule $TD/demo/schedule.json --now 2018-04-27T00:00:00Z -c mongo-01 -r cpu
expect_err "^adpart-update: forecast of 'mongo-01' cpu: needs at least 3 periods of 86400s history before the origin; it has 576 steps$"

# ---- forecast needs only what a forecast needs ----

# An inventory of components and their history: no partitions,
# capacities or placement.
cat >fc-inv.json <<JSON
{"components": [
 {"name": "mongo-01", "history": {"file": "$TD/demo/history/mongo-01.csv", "time_column": "TimeStamp",
   "time_format": "rfc3339", "columns": {"cpu": {"column": "Value", "scale": 0.0004},
   "memory": {"column": "Value", "scale": 262144, "offset": "4GiB"}}}},
 {"name": "api-01", "history": {"file": "$TD/demo/history/api-01.csv", "time_column": "TimeStamp",
   "time_format": "rfc3339", "columns": {"cpu": {"column": "Value", "scale": 0.02}}}}
]}
JSON
# A schedule with a window: no name, partitions or update_duration.
cat >fc-window.json <<JSON
{"window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "step": "5m", "period": "1d"}
JSON
NOW="--now 2018-05-06T00:00:00Z"

run "forecast components only" 0 forecast -i fc-inv.json -s $TD/demo/schedule.json $NOW -c mongo-01 -o csv
expect_out "^mongo-01,memory,2018-05-06T04:55:00Z,"
cp "$TMP/out" fc-only.csv
# The same forecast as from the whole demo inventory, which names the same history.
run "forecast components only, as from the whole inventory" 0 forecast $DEMO -c mongo-01 -o csv
if cmp -s "$TMP/out" fc-only.csv; then ok; else bad "a components-only inventory forecasts differently"; fi

run "forecast a window only" 0 forecast -i fc-inv.json -s fc-window.json $NOW -c mongo-01 -r cpu -o csv
if [ "$(grep -c '^mongo-01,cpu,' "$TMP/out")" -eq 48 ]; then ok; else bad "expected 48 steps 01:00 to 04:55"; fi
expect_out "^mongo-01,cpu,2018-05-06T01:00:00Z,"
expect_no_err

# The demo schedule names partitions a components-only inventory lacks:
# forecast only checks their form; plan and validate still need them all.
run "plan refuses a components-only inventory" 1 plan -i fc-inv.json -s $TD/demo/schedule.json $NOW
expect_err "fc-inv.json: missing required field 'partitions'"
expect_no_file adpart-plan.json
run "validate refuses a components-only inventory" 1 validate fc-inv.json
expect_err "fc-inv.json: missing required field 'partitions'"
cat >fc-noplace.json <<JSON
{"partitions": [{"name": "node-a", "capacity": {"cpu": 8, "memory": "32GiB"}}],
 "components": [{"name": "mongo-01", "history": {"file": "$TD/demo/history/mongo-01.csv", "time_column": "TimeStamp",
   "time_format": "rfc3339", "columns": {"cpu": {"column": "Value", "scale": 0.0004}}}}]}
JSON
run "forecast a component without placement" 0 forecast -i fc-noplace.json -s fc-window.json $NOW -o csv
expect_out "^mongo-01,cpu,2018-05-06T01:00:00Z,"
run "validate still needs a placement" 1 validate fc-noplace.json
expect_err "fc-noplace.json:2: components\[0\]: missing required field 'placement'"
# What is given is still checked.
cat >fc-badplace.json <<JSON
{"components": [{"name": "mongo-01",
   "placement": ["node-x"]}]}
JSON
run "forecast checks a placement given" 1 forecast -i fc-badplace.json -s fc-window.json $NOW
expect_err "fc-badplace.json:2: components\[0\].placement\[0\]: unknown partition 'node-x'"

# Without update_duration: forecast takes it, plan does not.
cat >fc-nodur.json <<JSON
{"name": "no-durations", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"},
 "partitions": ["node-a", "node-b"]}
JSON
run "forecast without update_duration" 0 forecast --inventory $TD/demo/inventory.json -s fc-nodur.json $NOW -c api-01 -r cpu -o csv
expect_out "^api-01,cpu,2018-05-06T01:00:00Z,"
run "plan still needs update_duration" 1 plan --inventory $TD/demo/inventory.json -s fc-nodur.json $NOW
expect_err "fc-nodur.json: missing required field 'update_duration'"
run "validate still needs update_duration" 1 validate fc-nodur.json
expect_err "fc-nodur.json: missing required field 'update_duration'"
# Against a whole inventory, the schedule's partitions are still resolved.
sed 's/"node-b"/"node-x"/' fc-nodur.json >fc-unknown.json
run "forecast resolves partitions against the inventory's" 1 forecast --inventory $TD/demo/inventory.json -s fc-unknown.json $NOW
expect_err "fc-unknown.json:2: partitions\[1\]: unknown partition 'node-x'"

# ---- --horizon ----

run "forecast horizon" 0 forecast -i fc-inv.json --horizon 1h --now 2018-05-06T01:00:00Z -c mongo-01 -r cpu -o csv
if [ "$(grep -c '^mongo-01,cpu,' "$TMP/out")" -eq 12 ]; then ok; else bad "1h of 5m steps is not 12 rows"; fi
expect_out "^mongo-01,cpu,2018-05-06T01:00:00Z,"
expect_out "^mongo-01,cpu,2018-05-06T01:55:00Z,"
expect_no_err

run "forecast horizon in seconds" 0 forecast -i fc-inv.json --horizon 5400 --now 2018-05-06T01:00:00Z -c mongo-01 -r cpu -o json
expect_out '"start": "2018-05-06T01:00:00Z"'
expect_out '"step": 300'
expect_out '"horizon": 18'
expect_out "sizing_level\": 0.95"

# A horizon between steps ends on the next step.
run "forecast horizon rounded up to a step" 0 forecast -i fc-inv.json --horizon 7m --now 2018-05-06T01:00:00Z -c mongo-01 -r cpu -o csv
if [ "$(grep -c '^mongo-01,cpu,' "$TMP/out")" -eq 2 ]; then ok; else bad "7m is not 2 steps of 5m"; fi

run "forecast horizon human" 0 forecast -i fc-inv.json --horizon 1d --now 2018-05-06T00:00:00Z -c mongo-01
expect_out "sized at p99 \(incompressible\), the default confidence for memory"

# Without --now: from the end of the history, where every series' history
# is known (mongo-01's ends on 2018-05-06; api-01's goes on to July).
run "forecast horizon from the end of the history" 0 forecast -i fc-inv.json --horizon 30m -c mongo-01 -r cpu -o csv
expect_out "^mongo-01,cpu,2018-05-06T00:00:00Z,"
expect_out "^mongo-01,cpu,2018-05-06T00:25:00Z,"
expect_err "^adpart-update: forecasting from 2018-05-06T00:00:00Z, where the history of 'mongo-01' (cpu|memory) ends; other series go on to 2018-07-16T23:05:00Z \(pass --now to choose\)$"
# ... the same as from --now there.
cp "$TMP/out" fc-end.csv
run "forecast horizon from --now at the end" 0 forecast -i fc-inv.json --horizon 30m -c mongo-01 -r cpu -o csv $NOW
if cmp -s "$TMP/out" fc-end.csv; then ok; else bad "the end of the history is not --now 2018-05-06T00:00:00Z"; fi

run "forecast horizon backtest" 0 forecast -i fc-inv.json --horizon 1h $NOW --backtest --origins 2 -c mongo-01 -r cpu
expect_out "^mongo-01 +cpu +[a-z-]+ +2 +24 "

echo '{"components": []}' >fc-none.json
run "forecast no component" 1 forecast -i fc-none.json --horizon 1h
expect_err "^adpart-update: fc-none.json: no component, so no history: nothing to forecast$"

run "forecast horizon and schedule" 64 forecast -i fc-inv.json --horizon 4h -s fc-window.json
expect_err "forecast: --horizon and --schedule: give one, the schedule's window or a horizon from --now$"

run "forecast bad horizon" 64 forecast -i fc-inv.json --horizon soon
expect_err "forecast: --horizon 'soon' is not a duration such as 4h, 90m, 1d or seconds$"
run "forecast zero horizon" 64 forecast -i fc-inv.json --horizon 0
expect_err "--horizon '0' is not a duration"
run "forecast horizon over a week" 64 forecast -i fc-inv.json --horizon 8d
expect_err "--horizon '8d' is longer than 7 days"

# ---- the first step ----

# --now on a step boundary inside the window: that step is the first.
run "forecast now on a step" 0 forecast $DEMO -c mongo-01 -r cpu -o csv --now 2018-05-06T02:00:00Z
if [ "$(sed -n 2p "$TMP/out" | cut -d, -f3)" = 2018-05-06T02:00:00Z ]; then ok; else bad "the first step is not 02:00"; fi
if [ "$(grep -c '^mongo-01,cpu,' "$TMP/out")" -eq 36 ]; then ok; else bad "02:00 to 04:55 is not 36 steps"; fi
# Between steps: the step that has begun is not forecast.
run "forecast now between steps" 0 forecast $DEMO -c mongo-01 -r cpu -o csv --now 2018-05-06T02:02:00Z
if [ "$(sed -n 2p "$TMP/out" | cut -d, -f3)" = 2018-05-06T02:05:00Z ]; then ok; else bad "the first step is not 02:05"; fi
run "forecast horizon now on a step" 0 forecast -i fc-inv.json --horizon 10m -c mongo-01 -r cpu -o csv --now 2018-05-06T02:00:00Z
if [ "$(sed -n 2p "$TMP/out" | cut -d, -f3)" = 2018-05-06T02:00:00Z ]; then ok; else bad "the first step is not 02:00"; fi

# A window starting between steps is refused, naming the file, the field and the step.
cat >fc-offgrid.json <<JSON
{"step": "5m",
 "window": {"start": "2018-05-06T01:02:00Z",
            "end": "2018-05-06T05:00:00Z"}}
JSON
run "forecast window off the step grid" 1 forecast -i fc-inv.json -s fc-offgrid.json $NOW
expect_err "^adpart-update: fc-offgrid.json:2: window.start: 2018-05-06T01:02:00Z is not on the 5m step grid \(forecast steps start at multiples of the step since the epoch, UTC\): start the window at 2018-05-06T01:00:00Z or 2018-05-06T01:05:00Z, or change the step$"
if [ -s "$TMP/out" ]; then bad "a refused window printed a forecast"; else ok; fi

# ---- times read as 1970 ----

printf 't,load\n1525564800,1\n1525565100,2\n' >fc-seconds.csv
cat >fc-ms.json <<JSON
{"components": [{"name": "web", "history": {"file": "$TMP/fc-seconds.csv", "time_column": "t",
  "time_format": "epoch_ms", "columns": {"cpu": "load"}}}]}
JSON
run "forecast seconds read as milliseconds" 1 forecast -i fc-ms.json --horizon 1h
expect_err "fc-seconds.csv:2:1: timestamp: '1525564800' read as 1970-01-18T15:46:04Z, before 1971: is the column in seconds, not milliseconds\? \(the source's \"time_format\" is \"epoch_ms\"; \"epoch\" reads seconds\)$"

printf 't,load\n1525564800000,1\n' >fc-millis.csv
sed -e 's/fc-seconds.csv/fc-millis.csv/' -e 's/"epoch_ms"/"epoch"/' fc-ms.json >fc-s.json
run "forecast milliseconds read as seconds" 1 forecast -i fc-s.json --horizon 1h
expect_err "fc-millis.csv:2:1: timestamp: '1525564800000' is not a valid time: expected epoch: is the column in milliseconds\? \(read it with the source's \"time_format\": \"epoch_ms\"\)$"

printf 'timestamp,component,resource,value\n1525564800,web,cpu,1\n17,web,cpu,2\n' >fc-long.csv
cat >fc-long.json <<JSON
{"components": [{"name": "web", "history": {"file": "$TMP/fc-long.csv", "format": "long"}}]}
JSON
run "forecast a long file with a count for a time" 1 forecast -i fc-long.json --horizon 1h
expect_err "fc-long.csv:3:1: timestamp: '17' read as 1970-01-01T00:00:17Z, before 1971: is the column a time in epoch seconds\? \(a date since 2001 has 10 digits\)$"

# auto says which band each part of the window took and whether the upper
# levels stop at the recent maximum; a capped p99 is never above it.
run "forecast bands human" 0 forecast $DEMO --component mongo-01 --resource memory
expect_out "^  bands \(share of the window from model / climatology at the phase / their mean / every phase / on-off regime\): median [0-9]+/[0-9]+/[0-9]+/[0-9]+/0%; upper [0-9]+/[0-9]+/[0-9]+/[0-9]+/[0-9]+%$"
expect_out "^  recent maximum [0-9.e+]+; [0-9.]+% of calibration values, on [0-9]+ of their days, rose above theirs; upper levels capped there: p90 (yes|no \(a trend\)) p95 (yes|no \(a trend\)) p99 (yes|no \(a trend\))$"
# The shares of each group add up to 100%.
if awk '/^  bands/ { n = split($0, g, ";"); for (i = 1; i <= n; i++) { sub(/.*: /, "", g[i]); sub(/^ *[a-z]+ /, "", g[i]); sub(/%$/, "", g[i]); split(g[i], p, "/"); s = p[1] + p[2] + p[3] + p[4]; if (s < 99 || s > 101) bad = 1 } } END { exit bad }' "$TMP/out"; then ok; else bad "band shares do not add up to 100%"; fi
if awk '/^  recent maximum/ { top = $3 + 0; cap = ($0 ~ /p99 yes/) } /^  20[0-9][0-9]-/ { if (cap && $5 > top * (1 + 1e-6)) bad = 1 } END { exit bad }' "$TMP/out"; then ok; else bad "a capped p99 above the recent maximum"; fi

run "forecast bands lower levels" 0 forecast $DEMO --component mongo-01 --resource memory --levels 0.025,0.5,0.975
expect_out "^  bands .*: lower [0-9]+/[0-9]+/[0-9]+/[0-9]+/0%; median "

run "forecast bands json" 0 forecast $DEMO --component mongo-01 --resource memory --output json
expect_out '"bands": \{'
expect_out '"flat": '
expect_out '"recent_max": '
expect_out '"rise_rate": '
expect_out '"rise_days": '
expect_out '"level_shift": '
expect_out '"regime": '

# A named model keeps its own band: no bands, no cap.
run "forecast named model has no bands" 0 forecast $DEMO --model holt-winters --component mongo-01 --resource memory
if grep -q "^  bands\|^  recent maximum" "$TMP/out"; then bad "holt-winters reports auto's bands"; else ok; fi

# The lstm model (issue 20): a network per series on the real demo
# history, its bands from the same conformal step as the others.
run "forecast lstm" 0 forecast $DEMO --model lstm --component api-01 --resource cpu
expect_out "^'api-01' cpu: model lstm, period 86400s, 200 scenarios"
expect_out "^  parameters: epoch [0-9]+ kept, held-out mean squared error [0-9.e+-]+ \(in variances\)$"
expect_out "^  backtest: 364 origins, mean absolute error "
# Ascending quantiles at every step.
if awk '/^  20[0-9][0-9]-/ { if ($2 > $3 || $3 > $4 || $4 > $5) bad = 1; n++ } END { exit bad || n != 48 }' "$TMP/out"; then ok; else bad "quantiles out of order or steps missing"; fi

# The same seed gives the same forecast: again, and on one thread or two.
run "forecast lstm one thread" 0 forecast $DEMO --model lstm --output json --threads 1
expect_out '"model": "lstm"'
expect_out '"heldout_mse": '
cp "$TMP/out" fc-lstm-1.json
run "forecast lstm two threads" 0 forecast $DEMO --model lstm --output json --threads 2
if cmp -s "$TMP/out" fc-lstm-1.json; then ok; else bad "the lstm forecast differs on two threads"; fi
run "forecast lstm again" 0 forecast $DEMO --model lstm --output json --threads 2
if cmp -s "$TMP/out" fc-lstm-1.json; then ok; else bad "the lstm forecast differs between runs"; fi

run "forecast bad threads" 64 forecast $DEMO --threads 0
expect_err "forecast: --threads '0' is not a count from 1 to 16$"
run "forecast threads not a number" 64 forecast $DEMO --threads two
expect_err "forecast: --threads 'two' is not a count from 1 to 16$"

# Too short to train: five days of history, the newest backtest origin a
# day before --now; the series is named. auto forecasts it without the
# network (one component: its rule would try it).
. "$TOP/tests/cli/lib.sh"
cli_web_inventory lstm-web.json
run "forecast lstm too short" 1 forecast --inventory lstm-web.json --horizon 4h --now 2017-11-06T00:00:00Z --model lstm
expect_err "^adpart-update: forecast of 'web' cpu: too short to train an LSTM: [0-9]+ steps of history before the newest backtest origin, at least 4 periods \(1152\) needed$"
run "forecast auto too short for lstm" 0 forecast --inventory lstm-web.json --horizon 4h --now 2017-11-06T00:00:00Z
expect_out "^'web' cpu: model (seasonal-naive|holt-winters|stl-ar|mean:[a-z+-]+),"
if grep -q "model lstm" "$TMP/out"; then bad "auto used the lstm on a history too short to train it"; else ok; fi
run "forecast lstm long enough" 0 forecast --inventory lstm-web.json --horizon 4h --now 2017-11-07T00:00:00Z --model lstm
expect_out "^'web' cpu: model lstm,"

# Backtested like the others.
run "forecast lstm backtest" 0 forecast $DEMO --model lstm --backtest --origins 2 --component api-01 --resource cpu
expect_out "^api-01 +cpu +lstm +2 +[1-9][0-9]* +[0-9.]+ "
