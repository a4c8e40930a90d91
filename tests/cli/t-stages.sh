# The stage check (tests/stages.sh) passes on this tree and fails on a
# tree with an include that runs back up a stage or across drivers.
name="stages: this tree"
if sh "$TOP/tests/stages.sh" >"$TMP/out" 2>"$TMP/err"; then ok; else bad "stage check failed"; fi
st="$TMP/stages-tree"
mkdir -p "$st/plans" "$st/orchestrator/local" "$st/util"
echo '#include "util/error.h"' >"$st/plans/ok.c"
echo '#include "plans/plan.h"' >"$st/util/up.c"
name="stages: util includes plans"
if sh "$TOP/tests/stages.sh" "$st" >"$TMP/out" 2>"$TMP/err"; then bad "passed"; else ok; fi
expect_err 'util/up.c \(util\) includes "plans/plan.h" \(plans\), a later stage'
rm "$st/util/up.c"
echo '#include "orchestrator/kube/client.h"' >"$st/orchestrator/local/x.c"
name="stages: a driver includes another driver"
if sh "$TOP/tests/stages.sh" "$st" >"$TMP/out" 2>"$TMP/err"; then bad "passed"; else ok; fi
expect_err 'orchestrator/local/x.c \(driver local\) includes "orchestrator/kube/client.h" of driver kube'
rm -rf "$st"
