#!/bin/sh
# Forecasting (issue 13): per dataset (Bitbrains cpu and memory, Microsoft,
# NAB) and horizon (4 h, 24 h), ours (the default model; beside it the
# lstm model, issue 20), statsmodels
# Holt-Winters, a seasonal naive with empirical bands and the VPA-like
# constant on the same series and origins: upper coverage and
# reserved/used at p95 and p99, coverage of [p2.5, p97.5], MASE and time
# per series, then our targets met or missed (bench/fc_eval.py). Before
# them, the coverage of the default model on every prepared series and the
# MASE of each of our models; after, the feedback loop replayed over daily
# windows (bench/fbbench.c) and a scaling run of 1000 series of 8640
# points.
#   ADP_DATASETS       the datasets ("$TOP/../shared/datasets")
#   BENCH_PER_SET      series per dataset in the tables (6; Bitbrains: 6
#                      VMs, each a cpu and a memory series)
#   BENCH_ORIGINS      daily origins per series in the tables (5)
#   BENCH_JOBS         series the baselines work on at once (the CPUs)
#   BENCH_COV_ORIGINS  origins per series in the coverage table (6)
#   BENCH_SCALE        series in the scaling run (1000)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(dirname "$1")
DATA=${ADP_DATASETS:-"$TOP/../shared/datasets"}
if [ ! -d "$DATA/nab" ]; then
	echo "forecast bench: no datasets at $DATA, skipped"
	exit 0
fi
T0=$(date +%s)
PY=/usr/bin/python3
$PY -c 'import statsmodels' 2>/dev/null || apt-get install -y python3-statsmodels >/dev/null
TMP=$(mktemp -d "${TMPDIR:-/tmp}/adpart-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
LIBS="$BUILD/libadpart.a $(pkg-config --libs libgit2 libcurl jansson libarchive yaml-0.1 inih libcrypto zlib) -lglpk -lm -lpthread"
cc -std=c11 -D_GNU_SOURCE -O2 -I"$TOP" -o "$TMP/fcbench" "$TOP/bench/fcbench.c" $LIBS
cc -std=c11 -D_GNU_SOURCE -O2 -I"$TOP" -o "$TMP/fcscale" "$TOP/bench/fcscale.c" $LIBS
cc -std=c11 -D_GNU_SOURCE -O2 -I"$TOP" -o "$TMP/fbbench" "$TOP/bench/fbbench.c" $LIBS
$PY "$TOP/bench/fc_prepare.py" "$DATA" "$TMP/all" 1000
$PY "$TOP/bench/fc_prepare.py" "$DATA" "$TMP/series" "${BENCH_PER_SET:-6}"
ORIGINS=${BENCH_ORIGINS:-5}
COV=${BENCH_COV_ORIGINS:-6}

echo "forecast bench: coverage of the default model on every prepared series, $COV origins each"
echo "  (p90, p95: share at or below; [p2.5,p97.5]: share inside the central 95% interval)"
"$TMP/fcbench" "$COV" auto "$TMP"/all/*.txt

echo "forecast bench: each of our models on the series of the tables, $ORIGINS origins each"
echo "  (auto: as a plan of many series, without the lstm; auto+lstm: as a forecast of at most 8 series)"
"$TMP/fcbench" "$ORIGINS" seasonal-naive,holt-winters,stl-ar,lstm,auto,auto+lstm "$TMP"/series/*.txt

echo "forecast bench: ours and three baselines on the same series and origins, 5-minute steps, daily season"
echo "  (cov: share of actuals at or below the quantile; r/u: sum of the quantile over sum of actuals;"
echo "   [p2.5,97.5]: share inside; MASE over series: MAE of p50 over the one-day naive's in-sample MAE;"
echo "   s/series: CPU seconds of one series' forecasts at every origin; -: the method has no such band)"
# Ours first and alone, so that the baselines' workers do not slow it.
"$TMP/fcbench" -d "$ORIGINS" "$TMP/ours.txt" "$TMP"/series/*.txt
"$TMP/fcbench" -d "$ORIGINS" "$TMP/lstm.txt" -m lstm "$TMP"/series/*.txt
$PY "$TOP/bench/fc_eval.py" "$TMP/series" "$ORIGINS" "$TMP/ours.txt" "$TMP/dumps" lstm="$TMP/lstm.txt"

echo "forecast bench: the feedback loop (plan --store) replayed over 10 daily windows, 4 h and 24 h"
"$TMP/fbbench" 10 48 "$TMP"/series/*.txt
"$TMP/fbbench" 10 288 "$TMP"/series/*.txt

SCALE=${BENCH_SCALE:-1000}
if ls "$TMP"/all/bb-*.txt >/dev/null 2>&1; then SRC="$TMP/all/bb-"; else SRC="$TMP/all/"; fi
echo "forecast bench: scaling, memory against the size of the history"
"$TMP/fcscale" $((SCALE / 4)) 8640 "$SRC"*.txt
"$TMP/fcscale" "$SCALE" 8640 "$SRC"*.txt
echo "forecast bench: wall $(($(date +%s) - T0))s"
