"""Turns the `key value` lines collected by scripts/bench into the `make bench` table:
prints it, and with --append FILE adds it (dated, with the CPU, load and command) under the
"make bench" section of docs/PERFORMANCE.md. Usage: bench_report.py RESULTS [--append FILE]."""
import json
import sys

INTRO = """## make bench

`make bench` (scripts/bench) builds director, then runs director and PyTorch (Debian's
python3-torch 1.13, in its best set-up on this machine: tcmalloc, AVX-512 ATen kernels,
the OpenMP build of OpenBLAS) side by side in one run, 2 threads each, at the same shapes
and batch sizes on random data: the training step of each model (bench/bench_models.c
against bench/torch_*.py, forward + loss + backward + clipping + AdamW), LLM greedy
decoding with a KV cache at batch 1, the GEMM ceiling of the run (the faster of `dr_sgemm`
and `torch.mm` at 2048^3 and at the LLM head shape), peak memory (GNU time, whole
process), and director's end-to-end generation. Figures are medians over the timed steps
after a warm-up step. Each step is timed in wall-clock seconds and in the process's CPU
seconds: on a shared machine the wall clock includes other jobs' slices, the CPU time does
not (it also leaves out time a thread sleeps at a barrier, so it flatters imperfect
parallelism a little on both sides alike). Ratios are PyTorch's time / director's (above
1 = director faster). OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for both sides in
the benchmark's own command (only PyTorch's BLAS reads them). Each run appends its table
below, with the load average it ran under.

Why the OpenBLAS package: python3-torch depends only on `libblas.so.3`, which a plain
Debian install satisfies with the reference BLAS (libblas3); PyTorch's fp32 matrix products
then ran at 1.8 GFLOP/s here (2 threads, 1024^3, 2026-11-25) against ~20 with OpenBLAS on
the same loaded machine. scripts/install-deps --bench installs `libopenblas0-openmp`, and
scripts/bench points PyTorch at it with LD_LIBRARY_PATH, whatever the system's alternative.

Targets (issues 6 and 8): LLM training >= 1.5x PyTorch's best, greedy decoding >= 10x; the
pose plan (stages 1-3) < 1 s and the whole run with both videos < 5 s.

PyTorch with OPENBLAS_CORETYPE=SkylakeX instead of the Cooperlake kernels OpenBLAS picks
on this Zen 4 made no difference beyond the noise (LLM step 1.69-1.72 s CPU against
1.62-1.76 s, 2026-11-25), so the benchmark leaves that choice to OpenBLAS. Both sides
(and the end-to-end runs) get OMP_WAIT_POLICY=passive: spinning OpenMP barriers on an
oversubscribed machine cost far more than the wake-ups (see "GEMM and kernels") and the
spinning would count as CPU time; BENCH_OMP_WAIT_POLICY=active overrides it.
"""


def load(path):
    d = {}
    for line in open(path):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        k, _, v = line.partition(" ")
        d[k] = v
    return d


def num(d, k):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return None


def fmt_s(s):
    if s is None:
        return "-"
    return f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.2f} s"


def ratio(a, b):  # PyTorch time / director time
    if a is None or b is None or b <= 0:
        return "-"
    return f"{a / b:.2f}x"


