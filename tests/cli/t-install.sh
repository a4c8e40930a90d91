# make install and make uninstall honour PREFIX and DESTDIR, and
# uninstall leaves nothing of what install put there. BUILD is the
# tested binary's directory, so that nothing is built again.
INST="$TMP/inst"
name="make install puts the binary and both man pages under DESTDIR/PREFIX"
if make -s -C "$TOP" install BUILD="$(dirname "$BIN")" DESTDIR="$INST" PREFIX=/opt/adp >/dev/null 2>&1 &&
	[ -x "$INST/opt/adp/bin/adpart-update" ] && [ -f "$INST/opt/adp/share/man/man1/adpart-update.1" ] &&
	[ -f "$INST/opt/adp/share/man/man5/adpart-update.5" ]; then ok; else bad "not installed as expected"; fi
name="make uninstall removes them"
if make -s -C "$TOP" uninstall DESTDIR="$INST" PREFIX=/opt/adp >/dev/null 2>&1 &&
	[ -z "$(find "$INST" -type f)" ]; then ok; else bad "left: $(find "$INST" -type f | tr '\n' ' ')"; fi
