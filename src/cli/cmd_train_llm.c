/* cmd_train_llm.c - `director train llm`: DirectorLLM on (subject prompt, pose tokens).
 *
 * Builds the examples (tokenized subject prompts; key frames encoded by the trained
 * residual VQ-VAE), then runs the trainer of models/llm_train.h with checkpoints and
 * --resume, and writes the final model atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/parallel.h"
#include "models/llama.h"
#include "models/llama_export.h"
#include "models/llama_lora.h"
#include "models/llm_train.h"
#include "models/rvq.h"
#include "models/tokenizer.h"
#include "pose/dataset.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: director train llm --data DIR [options]\n\n"
            "Train DirectorLLM (a Llama 3 decoder) to write the pose tokens of a clip after its\n"
            "subject prompt: <|begin_of_text|> prompt <|pose_begin|> 20 key frames x 6 RVQ tokens\n"
            "<|pose_end|> <|end_of_text|>, with next-token cross-entropy (docs/MODELS.md).\n\n"
            "data and files:\n"
            "  --data DIR            dataset folder with train and val splits (docs/DATASET.md)\n"
            "  --rvq PATH            trained pose tokenizer (default: models/rvq.safetensors)\n"
            "  --rvq-beam N          encode the training poses with a beam search N wide (default 1)\n"
            "  --tokenizer PATH      text tokenizer (default: models/tokenizer.json)\n"
            "  --out PATH            final model (default: models/director.safetensors)\n"
            "  --checkpoint PATH     checkpoint file (default: OUT.ckpt)\n"
            "  --resume              continue from the checkpoint (same data and options)\n"
            "  --init-hf DIR         start from a pretrained Hugging Face Llama (config.json,\n"
            "                        safetensors, tokenizer.json), its embedding and head extended\n"
            "                        by the special and pose rows (docs/INTEROP.md); the model\n"
            "                        options and --tokenizer are then taken from DIR\n"
            "  --tokenizer-out PATH  with --init-hf: where to write the extended tokenizer that goes\n"
            "                        with the model (pass it as --tokenizer to resume or generate)\n"
            "  --lora R              train LoRA adapters of rank R on q/k/v/o (and the embedding and\n"
            "                        head in full, for the new pose rows) instead of every weight;\n"
            "                        OUT gets the merged model; its checkpoints (CKPT and CKPT.base,\n"
            "                        the frozen base) resume with --resume and the same --lora options\n"
            "  --lora-alpha X        adapter scale alpha (default: 2 R); --lora-mlp: adapt the MLP too\n"
            "training:\n"
            "  --steps N             optimizer steps (default: 2000)\n"
            "  --batch N             sequences per micro-batch (default: 16)\n"
            "  --accum N             micro-batches per step (default: 1)\n"
            "  --lr X                peak learning rate (default: 1e-3), --lr-min X (default: 1e-4)\n"
            "  --warmup N            warm-up steps (default: 100)\n"
            "  --weight-decay X      AdamW decay (default: 0.1); --clip X gradient norm (default: 1)\n"
            "  --loss all|pose       cross-entropy on the whole sequence (default, as in the paper)\n"
            "                        or on the pose tokens and the end tokens only\n"
            "  --eval-every N        validation every N steps (default: 200); --eval-batches N\n"
            "  --checkpoint-every N  (default: 500)\n"
            "  --stop-after N        stop after step N (checkpointed) as if interrupted\n"
            "  --seed S              initialisation and batch order (default: 1)\n"
            "  --quiet               no progress lines\n"
            "model (ignored with --resume):\n"
            "  --dim N (256)  --layers N (6)  --heads N (8)  --kv-heads N (4)  --ffn N (704)\n"
            "  --max-seq-len N (256)  --tied (tie the output head to the embedding)\n");
}

/* Examples of one split: tokenized subjects and RVQ codes of the key frames. */
static int load_split(const char *dir, const char *split, dr_rvq *rvq, const dr_tokenizer *tok,
                      const dr_llama_config *cfg, dr_llm_data *out, dr_err *err) {
    dr_dataset ds;
    int rc = dr_dataset_open(&ds, dir, split, err);
    if (rc) return rc;
    const int F = dr_rvq_num_keyframes(rvq), L = dr_rvq_depth(rvq), chunk = 256;
    dr_pose *kf = malloc(sizeof(dr_pose) * (size_t)chunk * F);
    int *codes = malloc(sizeof(int) * (size_t)chunk * F * L);
    int *ids = malloc(sizeof(int) * (size_t)cfg->max_seq_len);
    if (!kf || !codes || !ids) rc = dr_err_set(err, DR_ENOMEM, "out of memory");
    for (int start = 0; !rc && start < ds.num_clips; start += chunk) {
        int n = ds.num_clips - start < chunk ? ds.num_clips - start : chunk;
        for (int i = 0; i < n; i++) dr_rvq_keyframes_of_clip(dr_dataset_clip(&ds, start + i), kf + (long)i * F);
        if ((rc = dr_rvq_encode(rvq, kf, n, ds.width, ds.height, codes, err)) != DR_OK) break;
        for (int i = 0; i < n && !rc; i++) {
            int n_ids = 0;
            if ((rc = dr_llm_encode_prompt(tok, ds.subject[start + i], ids, cfg->max_seq_len, &n_ids, err)) ||
                (rc = dr_llm_data_add(out, cfg, ids, n_ids, codes + (long)i * F * L, err)))
                dr_err_prefix(err, "%s/%s.jsonl clip %d", dir, split, start + i);
        }
    }
    free(kf), free(codes), free(ids);
    dr_dataset_close(&ds);
    return rc;
}

