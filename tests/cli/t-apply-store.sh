# apply --store: lineage and serial checks happen before anything is touched.
AS_INV="$TD/demo/inventory.json"
AS_SCHED="$TD/demo/schedule.json"
"$BIN" plan -i "$AS_INV" -s "$AS_SCHED" --now 2018-05-06T00:00:00Z -f as-a.json --store as-store-a >/dev/null 2>&1
"$BIN" plan -i "$AS_INV" -s "$AS_SCHED" --now 2018-05-06T00:00:00Z -f as-b.json --store as-store-b >/dev/null 2>&1
"$BIN" plan -i "$AS_INV" -s "$AS_SCHED" --now 2018-05-06T00:00:00Z -f as-plain.json >/dev/null 2>&1

run "apply --store refuses a plan from another lineage" 6 apply as-b.json --store as-store-a --now 2018-05-06T00:00:00Z -d as-state
expect_err "refused: .*another lineage"
expect_no_file as-state/journal.json

run "apply --store refuses a plan recorded in no store" 6 apply as-plain.json --store as-store-a --now 2018-05-06T00:00:00Z -d as-state
expect_err "refused: plan 'as-plain.json' was not recorded in a plan store"

run "apply --store refuses a missing store" 6 apply as-a.json --store no-such-store --now 2018-05-06T00:00:00Z -d as-state
expect_err "refused: "
