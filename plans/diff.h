/* What changed between two plan documents: waves (offline partitions),
 * placements, allocations and risks, as a list of changes. */
#ifndef ADP_PLAN_DIFF_H
#define ADP_PLAN_DIFF_H

#include <jansson.h>

/* Compares plan documents a (old) and b (new), both parsed JSON (borrowed).
 * *out (a new reference) is an array of objects {"op": "+", "-" or "~",
 * "what": "wave", "placement", "allocation" or "risk", "key": string,
 * "from": old value or null, "to": new value or null}. */
int plan_diff(json_t **out, const json_t *a, const json_t *b);

#endif
