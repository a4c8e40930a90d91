#!/bin/sh
# The stages of the data's way, in order. A source file may include
# headers of its own stage or of an earlier one, never of a later one:
# util, history, forecast, plans, partition, orchestrator, cmd. Within
# orchestrator/, a driver folder (local/, kube/, exec/) may include the
# engine and driver interface in orchestrator/ but not another driver.
# Usage: stages.sh [TREE] (default: this checkout).
set -u
TOP=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$TOP" || exit 1
stages="util history forecast plans partition orchestrator cmd"
rank() {
	n=0
	for s in $stages; do
		n=$((n + 1))
		[ "$s" = "$1" ] && { echo $n; return; }
	done
	echo 0
}
fail=0
checked=0
dirs=$(for s in $stages; do [ -d "$s" ] && echo "$s"; done)
for f in $(find $dirs -name '*.[ch]' | sort); do
	own=${f%%/*}
	orank=$(rank "$own")
	sub=$(echo "$f" | awk -F/ 'NF > 2 { print $2 }')
	for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
		checked=$((checked + 1))
		top=${inc%%/*}
		irank=$(rank "$top")
		if [ "$irank" -eq 0 ]; then
			echo "stages: $f includes \"$inc\", which is in no stage" >&2
			fail=1
		elif [ "$irank" -gt "$orank" ]; then
			echo "stages: $f ($own) includes \"$inc\" ($top), a later stage" >&2
			fail=1
		elif [ "$top" = orchestrator ] && [ "$own" = orchestrator ] && [ -n "$sub" ]; then
			isub=$(echo "$inc" | awk -F/ 'NF > 2 { print $2 }')
			if [ -n "$isub" ] && [ "$isub" != "$sub" ]; then
				echo "stages: $f (driver $sub) includes \"$inc\" of driver $isub" >&2
				fail=1
			fi
		fi
	done
done
[ "$fail" -eq 0 ] && echo "stages: $checked includes, none runs back up a stage"
exit $fail
