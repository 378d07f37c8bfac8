/* main.c - the `director` command-line tool: dispatch to one command per file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/gemm.h"
#include "core/parallel.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

/* Keep in the order a user meets them. */
static const command commands[] = {
    {"generate", dr_cmd_generate, "prompt -> poses -> videos (the DirectorLLM pipeline)"},
    {"llm", dr_cmd_llm, "DirectorLLM: generate pose tokens for a prompt"},
    {"rvq", dr_cmd_rvq, "pose tokens: encode, decode and evaluate with the residual VQ-VAE"},
    {"interp", dr_cmd_interp, "densify 20 key-frame poses to 200 frames (pose diffusion); interp eval"},
    {"pose", dr_cmd_pose, "render skeleton frames / video, convert pose formats"},
    {"data", dr_cmd_data, "make, inspect and import training datasets (synth, stats, import)"},
    {"train", dr_cmd_train, "train a model (tokenizer, rvq, llm, textenc, interp, eval)"},
    {"eval", dr_cmd_eval, "score the models on the test split (docs/RESULTS.md)"},
    {"export", dr_cmd_export, "export DirectorLLM to GGUF (llama.cpp) or Hugging Face"},
    {"tokenize", dr_cmd_tokenize, "show the token ids of a text or prompt"},
    {"version", dr_cmd_version, "print the version and the compute backend"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: director <command> [options]   (director <command> --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nenvironment: DIRECTOR_THREADS=N sets the thread count (default: all cores).\n");
}

int dr_cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    char backend[96];
    dr_gemm_backend_name(backend, sizeof backend);
    printf("director %s\nGEMM: %s\nthreads: %d\n", DIRECTOR_VERSION_STRING, backend, dr_get_threads());
    return CLI_EXIT_OK;
}

/* libgomp's default wait policy spins at every barrier; when the machine is shared, a spinning
 * thread waits for a descheduled partner and a 2-thread run becomes 10-40x slower (measured in
 * docs/PERFORMANCE.md). libgomp reads OMP_WAIT_POLICY once, before main(), so the only way for
 * the tool to choose its own default is to set it and re-execute itself. An explicit setting
 * from the caller is always kept. */
static void prefer_passive_openmp(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("DIRECTOR_NO_REEXEC")) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    setenv("DIRECTOR_NO_REEXEC", "1", 1); /* never loop, even if exec'ing ourselves fails oddly */
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the default policy. */
}

int main(int argc, char **argv) {
    prefer_passive_openmp(argv);
    const char *threads = getenv("DIRECTOR_THREADS");
    dr_set_threads(threads ? atoi(threads) : 0);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) return dr_cmd_version(0, NULL);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "director: error: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