def main():
    d = load(sys.argv[1])
    doc = sys.argv[sys.argv.index("--append") + 1] if "--append" in sys.argv else None
    threads = num(d, "director.threads") or 2
    out = []
    w = out.append
    w(f"### Run of {d.get('env.date', '?')}")
    w("")
    w(f"Command: `make bench` (scripts/bench, commit {d.get('env.commit', '?')}), "
      f"{d.get('env.bench_seconds', '?')} s in all. CPU: {d.get('env.cpu', '?')} "
      f"(family/model {d.get('env.cpu_family_model', '?')}), {d.get('env.nproc', '?')} vCPUs, "
      f"{threads:.0f} threads per side. Load average (1/5/15 min) {d.get('env.load_start', '?')} at the start, "
      f"{d.get('env.load_end', '?')} at the end; OMP_WAIT_POLICY={d.get('env.omp_wait_policy', '?')} for both sides. "
      f"OPENBLAS_CORETYPE (was {d.get('env.openblas_coretype_was', '?')}) and OPENBLAS_L2_SIZE "
      f"(was {d.get('env.openblas_l2_size_was', '?')}) unset for both sides.")
    w("")
    w(f"- director: {d.get('director.kernels', '?')}")
    if d.get("director.llm.decode.kernels"):
        w(f"- director's decoding steps: {d['director.llm.decode.kernels']}")
    w(f"- PyTorch (best): {d.get('torch.llm.setup', '?')}; environment `{d.get('env.torch_best', '')}`")
    w(f"- PyTorch as installed (reference row): {d.get('torch_default.llm.setup', '?')}")
    w("")

    same = []
    for model in ("llm", "rvq", "interp"):
        a, b = d.get(f"director.{model}.params"), d.get(f"torch.{model}.params")
        if a and b:
            same.append(f"{model} {int(a):,}" if a == b else f"{model} DIFFERS: director {int(a):,}, PyTorch {int(b):,}")
    w("Trainable parameters, director / PyTorch peer (the same architecture must give the same count): "
      + "; ".join(same) + ".")
    w("")

    rows = [
        ("llm", "llm.train", "DirectorLLM training step", "llm.tokens", "tokens"),
        ("llm", "llm.block", "one transformer block forward + backward", None, None),
        ("llm", "llm.decode", "DirectorLLM greedy decode, batch 1, fp32 weights both sides", None, None),
        ("llm", "llm.decode_bf16", "DirectorLLM greedy decode, batch 1: director bf16 weights (opt-in) "
         "vs PyTorch's faster of fp32 and bf16", None, None),
        ("rvq", "rvq.train", "RVQ-VAE training step", None, None),
        ("rvq", "rvq.encode", "RVQ-VAE encode (poses -> tokens)", None, None),
        ("rvq", "rvq.decode", "RVQ-VAE decode (tokens -> poses)", None, None),
        ("interp", "interp.train", "pose diffusion training step", None, None),
    ]
    targets = {"llm.train": 1.5, "llm.decode": 10.0, "llm.decode_bf16": 10.0}
    w("| benchmark | director wall | PyTorch wall | ratio (wall) | director CPU | PyTorch CPU | ratio (CPU) | target |")
    w("|---|---|---|---|---|---|---|---|")
    results = []
    for model, key, label, _, _ in rows:
        cfg = json.loads(d.get(f"director.{model}.config", "{}") or "{}")
        tkey = key
        if key == "llm.decode_bf16":  # PyTorch's better decode, whichever precision gave it
            t32, t16 = num(d, "torch.llm.decode.cpu_s"), num(d, "torch.llm.decode_bf16.cpu_s")
            tkey = "llm.decode" if t16 is None or (t32 is not None and t32 <= t16) else "llm.decode_bf16"
            label += f" (PyTorch's faster here: {'bf16' if tkey.endswith('bf16') else 'fp32'})"
        dw, tw = num(d, f"director.{key}.wall_s"), num(d, f"torch.{tkey}.wall_s")
        dc, tcpu = num(d, f"director.{key}.cpu_s"), num(d, f"torch.{tkey}.cpu_s")
        if key == "llm.decode_bf16" and dw is None:
            continue  # an older bench_models without the bf16 mode
        if key in ("llm.decode", "llm.decode_bf16"):
            n = cfg.get("decode", 256)
            label += f", {n} tokens"
            rate = lambda s: "-" if s is None else f"{s / n * 1e3:.2f} ms/token ({n / s:,.0f} tok/s)"
        elif key == "llm.train":
            tok = cfg.get("batch", 0) * cfg.get("seq", 0)
            label += f", {cfg.get('batch')}x{cfg.get('seq')} tokens"
            rate = lambda s: "-" if s is None else f"{fmt_s(s)} ({tok / s:,.0f} tok/s)"
        elif key == "llm.block":
            label += f" (LLM, {cfg.get('batch')}x{cfg.get('seq')})"
            rate = fmt_s
        elif key in ("rvq.encode", "rvq.decode"):
            nkf = cfg.get("batch", 0) * cfg.get("keyframes", 0)
            label += f", {nkf} key frames"
            rate = lambda s: "-" if s is None else f"{fmt_s(s)} ({nkf / s:,.0f} key frames/s)"
        elif key == "rvq.train":
            label += f", {cfg.get('batch')} clips x {cfg.get('keyframes')} key frames"
            rate = fmt_s
        else:
            label += f", {cfg.get('batch')} clips x {cfg.get('frames')} frames"
            rate = fmt_s
        tgt = targets.get(key)
        verdict = "-"
        if tgt:
            met = lambda a, b: "-" if not a or not b else "met" if b / a >= tgt else "NOT met"
            verdict = f">= {tgt:g}x: wall {met(dw, tw)}, CPU {met(dc, tcpu)}"
        w(f"| {label} | {rate(dw)} | {rate(tw)} | {ratio(tw, dw)} | {rate(dc)} | {rate(tcpu)} | {ratio(tcpu, dc)} | {verdict} |")
        results.append((key, dw, tw, dc, tcpu))
    dfw, dfc = num(d, "torch_default.llm.train.wall_s"), num(d, "torch_default.llm.train.cpu_s")
    dw, dc = num(d, "director.llm.train.wall_s"), num(d, "director.llm.train.cpu_s")
    if dfw:
        w(f"| (reference) PyTorch as installed, LLM training step | {fmt_s(dw)} | {fmt_s(dfw)} | {ratio(dfw, dw)} | "
          f"{fmt_s(dc)} | {fmt_s(dfc)} | {ratio(dfc, dc)} | - |")
    w("")

    # GEMM ceiling and achieved GFLOP/s
    def gf(flops, s, cpu=False):
        if not flops or not s:
            return None
        return flops / (s / threads if cpu else s) / 1e9

    ceil_w, ceil_c, ceil_desc = 0.0, 0.0, []
    for side, name in (("director", "dr_sgemm"), ("torch", "torch.mm")):
        for shape, sdesc in (("gemm.square2048", "2048^3"), ("gemm.lmhead", "2560x4096x256")):
            fl = num(d, f"{side}.{shape}.flops")
            # wall: the fastest of the samples (a ceiling; the median under load is other jobs' share);
            # CPU time: the median (steady under load)
            gw, gc = gf(fl, num(d, f"{side}.{shape}.best_wall_s")), gf(fl, num(d, f"{side}.{shape}.cpu_s"), True)
            if gw:
                ceil_w, ceil_c = max(ceil_w, gw), max(ceil_c, gc or 0)
                ceil_desc.append(f"{name} {sdesc}: {gw:.0f} wall / {gc:.0f} CPU-time")
    w(f"GEMM ceiling of this run (GFLOP/s on {threads:.0f} threads; wall: the fastest of 7 runs; CPU time: "
      f"FLOPs per CPU second x {threads:.0f}, median): " + "; ".join(ceil_desc) + f". Ceiling used: {ceil_w:.0f} (wall), {ceil_c:.0f} (CPU time).")
    w("")
    w("| training step | GFLOP per step | director GFLOP/s wall (% of ceiling) | PyTorch GFLOP/s wall (%) | "
      "director, CPU time (%) | PyTorch, CPU time (%) |")
    w("|---|---|---|---|---|---|")
    for key, dw_, tw_, dc_, tc_ in results:
        if not key.endswith(".train"):
            continue
        model = key.split(".")[0]
        fl = num(d, f"director.{model}.flops")
        cells = []
        for s, cpu, ceil in ((dw_, False, ceil_w), (tw_, False, ceil_w), (dc_, True, ceil_c), (tc_, True, ceil_c)):
            g = gf(fl, s, cpu)
            cells.append("-" if g is None else f"{g:.0f} ({100 * g / ceil:.0f}%)" if ceil else f"{g:.0f}")
        w(f"| {model} | {fl / 1e9:.1f} | " + " | ".join(cells) + " |")
    w("")
    w("FLOPs are the matrix products as issued (forward once, backward twice; attention over the full T x T "
      "square), the same count for both sides.")
    w("")

    # memory
    w("| peak RSS (whole process) | director | PyTorch |")
    w("|---|---|---|")
    for model, label in (("llm", "LLM train + decode"), ("rvq", "RVQ-VAE train"), ("interp", "pose diffusion train")):
        a, b = num(d, f"director.{model}.peak_rss_kb"), num(d, f"torch.{model}.peak_rss_kb")
        w(f"| {label} | {a / 1024:.0f} MiB | {b / 1024:.0f} MiB |" if a and b else f"| {label} | - | - |")
    w("")

    # end to end
    if "e2e.skipped" in d:
        w(f"End to end: not measured ({d['e2e.skipped']}).")
    elif any(k.startswith("e2e.") for k in d):
        w(f"End to end: `director generate` on {d.get('e2e.models', '?')} (load {d.get('e2e.load', '?')}); "
          f"wall-clock seconds, stage times from plan.json / the CLI.")
        w("")
        runs = sorted({k.split(".")[1] for k in d if k.startswith("e2e.run")})
        stages = []
        for k in d:
            if k.startswith("e2e.run") and ".stage." in k:
                s = k.split(".stage.")[1]
                if s not in stages:
                    stages.append(s)
        names = {"llm": "LLM", "rvq": "RVQ decode", "diffusion": "diffusion", "load_models": "load models",
                 "files": "files (render, encode, write)"}
        w("| run | " + " | ".join(names.get(s, s) for s in stages) + " | pose plan (stages 1-3) | whole run | peak RSS |")
        w("|---|" + "---|" * (len(stages) + 3))
        for r in runs:
            cells = [(f"{float(d[f'e2e.{r}.stage.{s}']):.3f} s" if f"e2e.{r}.stage.{s}" in d else "-") for s in stages]
            plan, total, rss = num(d, f"e2e.{r}.plan_s"), num(d, f"e2e.{r}.total_s"), num(d, f"e2e.{r}.peak_rss_kb")
            w(f"| {d.get(f'e2e.{r}.label', r)} | " + " | ".join(cells) +
              f" | {'-' if plan is None else f'{plan:.3f} s'} | {'-' if total is None else f'{total:.2f} s'} | "
              f"{'-' if rss is None else f'{rss / 1024:.0f} MiB'} |")
        w("")
        api = [("load_s", "load models"), ("llm_s", "LLM"), ("rvq_s", "RVQ decode"), ("diffusion_s", "diffusion"),
               ("plan_s", "= pose plan"), ("render_skeleton_s", "render skeleton frames"),
               ("render_preview_s", "render preview frames"), ("encode_png_s", "write skeleton PNGs"),
               ("encode_pose_mp4_s", "encode pose.mp4"), ("encode_preview_mp4_s", "encode preview.mp4"),
               ("write_outputs_s", "director_write_outputs (all files)")]
        if num(d, "e2e.api.plan_s") is not None:
            w("Stage by stage, one prompt, in one process (`bench_models e2e` through include/director.h; the "
              "renderers and encoders timed apart on sample 0's 200 frames, then director_write_outputs writing "
              "everything as the CLI does; wall seconds, in brackets CPU seconds of all threads; the LLM / RVQ / "
              "diffusion split is the pipeline's own, wall):")
            w("")
            w("| " + " | ".join(lbl for _, lbl in api) + " |")
            w("|" + "---|" * len(api))
            def cell(k):
                wall, cpu = num(d, f"e2e.api.{k}"), num(d, f"e2e.api.{k[:-2]}_cpu_s")
                if wall is None:
                    return "-"
                return f"{wall:.3f} s" + ("" if cpu is None else f" ({cpu:.3f} CPU)")
            w("| " + " | ".join(cell(k) for k, _ in api) + " |")
            w("")
        fs, wo, woc = num(d, "e2e.api.fsync_file_s"), num(d, "e2e.api.write_outputs_s"), num(d, "e2e.api.write_outputs_cpu_s")
        if fs is not None and wo is not None:
            w(f"One durable small file (write 4 KiB + fsync, median of 32) took {fs * 1e3:.2f} ms on this disk during "
              f"the run: what a sample's ~400 output files (200 PNG frames, 200 OpenPose JSON files) would cost if "
              f"each were fsynced alone, about {400 * fs:.2f} s, against director_write_outputs' {wo:.2f} s wall "
              f"({woc:.2f} s CPU). (dr_tmpdir_commit syncs an output folder once instead.)")
            w("")
        w("Targets (issue 8): pose plan < 1 s, whole run with both videos < 5 s.")
        w("")
    text = "\n".join(out) + "\n"
    print(text)
    if doc:
        try:
            cur = open(doc).read()
        except FileNotFoundError:
            cur = "# Performance\n"
        if "\n## make bench\n" not in "\n" + cur:
            cur = cur.rstrip("\n") + "\n\n" + INTRO
        # the run goes at the end of the "make bench" section, before any later section
        start = ("\n" + cur).index("\n## make bench\n")
        nxt = cur.find("\n## ", start + 1)
        head, tail = (cur, "") if nxt < 0 else (cur[:nxt + 1], cur[nxt + 1:])
        with open(doc, "w") as f:
            f.write(head.rstrip("\n") + "\n\n" + text + ("\n" + tail if tail else ""))
        print(f"bench: table appended to {doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
