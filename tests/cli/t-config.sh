# The config files, the environment and the flags, in that order of
# precedence, seen through `config` and through the commands that use
# them; the files' errors, each naming its file and line.

CF="$TMP/cf"
mkdir -p "$CF/etc/adpart-update" "$CF/xdg/adpart-update" "$CF/home"
SYSF="$CF/etc/adpart-update/config"
USRF="$CF/xdg/adpart-update/config"
ADPART_SYSCONFDIR="$CF/etc" XDG_CONFIG_HOME="$CF/xdg"
export ADPART_SYSCONFDIR XDG_CONFIG_HOME
CDEMO="-i $TD/demo/inventory.json -s $TD/demo/schedule.json --now 2018-05-06T00:00:00Z"
# cf_origin KEY PATTERN: the last `config` run shows KEY's value and origin as PATTERN.
cf_origin() { expect_out "^$1 = $2\$"; }
# cf_env NAME STATUS VAR=VALUE ARGS...: run with one more variable (VAR= sets it empty).
cf_env() {
	cf_n=$1 cf_s=$2 cf_v=$3
	shift 3
	( export "$cf_v"; "$BIN" "$@" ) >"$TMP/out" 2>"$TMP/err"
	cf_got=$?
	name=$cf_n
	if [ "$cf_got" -ne "$cf_s" ]; then bad "exit status $cf_got, expected $cf_s"; return 1; fi
	ok
}
expect_no_out() { if [ -s "$TMP/out" ]; then bad "unexpected stdout"; else ok; fi; }

# --- precedence: default < system file < user file < environment < flag ----
run "config: no file, the defaults" 0 config && cf_origin store " +; default" && cf_origin driver "local +; default" &&
	expect_out "^; $SYSF: absent\$" && expect_out "^; $USRF: absent\$" &&
	cf_origin state-dir "/var/lib/adpart-update +; default"
run "config: the default store is none" 64 history && expect_err "--store or ADPART_STORE is required"
printf '# the system file\n[defaults]\nstore = sys-st\ndriver = exec\n\n[apply]\nstate-dir = sys-state\n' >"$SYSF"
run "config: the system file" 0 config && cf_origin store "sys-st +; $SYSF:3" && cf_origin driver "exec +; $SYSF:4" &&
	cf_origin state-dir "sys-state +; $SYSF:7" && expect_out "^; $SYSF: read\$"
run "config: history reads the system file's store" 1 history && expect_err "plan store 'sys-st' does not exist"
printf '; the user file\n[defaults]\n  store = user-st   ; indented, with a comment\n' >"$USRF"
run "config: the user file over the system file" 0 config && cf_origin store "user-st +; $USRF:3" &&
	cf_origin driver "exec +; $SYSF:4"
run "config: history reads the user file's store" 1 history && expect_err "plan store 'user-st' does not exist"
cf_env "config: the environment over the files" 0 ADPART_STORE=env-st config &&
	cf_origin store "env-st +; environment ADPART_STORE"
cf_env "config: history reads ADPART_STORE over the files" 1 ADPART_STORE=env-st history &&
	expect_err "plan store 'env-st' does not exist"
cf_env "config: a flag over the environment" 0 ADPART_STORE=env-st config --store flag-st &&
	cf_origin store "flag-st +; flag --store"
cf_env "config: history --store over the environment" 1 ADPART_STORE=env-st history --store flag-st &&
	expect_err "plan store 'flag-st' does not exist"
cf_env "config: an empty variable stands for the default" 64 ADPART_STORE= history &&
	expect_err "--store or ADPART_STORE is required"
run "config: -o json" 0 config -o json
name="config: -o json names the origin, file and line"
if jq -e '.settings[] | select(.key == "store") | .value == "user-st" and .origin == "file" and .line == 3' \
	"$TMP/out" >/dev/null && jq -e '.settings[] | select(.key == "hook") | .value == null and .origin == "default"' \
	"$TMP/out" >/dev/null && jq -e '[.files[].read] == [true, true]' "$TMP/out" >/dev/null; then ok
else bad "unexpected JSON"; fi

