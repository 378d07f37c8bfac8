/* cmd_train.c - `director train <model>`: dispatch to each model's trainer.
 * Add a line to the table for each trainer (dr_cmd_train_<model>, declared in cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct trainer {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} trainer;

static const trainer trainers[] = {
    {"tokenizer", dr_cmd_train_tokenizer, "the byte-level BPE text tokenizer"},
    {"llm", dr_cmd_train_llm, "DirectorLLM, the Llama 3 pose-token writer"},
    {"rvq", dr_cmd_train_rvq, "the residual VQ-VAE pose tokenizer"},
    {"textenc", dr_cmd_train_textenc, "the CLIP-architecture text encoder (contrastive, against motion)"},
    {"interp", dr_cmd_train_interp, "the pose diffusion interpolator (20 key frames -> 200 frames)"},
    {"eval", dr_cmd_train_eval, "the text-motion evaluator of director eval"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
    fprintf(f, "usage: director train <model> [options]   (director train <model> --help)\n\nmodels:\n");
    for (const trainer *t = trainers; t->name; t++) fprintf(f, "  %-10s %s\n", t->name, t->summary);
}

int dr_cmd_train(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    for (const trainer *t = trainers; t->name; t++)
        if (!strcmp(argv[1], t->name)) return t->run(argc - 1, argv + 1);
    return cli_usage_error("train", "unknown model '%s'", argv[1]);
}
