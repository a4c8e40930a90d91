#!/bin/sh
# Every option a command's --help lists must appear in the man page, so
# the documentation cannot fall behind the CLI.
set -u
BIN=$1
TOP=$(cd "$(dirname "$0")/../.." && pwd)
MAN="$TOP/man/adpart-update.1"
fail=0
cmds=$("$BIN" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF && !/Commands:/ {print $1}')
[ -n "$cmds" ] || { echo "man-options: no commands found in --help" >&2; exit 1; }
for c in "" $cmds; do
	for opt in $("$BIN" $c --help | grep -Eo -- '--[a-z][a-z0-9-]*' | sort -u); do
		case $opt in --help|--usage|--version) continue ;; esac
		# man source escapes hyphens as \-
		esc=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
		if ! grep -q -- "$esc" "$MAN"; then
			echo "man-options: '${c:-adpart-update}' option $opt is not in man/adpart-update.1" >&2
			fail=1
		fi
	done
	if [ -n "$c" ] && ! grep -q "^\.SS $c\$" "$MAN" && ! grep -q "^\.SS \"$c" "$MAN" && ! grep -q "^\.SS $c " "$MAN"; then
		echo "man-options: command '$c' has no .SS section in man/adpart-update.1" >&2
		fail=1
	fi
done
[ "$fail" -eq 0 ] && echo "man-options: every option is documented"
exit $fail