# A real store from the user file: plan records in it, history lists it.
printf '[defaults]\nstore = %s\n' "$CF/real-st" >"$USRF"
printf '[defaults]\ndriver = local\n' >"$SYSF"
run "config: plan records in the config file's store" 2 plan $CDEMO -f "$CF/p1.json" && expect_err "serial 1\)" &&
	expect_file "$CF/real-st/HEAD"
run "config: history lists the config file's store" 0 history && expect_out "plan kernel-2018-05 serial 1 "

# apply: the driver, its hook, the store and the state directory from the files.
printf '[defaults]\ndriver = exec\nstore = %s\n' "$CF/real-st" >"$USRF"
run "config: apply takes the file's driver (exec wants a hook)" 64 apply --now 2018-05-06T00:00:00Z --dry-run "$CF/p1.json" &&
	expect_err "--driver exec needs --hook PATH"
printf '#!/bin/sh\ncat >/dev/null\n' >"$CF/hook" && chmod 755 "$CF/hook"
printf '[apply]\nhook = %s\nstate-dir = %s\n' "$CF/hook" "$CF/state" >>"$USRF"
run "config: the file's hook" 0 apply --now 2018-05-06T00:00:00Z --dry-run "$CF/p1.json" && expect_out "steps would run"
run "config: --driver over the file's (a hook is for exec)" 0 apply --now 2018-05-06T00:00:00Z --driver local --dry-run "$CF/p1.json"
# A plan of no store, refused by the file's store, names the file's state directory.
run "config: a plan from elsewhere" 2 plan $CDEMO -f "$CF/p2.json" --store "$CF/other-st"
run "config: apply refuses it in the file's store" 6 apply -o json "$CF/p2.json"
name="config: apply's state directory from the file"
if jq -e --arg d "$CF/state" '.state_dir == $d and .outcome == "refused"' "$TMP/out" >/dev/null; then ok
else bad "state_dir is not the file's"; fi
cf_env "config: ADPART_STATE_DIR over the file" 6 ADPART_STATE_DIR="$CF/state2" apply -o json "$CF/p2.json"
name="config: apply's state directory from the environment"
if jq -e --arg d "$CF/state2" '.state_dir == $d' "$TMP/out" >/dev/null; then ok; else bad "state_dir is not ADPART_STATE_DIR"; fi
cf_env "config: -d over the environment" 6 ADPART_STATE_DIR="$CF/state2" apply -d "$CF/state3" -o json "$CF/p2.json"
name="config: apply's state directory from -d"
if jq -e --arg d "$CF/state3" '.state_dir == $d' "$TMP/out" >/dev/null; then ok; else bad "state_dir is not -d's"; fi

# --- which files: ADPART_CONFIG, --config, XDG_CONFIG_HOME, HOME ------------
printf '[defaults]\nstore = one-st\n' >"$CF/one"
printf '[defaults]\nstore = two-st\n' >"$CF/two"
cf_env "config: ADPART_CONFIG names the one file" 0 ADPART_CONFIG="$CF/one" config &&
	cf_origin store "one-st +; $CF/one:2" && cf_origin driver "local +; default"
if grep -q "$SYSF\|$USRF" "$TMP/out"; then name="config: ADPART_CONFIG alone"; bad "a default file was read"; else ok; fi
cf_env "config: --config over ADPART_CONFIG" 0 ADPART_CONFIG="$CF/one" --config "$CF/two" config &&
	cf_origin store "two-st +; $CF/two:2"
run "config: history with --config's store" 1 --config "$CF/two" history && expect_err "plan store 'two-st' does not exist"
run "config: a missing --config file" 1 --config "$CF/nope" config && expect_err "^adpart-update: config file: cannot open '$CF/nope'"
cf_env "config: a missing ADPART_CONFIG file" 1 ADPART_CONFIG="$CF/nope" history && expect_err "cannot open '$CF/nope'"
mkdir -p "$CF/home/.config/adpart-update"
printf '[defaults]\nstore = home-st\n' >"$CF/home/.config/adpart-update/config"
HOME_SAVED=$HOME HOME="$CF/home"
unset XDG_CONFIG_HOME
run "config: without XDG_CONFIG_HOME, ~/.config" 0 config &&
	cf_origin store "home-st +; $CF/home/.config/adpart-update/config:2"
