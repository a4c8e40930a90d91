# Shell completion: the scripts load in bash, zsh and fish and complete
# commands, options, the values of --driver and --output, and files.

run "completion: a shell is required" 64 completion
expect_err "name a shell: bash, zsh or fish"
run "completion: an unknown shell is refused" 64 completion tcsh
expect_err "no completion for 'tcsh': expected bash, zsh or fish"
run "completion bash" 0 completion bash
cp "$TMP/out" "$TMP/completion.bash"

# comp_bash WORD...: the completions bash offers for the last word after
# the others, one per line, in $TMP/out.
comp_bash() {
	/bin/bash -c '
source "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
_adpart_update
printf "%s\n" "${COMPREPLY[@]}"' bash "$TMP/completion.bash" adpart-update "$@" >"$TMP/out" 2>"$TMP/err"
}

name="completion bash: registered for adpart-update"
if /bin/bash -c 'source "$1" && complete -p adpart-update' bash "$TMP/completion.bash" 2>/dev/null |
	grep -q -- '-F _adpart_update'; then ok; else bad "not registered"; fi
comp_bash ""
name="completion bash: every command of --help"
for c in $("$BIN" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF && !/Commands:/ {print $1}'); do
	if grep -qx "$c" "$TMP/out"; then ok; else bad "command $c not offered"; fi
done
comp_bash ap
name="completion bash: 'ap' completes to apply alone"
if [ "$(cat "$TMP/out")" = apply ]; then ok; else bad "got: $(tr '\n' ' ' <"$TMP/out")"; fi
comp_bash apply --dr
name="completion bash: apply --dr offers --driver, --dry-run and the kubernetes --drain-timeout"
if [ "$(sort "$TMP/out" | tr '\n' ' ')" = "--drain-timeout --driver --dry-run " ]; then ok; else
	bad "got: $(tr '\n' ' ' <"$TMP/out")"; fi
comp_bash apply --kube
name="completion bash: apply's kubernetes options (an argp child) are offered"
if grep -qx -- --kubeconfig "$TMP/out"; then ok; else bad "got: $(tr '\n' ' ' <"$TMP/out")"; fi
comp_bash plan --driver ""
name="completion bash: --driver offers the driver registry's names"
if [ "$(sort "$TMP/out" | tr '\n' ' ')" = "exec kubernetes local " ]; then ok; else
	bad "got: $(tr '\n' ' ' <"$TMP/out")"; fi
comp_bash forecast -o ""
name="completion bash: forecast -o offers its formats"
if [ "$(sort "$TMP/out" | tr '\n' ' ')" = "csv human json " ]; then ok; else bad "got: $(tr '\n' ' ' <"$TMP/out")"; fi
mkdir -p comp && : >comp/inventory.json && : >comp/other.txt
comp_bash plan -i comp/inv
name="completion bash: plan -i completes a file name"
if [ "$(cat "$TMP/out")" = comp/inventory.json ]; then ok; else bad "got: $(tr '\n' ' ' <"$TMP/out")"; fi
comp_bash profile --output-file comp/o
name="completion bash: profile's --output-file is a file"
if [ "$(cat "$TMP/out")" = comp/other.txt ]; then ok; else bad "got: $(tr '\n' ' ' <"$TMP/out")"; fi
# The global options: offered before the command; --config's value is a
# file, and no command.
comp_bash --q
name="completion bash: --q offers --quiet"
if [ "$(cat "$TMP/out")" = --quiet ]; then ok; else bad "got: $(tr '\n' ' ' <"$TMP/out")"; fi
comp_bash --config comp/inv
name="completion bash: --config completes a file name"
if [ "$(cat "$TMP/out")" = comp/inventory.json ]; then ok; else bad "got: $(tr '\n' ' ' <"$TMP/out")"; fi
comp_bash -q --config comp/inventory.json pl
name="completion bash: after --config FILE, the command"
if [ "$(cat "$TMP/out")" = plan ]; then ok; else bad "got: $(tr '\n' ' ' <"$TMP/out")"; fi
comp_bash --config comp/inventory.json plan --no-w
name="completion bash: after --config FILE COMMAND, its options"
if [ "$(cat "$TMP/out")" = --no-write ]; then ok; else bad "got: $(tr '\n' ' ' <"$TMP/out")"; fi

# zsh loads the script through its bash completion layer; fish checks
# and loads its own. Both come with .ci/deps.
for sh in zsh fish; do
	name="completion $sh: the shell is installed (.ci/deps)"
	if command -v "$sh" >/dev/null 2>&1; then ok; else bad "$sh is missing"; continue; fi
	run "completion $sh" 0 completion "$sh"
	cp "$TMP/out" "$TMP/completion.$sh"
done
name="completion zsh: loads and registers a completer for adpart-update"
if command -v zsh >/dev/null 2>&1 &&
	HOME="$TMP" zsh -f -c 'source "$1" && print -r -- ${_comps[adpart-update]}' zsh "$TMP/completion.zsh" \
		>"$TMP/out" 2>"$TMP/err" && grep -q . "$TMP/out" && [ ! -s "$TMP/err" ]; then ok; else
	bad "zsh did not load it"; fi
name="completion fish: offers commands, then an option's values"
if command -v fish >/dev/null 2>&1 &&
	HOME="$TMP" XDG_CONFIG_HOME="$TMP/xdg" fish --no-config -c 'source $argv[1]; complete -C "adpart-update ap"; complete -C "adpart-update plan --driver "' \
		"$TMP/completion.fish" >"$TMP/out" 2>"$TMP/err" &&
	grep -q '^apply' "$TMP/out" && grep -q '^kubernetes' "$TMP/out" && [ ! -s "$TMP/err" ]; then ok; else
	bad "fish did not complete"; fi
