"""Shared pieces of the PyTorch peers of `make bench` (bench/torch_*.py).

Run only by scripts/bench with Debian's /usr/bin/python3 and python3-torch; never part of
director. Each peer rebuilds one of director's models at the shapes printed by
bench_models (passed in as one JSON argument), times its training step the same way
(median of N steps after one warm-up step, wall-clock and process CPU seconds) and prints
`key value` lines with the same keys as bench_models.
"""
import ctypes
import os
import re
import statistics
import sys
import time

import torch


def setup(prefix):
    """Threads from DR_BENCH_THREADS (2 by default, as director); prints what ran."""
    threads = int(os.environ.get("DR_BENCH_THREADS", "2"))
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    cap = re.search(r"CPU capability usage: (\S+)", torch.__config__.show())
    maps = open("/proc/self/maps").read()
    blas = sorted({l.split()[-1] for l in maps.splitlines() if re.search(r"lib(open)?blas", l)})
    core = "?"
    for path in blas:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            core = "OpenBLAS " + lib.openblas_get_corename().decode()
            lib.openblas_get_config.restype = ctypes.c_char_p
            core += " (" + lib.openblas_get_config().decode().strip() + ")"
            break
        except (OSError, AttributeError):
            core = "reference BLAS (no OpenBLAS)"
    malloc = "tcmalloc" if "tcmalloc" in maps else "glibc malloc"
    print(f"{prefix}.setup torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"ATen {cap.group(1) if cap else '?'} kernels, BLAS {core} [{' '.join(blas)}], "
          f"{malloc}, omp wait policy {os.environ.get('OMP_WAIT_POLICY', 'default')}", flush=True)


def time_steps(step, steps):
    """Runs step() once to warm up, then `steps` times; returns lists of wall and CPU seconds."""
    step()
    wall, cpu = [], []
    for _ in range(steps):
        w, c = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return wall, cpu


def report(key, wall, cpu):
    print(f"{key}.wall_s {statistics.median(wall):.6f}")
    print(f"{key}.cpu_s {statistics.median(cpu):.6f}")
    print(f"{key}.samples {len(wall)}", flush=True)


def args():
    """argv: CONFIG_JSON [--steps N]."""
    import json
    if len(sys.argv) < 2:
        sys.exit(f"usage: {sys.argv[0]} CONFIG_JSON [--steps N]")
    cfg = json.loads(sys.argv[1])
    steps = 5
    if "--steps" in sys.argv:
        steps = int(sys.argv[sys.argv.index("--steps") + 1])
    return cfg, steps
