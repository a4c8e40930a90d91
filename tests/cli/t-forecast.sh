# forecast: quantiles over the demo window.
DEMO="--inventory $TD/demo/inventory.json --schedule $TD/demo/schedule.json --now 2018-05-06T00:00:00Z"

run "forecast human" 0 forecast $DEMO --component api-01 --resource cpu
expect_out "'api-01' cpu: model (seasonal-naive|holt-winters|holt-winters-weekly|stl-ar), period 86400s, 200 scenarios"
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

run "forecast without schedule" 64 forecast --inventory $TD/demo/inventory.json
expect_err "--inventory and --schedule are required"

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
