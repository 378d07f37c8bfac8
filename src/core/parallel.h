/* parallel.h - the thread pool, memory and clocks that all kernels share.
 *
 * director uses one OpenMP pool for everything (its own loops and oneDNN's GEMM), so
 * the thread count is set once with dr_set_threads() and never oversubscribes. Large
 * buffers come from dr_alloc(): 64-byte aligned and, above 2 MiB, backed by huge pages,
 * because the first touch of fresh 4 KiB pages costs ~11 us each on these machines.
 * Allocate activations and optimizer state once and reuse them. */
#ifndef DIRECTOR_CORE_PARALLEL_H
#define DIRECTOR_CORE_PARALLEL_H

#include <stddef.h>

/* n <= 0 means "all cores". Returns the count now in effect. */
int dr_set_threads(int n);
int dr_get_threads(void);

void *dr_alloc(size_t bytes);   /* aligned, uninitialised; NULL on failure */
void *dr_calloc(size_t bytes);  /* aligned, zeroed */
void dr_free(void *p);

/* Monotonic wall-clock seconds. */
double dr_now(void);

/* Peak resident memory of this process in bytes (from getrusage). */
size_t dr_peak_rss_bytes(void);

#endif
