/* progress.h - one progress line format for every long job.
 *
 * Data synthesis, training and generation report on stderr as
 *   train rvq  step 1200/20000  loss 0.0312  val 0.0351  41.2 it/s  ETA 7m36s
 * at most a few times per second (and always on the last step), so logs stay
 * readable when redirected to a file. Quiet mode prints nothing. */
#ifndef DIRECTOR_CORE_PROGRESS_H
#define DIRECTOR_CORE_PROGRESS_H

#include <stdbool.h>

typedef struct dr_progress {
    char label[64];
    long total;        /* total steps; 0 when unknown */
    long start_step;   /* first step of this run (after --resume), for the rate */
    double t_start;
    double t_last_print;
    double min_interval; /* seconds between lines; default 0.5 */
    bool quiet;
    bool tty;          /* stderr is a terminal: redraw one line with \r */
} dr_progress;

void dr_progress_begin(dr_progress *p, const char *label, long start_step, long total, bool quiet);
/* `extra` is a preformatted string of figures ("loss 0.0312  val 0.0351"); may be NULL. */
void dr_progress_update(dr_progress *p, long step, const char *extra);
/* Print the final line with the total time. */
void dr_progress_end(dr_progress *p, const char *extra);
/* Format seconds as "7m36s" / "1h02m" / "12.3s". */
void dr_format_duration(double seconds, char *buf, int size);

#endif
