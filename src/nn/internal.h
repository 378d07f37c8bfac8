/* internal.h - small kernels shared by the layer files of src/nn (not a public API). */
#ifndef DIRECTOR_NN_INTERNAL_H
#define DIRECTOR_NN_INTERNAL_H

/* db[o] += sum_n dout[n, o] over a row-major [N, OC] matrix; race-free and with a
 * summation order that does not depend on the thread count. */
void dr_colsum_accumulate(float *db, const float *dout, int N, int OC);

#endif
