#!/usr/bin/env python3
"""PyTorch side of benches/benches/gemm.rs: a 2048² f32 matrix product with the same thread count.

    /tmp/torchenv/bin/python tools/bench_gemm_torch.py [--threads 2]
Prints one line per case with the median time in milliseconds, in the criterion bench's naming.
"""
import argparse

import torch
from bench_timing import median_ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for n in [2048]:
        a, b = torch.randn(n, n), torch.randn(n, n)
        with torch.no_grad():
            t = median_ms(lambda: torch.mm(a, b))
        print(f"gemm/matmul/{n}x{n}x{n}: {t:.3f} ms")


if __name__ == "__main__":
    main()
