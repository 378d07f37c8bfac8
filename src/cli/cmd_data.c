/* cmd_data.c - `director data <job>`: dispatch to the data tools.
 * Add a line to the table for each job (dr_cmd_data_<job>, declared in cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct data_job {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} data_job;

static const data_job jobs[] = {
    {"import-bvh", dr_cmd_data_import_bvh, "BVH motion capture -> pose sequence JSON"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
    fprintf(f, "usage: director data <job> [options]   (director data <job> --help)\n\njobs:\n");
    for (const data_job *j = jobs; j->name; j++) fprintf(f, "  %-12s %s\n", j->name, j->summary);
}

int dr_cmd_data(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    for (const data_job *j = jobs; j->name; j++)
        if (!strcmp(argv[1], j->name)) return j->run(argc - 1, argv + 1);
    return cli_usage_error("data", "unknown job '%s'", argv[1]);
}
