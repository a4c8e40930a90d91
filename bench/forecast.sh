#!/bin/sh
# Forecasting: ours and statsmodels on the same series and splits
# (rolling origin over NAB, Microsoft and, when present, Bitbrains).
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
cc -std=c11 -D_GNU_SOURCE -O2 -I"$TOP" -o "$TMP/fcbench" "$TOP/bench/fcbench.c" "$BUILD/libadpart.a" $(pkg-config --libs libgit2 libcurl jansson libarchive) -lglpk -lm
$PY "$TOP/bench/fc_prepare.py" "$DATA" "$TMP/series" "${BENCH_PER_SET:-6}"
ORIGINS=${BENCH_ORIGINS:-3}
echo "forecast bench: rolling origin, $ORIGINS origins per series, 5-minute steps, daily season"
"$TMP/fcbench" x "$ORIGINS" "$TMP"/series/*.txt
$PY "$TOP/bench/fc_statsmodels.py" "$TMP/series" "$ORIGINS"
