/* Small numeric helpers shared by the planner and the feedback loop. */
#ifndef ADP_MATHUTIL_H
#define ADP_MATHUTIL_H

/* The standard normal quantile, p in (0, 1) (Acklam's rational
 * approximation, relative error under 1.2e-9). */
double adp_norm_inv(double p);

#endif
