#!/bin/sh
# make check-torture: every allocation point and every write, fsync and
# rename of a command is made to fail in turn, one per run, and each run
# must either end as if nothing had failed (the same output, byte for
# byte) or fail cleanly: a message, a non-zero exit, no crash or hang,
# and no partial or stray file. Allocation points come from
# failmalloc.so (LD_PRELOAD); writes from ADPART_TEST_FAULT.
# Usage: tests/torture/run.sh BIN FAILMALLOC_SO [CASE...]
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
FM=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
shift 2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TD="$TOP/testdata"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/adpart-torture.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
problems=0

# The commands, one a case: each runs in an empty directory ./w and may
# write only there. Output files are compared with the baseline's.
case_plan() {
	"$BIN" plan -i "$TD/demo/inventory.json" -s "$TD/demo/schedule.json" \
		--now 2018-05-06T00:00:00Z -f w/plan.json
}

# run CASE [ENV=VALUE...]: one run in a fresh ./w; exit status in $rc.
run_case() {
	c=$1
	shift
	rm -rf w && mkdir w
	env "$@" timeout 120 sh -c ". '$TMP/cases.sh'; case_$c" >out 2>err
	rc=$?
}

# where OFFSET: " (function file:line)" of an allocation point, when
# addr2line (binutils) is there to say.
where() {
	command -v addr2line >/dev/null 2>&1 || return 0
	addr2line -f -e "$BIN" "0x$1" 2>/dev/null | sed 's|'"$TOP"'/||' | paste -sd ' ' | sed 's/^/ (/; s/$/)/'
}

problem() {
	problems=$((problems + 1))
	echo "FAIL: $1" >&2
	head -n 5 err | sed 's/^/    /' >&2
}

# judge CASE WHAT: the run just made against the baseline in base/.
judge() {
	if [ "$rc" -ge 124 ]; then
		problem "$1, $2: exit $rc (a signal or a hang)"
	elif [ "$rc" -eq "$base_rc" ]; then
		if cmp -s out base/out && diff -r w base/w >/dev/null 2>&1; then
			absorbed=$((absorbed + 1))
		else
			problem "$1, $2: exit $rc as without the fault, but another output: a failure was ignored"
		fi
	elif ! grep -q '^adpart-update: ' err; then
		problem "$1, $2: exit $rc without a message"
	else
		for f in w/* w/.[!.]*; do
			[ -e "$f" ] || continue
			if ! cmp -s "$f" "base/$f"; then
				problem "$1, $2: exit $rc left '$f' (partial or stray)"
				break
			fi
		done
		clean=$((clean + 1))
	fi
}

{
	echo "BIN='$BIN'; TD='$TD'"
	sed -n '/^case_[a-z]*() {/,/^}/p' "$0"
} >"$TMP/cases.sh"
cd "$TMP" || exit 1
for c in ${*:-plan}; do
	run_case "$c"
	base_rc=$rc
	rm -rf base && mkdir base && mv w base/w && cp out base/out
	run_case "$c" ADPART_TORTURE_LOG="$TMP/points" LD_PRELOAD="$FM"
	if [ "$rc" -ne "$base_rc" ]; then
		problem "$c: exit $rc with the allocation recorder, $base_rc without"
		continue
	fi
	absorbed=0
	clean=0
	npoints=0
	for p in $(cat points); do
		npoints=$((npoints + 1))
		run_case "$c" ADPART_TORTURE_FAIL="$p" LD_PRELOAD="$FM"
		judge "$c" "allocation point 0x$p$(where "$p")"
	done
	rm -f points
	nwrites=0
	for point in write fsync rename; do
		n=1
		while :; do
			run_case "$c" ADPART_TEST_FAULT="$point:$n:1"
			# Past the last call the run is the baseline again.
			if [ "$rc" -eq "$base_rc" ] && cmp -s out base/out; then
				break
			fi
			nwrites=$((nwrites + 1))
			judge "$c" "$point $n"
			n=$((n + 1))
		done
	done
	echo "torture $c: $npoints allocation points, $nwrites write/fsync/rename calls: $clean failed cleanly, $absorbed absorbed with the same output"
done
echo "torture: $problems problems"
[ "$problems" -eq 0 ]