cf_env "config: a relative XDG_CONFIG_HOME is ignored" 0 XDG_CONFIG_HOME=xdg config &&
	cf_origin store "home-st +; $CF/home/.config/adpart-update/config:2"
HOME=$HOME_SAVED XDG_CONFIG_HOME="$CF/xdg"
export XDG_CONFIG_HOME

# --- errors: file and line, exit 1, nothing run -----------------------------
: >"$SYSF"
cf_bad() { # NAME CONTENT PATTERN
	printf "$2" >"$USRF"
	run "config: $1" 1 history --store st && expect_err "^adpart-update: $USRF:$3" && expect_no_out
}
cf_bad "an unknown key" '[defaults]\nstore = a\nstor = b\n' "3: unknown key 'stor' in \[defaults\]\$"
cf_bad "an unknown section" '[defaults]\n[aply]\nhook = x\n' "2: unknown section '\[aply\]': expected \[defaults\], \[apply\] or \[prometheus\]\$"
cf_bad "a key in the wrong section" '[apply]\nstore = a\n' "2: 'store' belongs in \[defaults\], not \[apply\]\$"
cf_bad "a key outside a section" 'store = a\n' "1: 'store' is outside a section"
cf_bad "a line that is no setting" '[defaults]\nstore a\n' "2: expected \[SECTION\], KEY = VALUE or a comment"
cf_bad "a section left open" '\n[defaults\n' "2: expected \[SECTION\]"
cf_bad "a bad driver" '[defaults]\n\ndriver = kube\n' "3: driver: unknown driver 'kube': expected local, kubernetes or exec\$"
cf_bad "a key set twice" '[defaults]\nstore = a\nstore = b\n' "3: 'store' is set twice \(first on line 2\)\$"
cf_bad "a line too long" "[defaults]\nstore = $(printf '%0300d' 0)\n" "2: line longer than [0-9]+ characters\$"
cf_bad "a bad semaphore" '[apply]\nsemaphore = http://ops:s3cret@etcd:2379\n' "2: semaphore: etcd endpoint"
name="config: a secret in a bad URL is not shown"
if grep -q s3cret "$TMP/err"; then bad "the password was printed"; else ok; fi
printf '[defaults]\nstore = a\0b\n' >"$USRF"
run "config: a NUL byte" 1 history && expect_err "^adpart-update: $USRF: a NUL byte"
{ printf '[defaults]\n'; i=0; while [ $i -lt 1200 ]; do printf '; %060d\n' $i; i=$((i + 1)); done; } >"$USRF"
run "config: a file above 64 KiB" 1 history && expect_err "config file: '$USRF' exceeds the limit of 65536 bytes"
rm -f "$USRF" && mkdir "$USRF"
run "config: an unreadable file (a directory)" 1 config && expect_err "config file: '$USRF' is a directory"
rmdir "$USRF"
printf '[defaults]\nstore = x\n[defaults]\ndriver = nope\n' >"$SYSF"
run "config: the system file's error" 1 config && expect_err "^adpart-update: $SYSF:4: driver: unknown driver 'nope'"
: >"$SYSF"
cf_env "config: a bad variable is a usage error" 64 ADPART_DRIVER=nope config &&
	expect_err "^adpart-update: ADPART_DRIVER: unknown driver 'nope'"
run "config: a bad flag of config" 64 config --driver nope && expect_err "--driver: unknown driver 'nope'"
run "config: no arguments" 64 config extra && expect_err "unexpected argument 'extra'"

# -v names the files read and the absent ones.
printf '[defaults]\nstore = v-st\n' >"$USRF"
run "config: -v names the files" 0 -v config && expect_err "^adpart-update: config file '$SYSF': read\$" &&
	expect_err "^adpart-update: config file '$USRF': read\$"
rm -f "$SYSF"
run "config: -v names an absent file" 0 -v config && expect_err "^adpart-update: config file '$SYSF': absent\$"
run "config: without -v nothing on stderr" 0 config && expect_no_err
rm -f "$USRF"

# --- -q: only the result and errors; -v: more detail -----------------------
run "quiet: plan as usual" 2 plan $CDEMO -f "$CF/q.json" --store "$CF/q-st" && expect_out "^next: adpart-update apply" &&
	expect_err "plan recorded in store"
