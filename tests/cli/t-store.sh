# plan --store: records plans in a git plan store.
DEMO="-i $TD/demo/inventory.json -s $TD/demo/schedule.json --now 2018-05-06T00:00:00Z"
run "plan --store creates the store" 2 plan $DEMO -f p1.json --store st && expect_err "serial 1\)"
expect_file st/HEAD
run "second plan increments the serial" 2 plan $DEMO -f p2.json --store st && expect_err "serial 2\)"
if git -C st log --format=%s | head -n 1 | grep -Eq '^plan kernel-2018-05 serial 2 window .* digest [0-9a-f]{64}$'; then ok; else name="commit message"; bad "bad commit message"; fi
if git -C st show HEAD:kernel-2018-05/plans/2.json | cmp -s - p2.json; then ok; else name="stored plan"; bad "stored plan differs from the written one"; fi
export ADPART_STORE=st2
run "ADPART_STORE is the default store" 2 plan $DEMO -f p3.json && expect_file st2/HEAD
unset ADPART_STORE
mkdir -p notgit && echo x >notgit/HEAD
run "a store that is not a repository is refused" 1 plan $DEMO -f p4.json --store notgit && expect_err "plan store 'notgit': not a valid git repository"
run "--no-write records nothing" 2 plan $DEMO --no-write --store st3 && expect_no_file st3
