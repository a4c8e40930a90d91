# deploy/systemd: the units pass systemd-analyze verify (with ExecStart
# pointed at the tested binary, since verify checks it exists), plan's
# service stays at an exposure of 5.0 or less in systemd-analyze
# security, and the exit statuses each unit calls success are the
# documented ones.
SD="$TMP/systemd"
mkdir -p "$SD"
if ! command -v systemd-analyze >/dev/null 2>&1; then
	name="systemd: systemd-analyze is installed (.ci/deps)"
	bad "systemd-analyze is missing"
else
	for u in "$TOP"/deploy/systemd/*; do
		sed "s|/usr/local/bin/adpart-update|$BIN|g" "$u" >"$SD/$(basename "$u")"
	done
	name="systemd: every unit passes systemd-analyze verify"
	if (cd "$SD" && systemd-analyze verify --man=no ./*.service ./*.timer) >"$TMP/out" 2>"$TMP/err" &&
		[ ! -s "$TMP/err" ]; then ok; else bad "verify failed"; fi
	name="systemd: a unit that names a missing program fails verify (the check can fail)"
	sed "s|$BIN|$SD/nope|" "$SD/adpart-update-plan.service" >"$SD/broken.service"
	if (cd "$SD" && systemd-analyze verify --man=no ./broken.service) >/dev/null 2>&1; then bad "verify passed"; else ok; fi
	rm -f "$SD/broken.service"
	name="systemd: plan's service is hardened (exposure 5.0 or less)"
	if (cd "$SD" && systemd-analyze security --offline=true --threshold=50 ./adpart-update-plan.service) \
		>"$TMP/out" 2>"$TMP/err"; then ok; else bad "$(tail -n 1 "$TMP/out")"; fi
	: >"$TMP/out"
	name="systemd: exit 2 (plan written) is success for plan, 7 (stopped, resumable) for apply, nothing else"
	if grep -qx "SuccessExitStatus=2" "$SD/adpart-update-plan.service" &&
		grep -qx "SuccessExitStatus=7" "$SD/adpart-update-apply.service" &&
		grep -qx "SuccessExitStatus=7" "$SD/adpart-update-window.service" &&
		grep -qx "Restart=no" "$SD/adpart-update-apply.service" &&
		grep -qx "KillMode=process" "$SD/adpart-update-apply.service"; then ok; else bad "exit status mapping"; fi
	name="systemd: both applies wait for the plan's start rather than being refused before it"
	if grep -q "adpart-update apply --wait " "$SD/adpart-update-apply.service" &&
		grep -q "adpart-update apply --wait " "$SD/adpart-update-window.service"; then ok; else bad "no --wait"; fi
	# The window job's chain, run as systemd would run its ExecStart, with
	# a stand-in adpart-update that exits as told: apply runs only after
	# plan's 2, and the job's status is apply's.
	cat >"$SD/fake" <<'FAKE'
#!/bin/sh
echo "$1" >>"$(dirname "$0")/calls"
[ "$1" = plan ] && exit "$PLAN_RC"
exit "$APPLY_RC"
FAKE
	chmod 755 "$SD/fake"
	cmdline=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$TOP/deploy/systemd/adpart-update-window.service" |
		sed 's/^ExecStart=//; s/\\$//' | tr -d '\n' | sed "s|/usr/local/bin/adpart-update|$SD/fake|g; s/[$][$]/\$/g")
	for c in "2 0 0 plan,apply" "0 9 0 plan" "3 0 3 plan" "2 4 4 plan,apply"; do
		set -- $c
		rm -f "$SD/calls"
		name="systemd: window job with plan exiting $1 and apply $2: status $3, ran $4"
		export PLAN_RC=$1 APPLY_RC=$2
		eval "$cmdline" >/dev/null 2>&1
		got=$?
		if [ "$got" -eq "$3" ] && [ "$(paste -sd, "$SD/calls")" = "$4" ]; then ok; else
			bad "status $got, ran $(paste -sd, "$SD/calls")"; fi
	done
fi