int dr_cmd_train_llm(int argc, char **argv) {
    const char *cmd = "train llm", *data = NULL, *rvq_path = "models/rvq.safetensors";
    const char *tok_path = "models/tokenizer.json", *out = "models/director.safetensors", *ckpt = NULL;
    const char *init_hf = NULL, *tok_out = NULL;
    long lora_rank = 0;
    double lora_alpha = 0.0;
    bool lora_mlp = false;
    bool resume = false, tied = false;
    long dim = 256, layers = 6, heads = 8, kv_heads = 4, ffn = 704, max_len = 256;
    dr_llm_train_opts o = dr_llm_train_default_opts();
    unsigned long long seed = 1;
    long rvq_beam = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        double x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        bool *flag = !strcmp(a, "--resume") ? &resume : !strcmp(a, "--tied") ? &tied
                     : !strcmp(a, "--lora-mlp") ? &lora_mlp
                     : !strcmp(a, "--quiet")    ? &o.quiet
                                                : NULL;
        if (flag) {
            *flag = true;
            continue;
        }
        if (!v) return cli_usage_error(cmd, "option '%s' needs a value (or is unknown)", a);
#define LONG_OPT(name, lo, hi, dst)                                          \
    else if (!strcmp(a, name)) {                                             \
        if (!cli_parse_long(cmd, a, v, lo, hi, &n)) return CLI_EXIT_USAGE;   \
        dst = n;                                                             \
    }
#define FLOAT_OPT(name, lo, hi, dst)                                         \
    else if (!strcmp(a, name)) {                                             \
        if (!cli_parse_float(cmd, a, v, lo, hi, &x)) return CLI_EXIT_USAGE;  \
        dst = (float)x;                                                      \
    }
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--rvq")) rvq_path = v;
        else if (!strcmp(a, "--tokenizer")) tok_path = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--checkpoint")) ckpt = v;
        else if (!strcmp(a, "--init-hf")) init_hf = v;
        else if (!strcmp(a, "--tokenizer-out")) tok_out = v;
        else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64(cmd, a, v, &seed)) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "--loss")) {
            if (strcmp(v, "all") && strcmp(v, "pose")) return cli_usage_error(cmd, "--loss is 'all' or 'pose'");
            o.pose_loss_only = !strcmp(v, "pose");
        }
        LONG_OPT("--steps", 1, 100000000L, o.steps)
        LONG_OPT("--rvq-beam", 1, 4096, rvq_beam)
        LONG_OPT("--lora", 1, 4096, lora_rank)
        FLOAT_OPT("--lora-alpha", 1e-6, 1e6, lora_alpha)
        LONG_OPT("--batch", 1, 4096, o.batch)
        LONG_OPT("--accum", 1, 4096, o.accum)
        LONG_OPT("--warmup", 0, 100000000L, o.warmup)
        LONG_OPT("--eval-every", 0, 100000000L, o.eval_every)
        LONG_OPT("--eval-batches", 0, 100000000L, o.eval_batches)
        LONG_OPT("--checkpoint-every", 0, 100000000L, o.checkpoint_every)
        LONG_OPT("--stop-after", 1, 100000000L, o.stop_step)
        LONG_OPT("--dim", 8, 8192, dim)
        LONG_OPT("--layers", 1, 256, layers)
        LONG_OPT("--heads", 1, 256, heads)
        LONG_OPT("--kv-heads", 1, 256, kv_heads)
        LONG_OPT("--ffn", 8, 65536, ffn)
        LONG_OPT("--max-seq-len", 8, 65536, max_len)
        FLOAT_OPT("--lr", 1e-8, 10.0, o.lr)
        FLOAT_OPT("--lr-min", 0.0, 10.0, o.lr_min)
        FLOAT_OPT("--weight-decay", 0.0, 10.0, o.weight_decay)
        FLOAT_OPT("--clip", 0.0, 1e6, o.grad_clip)
        else return cli_usage_error(cmd, "unknown option '%s'", a);
