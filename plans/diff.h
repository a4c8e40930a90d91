/* What changed between two plan documents: inputs (the cause), waves
 * (offline partitions), placements, allocations, reservations, risks and
 * the partitions the consolidation advice says could go empty, as a list
 * of changes. */
#ifndef ADP_PLAN_DIFF_H
#define ADP_PLAN_DIFF_H

#include <jansson.h>

/* Compares plan documents a (old) and b (new), both parsed JSON (borrowed).
 * *out (a new reference) is an array of objects {"op": "+", "-" or "~",
 * "what": "input" (key its path; from and to its digest, or its kind
 * where it came or went), "wave", "placement", "allocation",
 * "reservation", "risk" or "consolidation" (key the partition), "key":
 * string, "from": old value or null,
 * "to": new value or null}; inputs first. */
int plan_diff(json_t **out, const json_t *a, const json_t *b);

#endif
