#!/bin/sh
# Forecasting: ours and statsmodels on the same series and splits
# (rolling origin over NAB, Microsoft and, when present, Bitbrains), the
# coverage of our intervals per dataset, and a scaling run of 1000 series
# of 8640 points.
#   BENCH_PER_SET      series per dataset in the statsmodels comparison (6)
#   BENCH_ORIGINS      origins per series in the comparison (3)
#   BENCH_COV_ORIGINS  origins per series in the coverage table (6)
#   BENCH_SCALE        series in the scaling run (1000)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(dirname "$1")
DATA="$TOP/../shared/datasets"
if [ ! -d "$DATA/nab" ]; then
	echo "forecast bench: ../shared/datasets absent, skipped"
	exit 0
fi
PY=/usr/bin/python3
$PY -c 'import statsmodels' 2>/dev/null || apt-get install -y python3-statsmodels >/dev/null
TMP=$(mktemp -d "${TMPDIR:-/tmp}/adpart-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
LIBS="$BUILD/libadpart.a $(pkg-config --libs libgit2 libcurl jansson libarchive) -lglpk -lm -lpthread"
cc -std=c11 -D_GNU_SOURCE -O2 -I"$TOP" -o "$TMP/fcbench" "$TOP/bench/fcbench.c" $LIBS
cc -std=c11 -D_GNU_SOURCE -O2 -I"$TOP" -o "$TMP/fcscale" "$TOP/bench/fcscale.c" $LIBS
$PY "$TOP/bench/fc_prepare.py" "$DATA" "$TMP/all" 1000
$PY "$TOP/bench/fc_prepare.py" "$DATA" "$TMP/series" "${BENCH_PER_SET:-6}"
ORIGINS=${BENCH_ORIGINS:-3}
COV=${BENCH_COV_ORIGINS:-6}

echo "forecast bench: coverage of the default model on every prepared series, $COV origins each"
echo "  (p90, p95: share at or below; [p2.5,p97.5]: share inside the central 95% interval)"
"$TMP/fcbench" "$COV" auto "$TMP"/all/*.txt

echo "forecast bench: ours and statsmodels on the same series and splits, $ORIGINS origins each, 5-minute steps, daily season"
"$TMP/fcbench" "$ORIGINS" seasonal-naive,holt-winters,stl-ar,auto "$TMP"/series/*.txt | tee "$TMP/ours.txt"
$PY "$TOP/bench/fc_statsmodels.py" "$TMP/series" "$ORIGINS" | tee "$TMP/theirs.txt"
# Speed: the statsmodels Holt-Winters fits against our whole default pipeline
# (three models, their backtests and conformal intervals) on the same splits.
awk '/^adpart/ && $3 == "auto" { for (i = 1; i <= NF; i++) if ($i == "wall") ours[$2] = $(i + 1) + 0 }
     /^statsmodels/ { for (i = 1; i <= NF; i++) if ($i == "wall") theirs[$2] = $(i + 1) + 0 }
     END { for (h in ours) if (h in theirs && ours[h] > 0)
		printf "speed %-4s statsmodels %.1fs / ours (auto) %.2fs = %.0fx\n", h, theirs[h], ours[h], theirs[h] / ours[h] }' \
	"$TMP/ours.txt" "$TMP/theirs.txt"

SCALE=${BENCH_SCALE:-1000}
if ls "$TMP"/all/bb-*.txt >/dev/null 2>&1; then SRC="$TMP/all/bb-"; else SRC="$TMP/all/"; fi
echo "forecast bench: scaling, memory against the size of the history"
"$TMP/fcscale" $((SCALE / 4)) 8640 "$SRC"*.txt
"$TMP/fcscale" "$SCALE" 8640 "$SRC"*.txt
