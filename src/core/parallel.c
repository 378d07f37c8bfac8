#include "core/parallel.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

int dr_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    return n;
}

int dr_get_threads(void) { return omp_get_max_threads(); }

void *dr_alloc(size_t bytes) {
    if (bytes == 0) bytes = 64;
    size_t align = bytes >= (2u << 20) ? (2u << 20) : 64;
    size_t rounded = (bytes + align - 1) / align * align;
    void *p = aligned_alloc(align, rounded);
    if (p && align > 64) madvise(p, rounded, MADV_HUGEPAGE);
    return p;
}

void *dr_calloc(size_t bytes) {
    void *p = dr_alloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void dr_free(void *p) { free(p); }

double dr_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t dr_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024u;
}
