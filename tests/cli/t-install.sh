# make install and make uninstall honour PREFIX and DESTDIR, and
# uninstall leaves nothing of what install put there. BUILD is the
# tested binary's directory, so that nothing is built again.
INST="$TMP/inst"
name="make install puts the binary and both man pages under DESTDIR/PREFIX"
if make -s -C "$TOP" install BUILD="$(dirname "$BIN")" DESTDIR="$INST" PREFIX=/opt/adp >/dev/null 2>&1 &&
	[ -x "$INST/opt/adp/bin/adpart-update" ] && [ -f "$INST/opt/adp/share/man/man1/adpart-update.1" ] &&
	[ -f "$INST/opt/adp/share/man/man5/adpart-update.5" ]; then ok; else bad "not installed as expected"; fi
name="make install puts the completion scripts where bash and fish look"
if grep -q "complete -o filenames -F _adpart_update adpart-update" "$INST/opt/adp/share/bash-completion/completions/adpart-update" &&
	grep -q "__fish_use_subcommand" "$INST/opt/adp/share/fish/vendor_completions.d/adpart-update.fish"; then ok; else
	bad "completion scripts missing"; fi
name="make uninstall removes them"
if make -s -C "$TOP" uninstall DESTDIR="$INST" PREFIX=/opt/adp >/dev/null 2>&1 &&
	[ -z "$(find "$INST" -type f)" ]; then ok; else bad "left: $(find "$INST" -type f | tr '\n' ' ')"; fi