run "quiet: -q plan" 2 -q plan $CDEMO -f "$CF/q.json" --store "$CF/q-st" && expect_no_err &&
	expect_out "^Plan written to $CF/q.json"
if grep -q "^next:" "$TMP/out"; then name="quiet: no next: hint"; bad "-q printed the hint"; else ok; fi
run "quiet: --quiet, the long form" 2 --quiet plan $CDEMO --no-write && expect_no_err
run "quiet: forecast says where it starts" 0 forecast -i "$TD/demo/inventory.json" --horizon 1h &&
	expect_err "^adpart-update: forecasting from .* \(pass --now to choose\)\$"
run "quiet: -q forecast keeps it to itself" 0 -q forecast -i "$TD/demo/inventory.json" --horizon 1h && expect_no_err
run "quiet: -q never silences an error" 1 -q history --store "$CF/nosuch" &&
	expect_err "^adpart-update: plan store '$CF/nosuch' does not exist"
printf '[defaults]\nstor = x\n' >"$USRF"
run "quiet: -q never silences a config file's error" 1 -q config && expect_err "$USRF:2: unknown key 'stor'"
rm -f "$USRF"

# [prometheus]: the server, its token and CA for plan (where it has
# queries: its own, or the kubernetes driver's) and for apply's kubernetes
# monitoring; its credentials never shown.
printf '[prometheus]\nurl = http://user:s3cret@127.0.0.1:1/prom\ntoken-file = %s\n' "$CF/none/token" >"$USRF"
run "config: [prometheus] from the user file, its URL without credentials" 0 config &&
	cf_origin url "http://127.0.0.1:1/prom +; $USRF:2" && cf_origin token-file "$CF/none/token +; $USRF:3" &&
	cf_origin ca-file " +; default"
if grep -q s3cret "$TMP/out"; then name="config: the Prometheus password is not shown"; bad "printed"; else ok; fi
run "config: plan with its own query reads the settings' Prometheus" 1 plan $CDEMO --no-write --prom-query cpu=up &&
	expect_err "prometheus bearer token file: cannot open '$CF/none/token'"
run "config: plan without a query leaves it" 2 plan $CDEMO --no-write
cf_env "config: ADPART_PROMETHEUS over the file" 0 ADPART_PROMETHEUS=http://127.0.0.1:2/ config &&
	cf_origin url "http://127.0.0.1:2/ +; environment ADPART_PROMETHEUS"
run "config: --prometheus over the file" 0 config --prometheus http://127.0.0.1:3/ &&
	cf_origin url "http://127.0.0.1:3/ +; flag --prometheus"
printf '[prometheus]\nurl = ftp://x\n' >"$USRF"
run "config: a Prometheus URL that is not http(s)" 1 config &&
	expect_err "$USRF:2: url: a Prometheus URL starts with http:// or https://"
rm -f "$USRF"
run "quiet: -q apply keeps the refusal" 6 -q apply --store "$CF/q-st" "$CF/p2.json" && expect_err "refused"
run "verbose: plan's phase timings" 2 -v plan $CDEMO --no-write &&
	expect_err "^adpart-update: reading history: [0-9]+\.[0-9]{2} s\$" &&
	expect_err "^adpart-update: forecasting: [0-9]+\.[0-9]{2} s\$" && expect_err "^adpart-update: planning: [0-9.]+ s\$" &&
	expect_err "^adpart-update: config file '$USRF': absent\$"
run "verbose: forecast's phase timings" 0 --verbose forecast -i "$TD/demo/inventory.json" --horizon 1h &&
	expect_err "^adpart-update: reading history: [0-9.]+ s\$" && expect_err "^adpart-update: forecasting: [0-9.]+ s\$"
run "verbose: -v after the command" 2 plan $CDEMO --no-write -v &&
	expect_err "^adpart-update: forecasting: [0-9]+\.[0-9]{2} s\$" &&
	expect_err "^adpart-update: config file '$USRF': absent\$"
