"""PyTorch's GEMM at the shapes of bench_models' ceiling (2048^3, and the LLM head
2560x4096x256 with the weight transposed), for `make bench`: the ceiling of the run is the
faster of the two sides' GEMMs. Usage: torch_gemm.py."""
import torch

import torch_common as tc


def main():
    tc.setup("gemm")
    shapes = [("gemm.square2048", 2048, 2048, 2048, False), ("gemm.lmhead", 2560, 4096, 256, True)]
    for key, M, N, K, tb in shapes:
        a = torch.randn(M, K)
        b = torch.randn(N, K) if tb else torch.randn(K, N)
        out = torch.empty(M, N)
        def run():
            if tb:
                torch.mm(a, b.t(), out=out)
            else:
                torch.mm(a, b, out=out)
        wall, cpu = tc.time_steps(run, 7)
        print(f"{key}.flops {2.0 * M * N * K:.6e}")
        print(f"{key}.best_wall_s {min(wall):.6f}")
        tc.report(key, wall, cpu)


if __name__ == "__main__":
    main()
