#include "core/progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/parallel.h"

void dr_format_duration(double s, char *buf, int size) {
    if (s < 0) s = 0;
    if (s < 60) snprintf(buf, (size_t)size, "%.1fs", s);
    else if (s < 3600) snprintf(buf, (size_t)size, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, (size_t)size, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
}

void dr_progress_begin(dr_progress *p, const char *label, long start_step, long total, bool quiet) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->start_step = start_step;
    p->t_start = dr_now();
    p->t_last_print = 0;
    p->min_interval = 0.5;
    p->quiet = quiet;
    p->tty = isatty(2);
}

static void print_line(dr_progress *p, long step, const char *extra, bool final) {
    double now = dr_now(), elapsed = now - p->t_start;
    double rate = elapsed > 0 ? (double)(step - p->start_step) / elapsed : 0;
    char eta[32] = "", took[32];
    if (!final && p->total > 0 && rate > 0) {
        char d[24];
        dr_format_duration((double)(p->total - step) / rate, d, sizeof d);
        snprintf(eta, sizeof eta, "  ETA %s", d);
    }
    dr_format_duration(elapsed, took, sizeof took);
    if (p->total > 0)
        fprintf(stderr, "%s%s  step %ld/%ld  %s%s%.2f it/s%s%s%s%s", p->tty ? "\r\033[K" : "", p->label, step,
                p->total, extra ? extra : "", extra && *extra ? "  " : "", rate, eta, final ? "  done in " : "",
                final ? took : "", p->tty && !final ? "" : "\n");
    else
        fprintf(stderr, "%s%s  step %ld  %s%s%.2f it/s%s%s%s", p->tty ? "\r\033[K" : "", p->label, step,
                extra ? extra : "", extra && *extra ? "  " : "", rate, final ? "  done in " : "", final ? took : "",
                p->tty && !final ? "" : "\n");
    fflush(stderr);
    p->t_last_print = now;
}

void dr_progress_update(dr_progress *p, long step, const char *extra) {
    if (p->quiet) return;
    double now = dr_now();
    if (now - p->t_last_print < p->min_interval && !(p->total > 0 && step >= p->total)) return;
    print_line(p, step, extra, false);
}

void dr_progress_end(dr_progress *p, const char *extra) {
    if (p->quiet) return;
    print_line(p, p->total > 0 ? p->total : p->start_step, extra, true);
}
