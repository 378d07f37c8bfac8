"""director's end-to-end generation time for `make bench`: runs `director generate` on the
shipped models (models/ when every model file is there, else a folder of tiny random-weight
models made by `bench_models tiny`, and says which) for one prompt, for `--samples 4`, and
for one prompt without rendering, under GNU time; prints `e2e.* value` lines: the stage
times the pipeline records in the top plan.json ("seconds" of each sample, summed), the plan /
files / total times from the CLI's stderr lines, wall-clock and peak RSS; then the same
prompt stage by stage in one process (`bench_models e2e`: renderers and encoders apart).
Usage: bench_e2e.py BUILD_DIR SOURCE_DIR WORK_DIR."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

PROMPT = ("The video shows a woman running through a grassy field. She wears a yellow tank top "
          "and black shorts, and the sun is low behind her.")
MODEL_FILES = ("tokenizer.json", "director.safetensors", "rvq.safetensors", "text_encoder.safetensors",
               "interp.safetensors")


def seconds_in(obj, acc):
    """Adds every number of every "seconds" object found in a plan.json to acc."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "seconds" and isinstance(v, dict):
                for s, x in v.items():
                    if isinstance(x, (int, float)):
                        acc[s] = acc.get(s, 0.0) + x
            else:
                seconds_in(v, acc)
    elif isinstance(obj, list):
        for v in obj:
            seconds_in(v, acc)


def main():
    build, src, work = sys.argv[1:4]
    director = os.path.join(build, "director")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    models = os.path.join(src, "models")
    if all(os.path.exists(os.path.join(models, f)) for f in MODEL_FILES):
        print("e2e.models the shipped models (models/)")
    else:
        models = os.path.join(work, "tiny-models")
        subprocess.run([os.path.join(build, "bench_models"), "tiny", models], check=True,
                       stdout=subprocess.DEVNULL)
        print("e2e.models TINY random-weight models (the shipped models are not all in models/ yet: "
              "these times are NOT the shipped models')")
    print(f"e2e.load {open('/proc/loadavg').read().split()[0]}")
    # (key, label, options, repeats): the one-prompt run is repeated and its median run kept
    runs = [("run1", "one prompt (median of 3 runs)", [], 3), ("run2", "--samples 4", ["--samples", "4"], 1),
            ("run3", "one prompt, --renderer none", ["--renderer", "none"], 1)]
    for key, label, extra, repeats in runs:
        tries = []
        for rep in range(repeats):
            out = os.path.join(work, f"{key}-{rep}")
            timing = out + ".time"
            cmd = ["/usr/bin/time", "-o", timing, "-f", "%M %e", director, "generate", PROMPT, "--out", out,
                   "--models", models, "--seed", "1"] + extra
            t0 = time.perf_counter()
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            wall = time.perf_counter() - t0
            if p.returncode != 0:
                sys.stderr.write(p.stderr)
                sys.exit(f"bench_e2e: {' '.join(cmd[5:])} failed")
            tries.append((wall, out, p, open(timing).read().split()[0]))
        wall, out, p, rss = sorted(tries, key=lambda x: x[0])[len(tries) // 2]
        print(f"e2e.{key}.label {label}")
        print(f"e2e.{key}.total_s {wall:.3f}")
        print(f"e2e.{key}.peak_rss_kb {rss}")
        acc = {}  # the top plan.json lists every sample (sample_K/plan.json repeat them)
        with open(os.path.join(out, "plan.json")) as f:
            seconds_in(json.load(f), acc)
        for s, v in acc.items():
            print(f"e2e.{key}.stage.{s} {v:.4f}")
        err = p.stderr
        m = re.search(r"models loaded from .* in ([0-9.]+) s", err)
        if m:
            print(f"e2e.{key}.stage.load_models {m.group(1)}")
        plans = [float(x) for x in re.findall(r"plan ([0-9.]+) s", err)]
        files = [float(x) for x in re.findall(r"files ([0-9.]+) s", err)]
        if plans:
            print(f"e2e.{key}.plan_s {sum(plans):.3f}")
        if files:
            print(f"e2e.{key}.stage.files {sum(files):.4f}")
        sys.stdout.flush()
    # the same prompt stage by stage in one process, through include/director.h
    p = subprocess.run([os.path.join(build, "bench_models"), "e2e", models, os.path.join(work, "api"), PROMPT],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        sys.exit("bench_e2e: bench_models e2e failed")
    for line in p.stdout.splitlines():
        if line.startswith("e2e."):
            print("e2e.api." + line[4:])


if __name__ == "__main__":
    main()
