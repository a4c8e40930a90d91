#!/bin/sh
# Black-box tests: run the built binary on testdata/ and check exit code,
# stdout and stderr. Every tests/cli/t-*.sh file is a group of cases.
# Usage: tests/cli/run.sh path/to/adpart-update
# ADP_CLI_ONLY="tests/cli/t-x.sh ..." runs only those groups (absolute paths).
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TD="$TOP/testdata"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/adpart-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export NO_COLOR=1
# This run's applies share a host lock of their own, so that another
# checkout's tests on the same machine do not hold them up; t-apply.sh
# tests the lock itself.
ADPART_HOST_LOCK="$TMP/host.lock"
export ADPART_HOST_LOCK
# No test reads this machine's config files or a setting of the caller's
# environment: t-config.sh writes its own.
ADPART_SYSCONFDIR="$TMP/sysconf"
XDG_CONFIG_HOME="$TMP/xdg"
export ADPART_SYSCONFDIR XDG_CONFIG_HOME
unset ADPART_CONFIG ADPART_STORE ADPART_DRIVER ADPART_STATE_DIR ADPART_HOOK ADPART_SEMAPHORE
pass=0
fail=0
name=""

# run NAME EXPECTED_RC ARGS...: runs the binary, keeps $TMP/out and $TMP/err.
run() {
	name=$1
	want=$2
	shift 2
	"$BIN" "$@" >"$TMP/out" 2>"$TMP/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		bad "exit status $got, expected $want"
		return 1
	fi
	ok
}

ok() { pass=$((pass + 1)); }

bad() {
	fail=$((fail + 1))
	echo "FAIL: $name: $1" >&2
	echo "--- stdout" >&2
	head -n 20 "$TMP/out" >&2
	echo "--- stderr" >&2
	head -n 20 "$TMP/err" >&2
}

# expect_err PATTERN / expect_out PATTERN: grep -E on the last run's output.
expect_err() { if grep -Eq -- "$1" "$TMP/err"; then ok; else bad "stderr lacks /$1/"; fi; }
expect_out() { if grep -Eq -- "$1" "$TMP/out"; then ok; else bad "stdout lacks /$1/"; fi; }
expect_no_err() { if [ -s "$TMP/err" ]; then bad "unexpected stderr"; else ok; fi; }
expect_file() { if [ -s "$1" ]; then ok; else bad "file $1 missing or empty"; fi; }
expect_no_file() { if [ -e "$1" ]; then bad "file $1 should not exist"; else ok; fi; }

cd "$TMP" || exit 1
for t in ${ADP_CLI_ONLY:-"$TOP"/tests/cli/t-*.sh}; do
	[ -e "$t" ] || continue # no tests yet: the glob stays unexpanded
	# A check that calls a helper which does not exist ends its chain of
	# && quietly, counted neither way: the shell's "not found" on the
	# group's stderr is a failure of its own.
	. "$t" 2>"$TMP/group.err"
	cat "$TMP/group.err" >&2
	if grep -Eq '^[^ ]+: [0-9]+: .*: not found$' "$TMP/group.err"; then
		fail=$((fail + 1))
		echo "FAIL: $(basename "$t") calls a command that does not exist:" >&2
		grep -E '^[^ ]+: [0-9]+: .*: not found$' "$TMP/group.err" >&2
	fi
done
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
