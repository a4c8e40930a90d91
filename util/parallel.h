/* Independent items on every core: a loop whose items touch only their
 * own results, run on a few threads with the calling one among them, and
 * ending as the serial loop would (the lowest failing item's error). */
#ifndef ADP_PARALLEL_H
#define ADP_PARALLEL_H

#include <stddef.h>

#define ADP_MAX_THREADS 16

/* The threads for n items: threads when above zero, else one per online
 * processor; at most ADP_MAX_THREADS and n / min_per_thread (threads pay
 * off only with several items each), and at least one. */
size_t adp_threads(size_t threads, size_t n, size_t min_per_thread);

/* Runs fn(ctx, i) for i from 0 to n - 1 on nthreads threads (the calling
 * one included; one thread, or a thread that cannot be started, runs them
 * on the calling thread). Items are taken in order. fn returns 0 or a
 * negative ADP_E* with the message set on its own thread; after a
 * failure no further item starts, and the lowest failing index's code is
 * returned with its message as the calling thread's last error: what a
 * serial loop stopping at its first failure reports. done, if not NULL,
 * is called after each item that succeeds with the count so far, on
 * whichever thread ran it, one call at a time (progress). */
int adp_parallel(size_t n, size_t nthreads, int (*fn)(void *ctx, size_t i),
		 void (*done)(void *ctx, size_t ndone), void *ctx);

#endif