#undef LONG_OPT
#undef FLOAT_OPT
        i++;
    }
    if (!data) return cli_usage_error(cmd, "--data DIR is required");
    if (dim % heads) return cli_usage_error(cmd, "--dim %ld is not a multiple of --heads %ld", dim, heads);
    if (init_hf && resume)
        return cli_usage_error(cmd, "--init-hf starts a new run; resume with --tokenizer set to its --tokenizer-out");
    if (!init_hf != !tok_out) return cli_usage_error(cmd, "--init-hf and --tokenizer-out go together");
    if ((lora_alpha > 0.0 || lora_mlp) && lora_rank == 0) return cli_usage_error(cmd, "--lora-alpha/--lora-mlp need --lora R");
    o.seed = seed;
    char ckpt_buf[4096];
    if (!ckpt) {
        snprintf(ckpt_buf, sizeof ckpt_buf, "%s.ckpt", out);
        ckpt = ckpt_buf;
    }
    o.checkpoint = ckpt;

    dr_err err = {0};
    dr_tokenizer *tok = NULL;
    dr_rvq *rvq = NULL;
    dr_llama m;
    memset(&m, 0, sizeof m);
    dr_llama_lora lora;
    memset(&lora, 0, sizeof lora);
    dr_llm_data train, val;
    dr_llm_data_init(&train);
    dr_llm_data_init(&val);
    int status = CLI_EXIT_FAIL;
    long start_step = 0;
    double t0 = dr_now();
    if ((!init_hf && dr_tokenizer_load(&tok, tok_path, &err)) || dr_rvq_load(&rvq, rvq_path, &err) ||
        dr_rvq_set_beam(rvq, (int)rvq_beam, &err))
        goto fail;
    dr_llama_config cfg = dr_llama_config_director(tok ? dr_tokenizer_text_vocab_size(tok) : 0);
    cfg.dim = (int)dim, cfg.n_layers = (int)layers, cfg.n_heads = (int)heads, cfg.n_kv_heads = (int)kv_heads;
    cfg.head_dim = (int)(dim / heads), cfg.ffn_hidden = (int)ffn, cfg.max_seq_len = (int)max_len;
    cfg.tied_embeddings = tied;
    cfg.pose_levels = dr_rvq_depth(rvq), cfg.pose_codebook = dr_rvq_codebook_size(rvq);
    cfg.pose_keyframes = dr_rvq_num_keyframes(rvq);
    cfg.vocab_size = cfg.n_text + DR_LLAMA_NUM_SPECIALS + cfg.pose_levels * cfg.pose_codebook;
    const dr_llama_lora_opts lo = {.rank = (int)lora_rank,
                                   .alpha = lora_alpha > 0.0 ? (float)lora_alpha : 2.0f * (float)lora_rank,
                                   .mlp = lora_mlp, .train_embeddings = true};
    if (resume) {
        /* a LoRA run resumes from its own checkpoint (the base model beside it) */
        if (lora_rank > 0 ? dr_llama_lora_load_checkpoint(&lora, &m, ckpt, &lo, &start_step, NULL, &err)
                          : dr_llm_load_checkpoint(&m, ckpt, &start_step, &err))
            goto fail;
        if (lora_rank > 0) o.lora = &lora;
        const dr_llama_config *r = &m.cfg;
        if (r->n_text != cfg.n_text || r->pose_levels != cfg.pose_levels || r->pose_codebook != cfg.pose_codebook ||
            r->pose_keyframes != cfg.pose_keyframes) {
            dr_err_set(&err, DR_EFORMAT, "%s: its vocabulary does not match %s and %s", ckpt, tok_path, rvq_path);
            goto fail;
        }
        cfg = *r;
    } else if (init_hf) {
        dr_llama_hf_opts ho = dr_llama_hf_default_opts();
        ho.pose_levels = cfg.pose_levels, ho.pose_codebook = cfg.pose_codebook, ho.pose_keyframes = cfg.pose_keyframes;
        ho.max_seq_len = (int)max_len, ho.seed = seed;
        if (dr_llama_from_hf(init_hf, &ho, &m, &tok, &err)) goto fail;
        const dr_llama_config *r = &m.cfg;
        if (r->pose_levels != cfg.pose_levels || r->pose_codebook != cfg.pose_codebook ||
            r->pose_keyframes != cfg.pose_keyframes) {
            dr_err_set(&err, DR_EFORMAT, "%s: its pose layout (%d x %d, %d key frames) does not match %s", init_hf,
                       r->pose_levels, r->pose_codebook, r->pose_keyframes, rvq_path);
            goto fail;
        }
        cfg = *r;
        if (dr_tokenizer_save(tok, tok_out, &err)) goto fail;
        tok_path = tok_out;
    } else {
        if (dr_llama_init(&m, &cfg, &err)) goto fail;
        dr_llama_init_weights(&m, seed);
    }
    if (lora_rank > 0 && !resume) {
        if (dr_llama_lora_init(&lora, &m, &lo, seed, &err)) goto fail;
        o.lora = &lora;
    }
    if (dr_llm_check_tokenizer(&cfg, tok, tok_path, &err) ||
        load_split(data, "train", rvq, tok, &cfg, &train, &err) || load_split(data, "val", rvq, tok, &cfg, &val, &err))
        goto fail;
    if (!o.quiet)
        fprintf(stderr,
                "train llm  %zu parameters (dim %d, %d layers, %d/%d heads, ffn %d, vocab %d)  %d train / %d val "
                "examples, longest %d tokens  prepared in %.1fs%s\n",
                dr_llama_num_params(&m), cfg.dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, cfg.ffn_hidden,
                cfg.vocab_size, train.count, val.count, train.max_len, dr_now() - t0,
                resume ? "  (resumed)" : "");
    dr_llm_eval final;
    if (dr_llm_train(&m, &train, &val, &o, start_step, &final, &err)) goto fail;
    if (o.stop_step == 0 || o.stop_step >= o.steps) {
        if (dr_llama_save(&m, out, &err)) goto fail;
        if (!o.quiet) {
            fprintf(stderr, "train llm  val loss %.4f  pose-token accuracy %.3f  total %.1fs\n", final.loss,
                    final.pose_acc, dr_now() - t0);
            printf("%s\n", out);
        }
    }
    status = CLI_EXIT_OK;
    goto done;
fail:
    cli_fail_err(cmd, &err);
done:
    dr_llm_data_free(&train);
    dr_llm_data_free(&val);
    dr_llama_lora_free(&lora);
    dr_llama_free(&m);
    dr_rvq_free(rvq);
    dr_tokenizer_free(tok);
    return status;
}