run "quiet: -q after the command" 2 plan $CDEMO --no-write --quiet && expect_no_err
run "quiet: plan --help lists -q and -v" 0 plan --help &&
	expect_out "^ Global options, also given before the command:" && expect_out "^  -q, --quiet " &&
	expect_out "^  -v, --verbose "
run "verbose: without -v, no timings" 2 plan $CDEMO --no-write
if grep -q " s\$" "$TMP/err"; then name="verbose: no timings by default"; bad "timings without -v"; else ok; fi

# apply -v: each step as it starts and ends, through the exec driver.
. "$TOP/tests/cli/lib.sh"
cli_web_inventory "$CF/inv.json"
cat >"$CF/sched.json" <<JSON
{"name": "v", "window": {"start": "2018-05-06T01:00:00Z", "end": "2018-05-06T05:00:00Z"}, "cutoff": "30m",
 "partitions": ["node-a"], "max_concurrency": 1, "update_duration": {"default": "20m"}, "step": "5m",
 "plan_ttl": "24h", "period": "1d"}
JSON
cat >"$CF/vhook" <<'HOOK'
#!/usr/bin/python3
import json, sys
doc = json.load(sys.stdin)
if sys.argv[1] == 'sample':
    p = doc['placement']['p50_peak']
    print(json.dumps({'cpu': p['cpu'], 'memory': p['memory']}))
HOOK
chmod 755 "$CF/vhook"
run "verbose: an exec plan" 2 plan --driver exec -i "$CF/inv.json" -s "$CF/sched.json" --now 2018-05-06T00:00:00Z \
	-f "$CF/v.json"
VSTEPS=$(jq '.steps | length' "$CF/v.json")
run "verbose: apply -v says each step" 0 -v apply --driver exec --hook "$CF/vhook" --now "$(cli_plan_start "$CF/v.json")" \
	-d "$CF/vst" "$CF/v.json" && expect_out "^applied: $VSTEPS steps done" &&
	expect_err "^adpart-update: step 1 of $VSTEPS \(wave 1\): [a-z_]+ " &&
	expect_err "^adpart-update: step $VSTEPS of $VSTEPS: done in [0-9.]+ s\$"
name="verbose: a start and an end line per step"
if [ "$(grep -c "^adpart-update: step [0-9]* of $VSTEPS" "$TMP/err")" -eq $((2 * VSTEPS)) ]; then ok
else bad "expected $((2 * VSTEPS)) step lines"; fi
# On a terminal without -v: one status line, rewritten as each step
# starts (wave, step, how long the waves have left), cleared before the
# result; -q shows none.
name="apply on a terminal: a status line per step, cleared before the result"
script -qec "'$BIN' apply --driver exec --hook '$CF/vhook' --now '$(cli_plan_start "$CF/v.json")' -d '$CF/tst' '$CF/v.json'" \
	"$TMP/tty" >/dev/null 2>&1
if grep -q "step 1 of $VSTEPS (wave 1 of [0-9]*): [a-z_]* .*; the waves end in [0-9hms]*" "$TMP/tty" &&
	grep -q "step $VSTEPS of $VSTEPS (wave " "$TMP/tty" &&
	grep -q "$(printf '\r\033')\[K$(printf '\r')*applied: $VSTEPS steps done" "$TMP/tty"; then ok
else bad "no status line: $(tr '\r' '\n' <"$TMP/tty" | head -5)"; fi
name="apply -q on a terminal: no status line"
script -qec "'$BIN' -q apply --driver exec --hook '$CF/vhook' --now '$(cli_plan_start "$CF/v.json")' -d '$CF/qst' '$CF/v.json'" \
	"$TMP/tty" >/dev/null 2>&1
if grep -q "applied: $VSTEPS steps done" "$TMP/tty" && ! grep -q "step 1 of" "$TMP/tty"; then ok
else bad "$(tr '\r' '\n' <"$TMP/tty" | head -5)"; fi
run "verbose: apply -v --rollback says each undo" 4 -v apply --driver exec --hook "$CF/vhook" --rollback \
	-d "$CF/vst" "$CF/v.json" && expect_err "^adpart-update: undo of step [0-9]+ of $VSTEPS: done in [0-9.]+ s\$"

ADPART_SYSCONFDIR="$TMP/sysconf" XDG_CONFIG_HOME="$TMP/xdg"
