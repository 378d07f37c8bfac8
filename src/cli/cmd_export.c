/* cmd_export.c - `director export gguf|hf`: DirectorLLM for llama.cpp and transformers
 * (models/llama_export.h, docs/INTEROP.md). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "models/llama.h"
#include "models/llama_export.h"
#include "models/tokenizer.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: director export gguf --out FILE.gguf [options]\n"
            "       director export hf --out DIR [options]\n\n"
            "Write DirectorLLM in another runtime's format:\n"
            "  gguf  a GGUF v3 file (architecture llama) that llama.cpp loads and runs; q/k rows\n"
            "        are permuted for llama.cpp's RoPE, the tokenizer becomes a gpt2/llama-bpe\n"
            "        vocabulary with the special and pose tokens as control tokens\n"
            "  hf    a Hugging Face LlamaForCausalLM folder: config.json, model.safetensors,\n"
            "        tokenizer.json, tokenizer_config.json, generation_config.json\n\n"
            "options:\n"
            "  --model PATH       DirectorLLM file (default: models/director.safetensors)\n"
            "  --tokenizer PATH   its tokenizer.json (default: models/tokenizer.json)\n"
            "  --out PATH         output file (gguf) or folder (hf), replaced atomically\n"
            "  --f16              gguf: store the 2-D weights as F16 (default F32)\n"
            "  --name NAME        gguf: general.name (default DirectorLLM)\n"
            "  --quiet            print nothing on success\n");
}

int dr_cmd_export(int argc, char **argv) {
    const char *cmd = "export";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *format = argv[1];
    if (strcmp(format, "gguf") && strcmp(format, "hf"))
        return cli_usage_error(cmd, "unknown format '%s' (gguf or hf)", format);
    const char *model_path = "models/director.safetensors", *tok_path = "models/tokenizer.json", *out = NULL;
    dr_llama_gguf_opts gopts = {0};
    int quiet = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        } else if (!strcmp(a, "--f16")) {
            if (strcmp(format, "gguf")) return cli_usage_error(cmd, "--f16 applies to gguf only");
            gopts.f16 = true;
            continue;
        }
        if (!v) return cli_usage_error(cmd, "option '%s' needs a value (or is unknown)", a);
        if (!strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--tokenizer")) tok_path = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--name") && !strcmp(format, "gguf")) gopts.name = v;
        else return cli_usage_error(cmd, "unknown option '%s'", a);
        i++;
    }
    if (!out) return cli_usage_error(cmd, "--out is required");

    dr_err err = {0};
    dr_llama m;
    dr_tokenizer *tok = NULL;
    int rc = dr_llama_load(&m, model_path, &err);
    if (rc) return cli_fail_err(cmd, &err);
    if ((rc = dr_tokenizer_load(&tok, tok_path, &err)) == DR_OK) {
        rc = !strcmp(format, "gguf") ? dr_llama_export_gguf(&m, tok, &gopts, out, &err)
                                     : dr_llama_export_hf(&m, tok, out, &err);
    }
    int status = CLI_EXIT_OK;
    if (rc) status = cli_fail_err(cmd, &err);
    else if (!quiet)
        printf("wrote %s (%s: %zu parameters, vocabulary %d)\n", out, format, dr_llama_num_params(&m), m.cfg.vocab_size);
    dr_tokenizer_free(tok);
    dr_llama_free(&m);
    return status;
}
