/* cmd_llm.c - `director llm generate "prompt"`: pose tokens from DirectorLLM.
 *
 * Reads the prompt's subject sentence, runs constrained decoding (llama.h) and prints
 * one JSON line per sample with its key frames' tokens, [20][6] by default; --out DIR
 * also writes each sample as a pose-tokens file (rvq.h) for the VQ-VAE decoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "core/parallel.h"
#include "models/llama.h"
#include "models/llm_train.h"
#include "models/prompt.h"
#include "models/rvq.h"
#include "models/tokenizer.h"

static void usage_generate(FILE *f) {
    fprintf(f,
            "usage: director llm generate \"PROMPT\" [options]\n\n"
            "Generate pose tokens for the first sentence of PROMPT (the subject-level prompt) with\n"
            "DirectorLLM: <|begin_of_text|> prompt <|pose_begin|>, then exactly one token per\n"
            "key frame and RVQ level, each restricted to its level's codebook. Prints one JSON\n"
            "line per sample: {\"sample\": i, \"keyframes\": [[level 0..L-1 codes], ...]}.\n\n"
            "options:\n"
            "  --model PATH          DirectorLLM weights (default: models/director.safetensors)\n"
            "  --tokenizer PATH      text tokenizer (default: models/tokenizer.json)\n"
            "  --samples N           samples for the prompt (default: 1)\n"
            "  --seed S              sampling seed (default: 0); sample i uses stream i of it\n"
            "  --temperature T       0 = greedy (default: 1.0)\n"
            "  --top-k K             keep the K most likely codes (default: 0 = all)\n"
            "  --top-p P             nucleus sampling mass (default: 1.0 = off)\n"
            "  --greedy              same as --temperature 0\n"
            "  --bf16                decode from a bfloat16 copy of the weights: about twice as\n"
            "                        fast; logits round to ~3 digits, so tokens may differ\n"
            "  --out DIR             also write DIR/sample_NNN.tokens.json (pose-tokens files)\n");
}

static int generate(int argc, char **argv) {
    const char *cmd = "llm generate", *model_path = "models/director.safetensors";
    const char *tok_path = "models/tokenizer.json", *out_dir = NULL, *prompt_text = NULL;
    long samples = 1;
    unsigned long long seed = 0;
    double temperature = 1.0, top_p = 1.0;
    long top_k = 0;
    bool bf16 = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage_generate(stdout);
            return CLI_EXIT_OK;
        }
        if (!strcmp(a, "--greedy")) {
            temperature = 0.0;
            continue;
        }
        if (!strcmp(a, "--bf16")) {
            bf16 = true;
            continue;
        }
        if (a[0] != '-' || a[1] == 0) {
            if (prompt_text) return cli_usage_error(cmd, "more than one prompt given ('%s')", a);
            prompt_text = a;
            continue;
        }
        if (!v) return cli_usage_error(cmd, "option '%s' needs a value (or is unknown)", a);
        if (!strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--tokenizer")) tok_path = v;
        else if (!strcmp(a, "--out")) out_dir = v;
        else if (!strcmp(a, "--samples")) {
            if (!cli_parse_long(cmd, a, v, 1, 1024, &samples)) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64(cmd, a, v, &seed)) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "--temperature")) {
            if (!cli_parse_float(cmd, a, v, 0.0, 100.0, &temperature)) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "--top-k")) {
            if (!cli_parse_long(cmd, a, v, 0, 1 << 24, &top_k)) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "--top-p")) {
            if (!cli_parse_float(cmd, a, v, 1e-6, 1.0, &top_p)) return CLI_EXIT_USAGE;
        } else {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        }
        i++;
    }
    if (!prompt_text) return cli_usage_error(cmd, "no prompt given");

    dr_err err = {0};
    dr_prompt prompt = {0};
    dr_tokenizer *tok = NULL;
    dr_llama model;
    memset(&model, 0, sizeof model);
    int *ids = NULL, *codes = NULL;
    int status = CLI_EXIT_FAIL;
    if (dr_prompt_parse(&prompt, prompt_text, strlen(prompt_text), &err) ||
        dr_llama_load(&model, model_path, &err) || dr_tokenizer_load(&tok, tok_path, &err) ||
        dr_llm_check_tokenizer(&model.cfg, tok, tok_path, &err)) {
        cli_fail_err(cmd, &err);
        goto done;
    }
    const dr_llama_config *c = &model.cfg;
    if (c->pose_levels <= 0) {
        cli_fail(cmd, "%s: the model has no pose vocabulary", model_path);
        goto done;
    }
    const int max_prompt = c->max_seq_len - dr_llama_pose_slots(c) - 1;
    int n_ids = 0;
    ids = malloc(sizeof(int) * (size_t)(max_prompt > 0 ? max_prompt : 1));
    codes = malloc(sizeof(int) * (size_t)samples * dr_llama_pose_slots(c));
    if (!ids || !codes) {
        cli_fail(cmd, "out of memory");
        goto done;
    }
    if (dr_llm_encode_prompt(tok, prompt.subject, ids, max_prompt, &n_ids, &err)) {
        cli_fail(cmd, "the subject prompt is too long for the model (%d tokens at most): %s", max_prompt, err.msg);
        goto done;
    }
    dr_llama_sampling sp = {(float)temperature, (int)top_k, (float)top_p, bf16};
    if (dr_llama_generate_pose(&model, ids, n_ids, (int)samples, &sp, seed, codes, &err)) {
        cli_fail_err(cmd, &err);
        goto done;
    }
    if (out_dir && dr_mkdir_p(out_dir, &err)) {
        cli_fail_err(cmd, &err);
        goto done;
    }
    const int F = c->pose_keyframes, L = c->pose_levels;
    for (int s = 0; s < samples; s++) {
        const int *sc = codes + (long)s * F * L;
        printf("{\"sample\": %d, \"keyframes\": [", s);
        for (int f = 0; f < F; f++) {
            printf(f ? ", [" : "[");
            for (int k = 0; k < L; k++) printf(k ? ", %d" : "%d", sc[f * L + k]);
            printf("]");
        }
        printf("]}\n");
        if (out_dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/sample_%03d.tokens.json", out_dir, s);
            if (dr_rvq_tokens_write(path, sc, F, L, c->pose_codebook, &err)) {
                cli_fail_err(cmd, &err);
                goto done;
            }
        }
    }
    status = CLI_EXIT_OK;
done:
    free(ids);
    free(codes);
    dr_prompt_free(&prompt);
    dr_tokenizer_free(tok);
    dr_llama_free(&model);
    return status;
}

static void usage(FILE *f) {
    fprintf(f, "usage: director llm <command> [options]   (director llm <command> --help)\n\n"
               "commands:\n"
               "  generate   pose tokens for a prompt\n\n"
               "Training is `director train llm`.\n");
}

int dr_cmd_llm(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "generate")) return generate(argc - 1, argv + 1);
    return cli_usage_error("llm", "unknown command '%s'", argv[1]);
}
