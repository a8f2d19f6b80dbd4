#!/usr/bin/env python3
"""PyTorch side of benches/benches/gemm.rs: f32 matrix products (2048³ and the shapes a training
step of our models makes, laid out as its layers lay them out) with the same thread count.

    /tmp/torchenv/bin/python tools/bench_gemm_torch.py [--threads 2]
Prints one line per case with the median time in milliseconds, in the criterion bench's naming.
"""
import argparse

import torch
from bench_timing import median_ms

# (rows, inner, cols), as in benches/benches/gemm.rs
PROJ = [(2048, 64, 64), (2048, 128, 128), (2048, 128, 512), (2048, 512, 128), (4096, 256, 256),
        (2048, 512, 512)]
WEIGHT_GRAD = [(128, 2048, 128), (512, 2048, 128)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    with torch.no_grad():
        for n in [2048]:
            a, b = torch.randn(n, n), torch.randn(n, n)
            t = median_ms(lambda: torch.mm(a, b))
            print(f"gemm/matmul/{n}x{n}x{n}: {t:.3f} ms")
        # a projection's forward, x · Wᵀ (F.linear's product), into a buffer allocated once
        for m, k, n in PROJ:
            x, w, y = torch.randn(m, k), torch.randn(n, k), torch.empty(m, n)
            t = median_ms(lambda: torch.mm(x, w.t(), out=y))
            print(f"gemm/proj/{m}x{k}x{n}: {t:.3f} ms")
        # a projection's weight gradient added to its buffer, dW += dyᵀ · x
        for m, k, n in WEIGHT_GRAD:
            dy, x, dw = torch.randn(k, m), torch.randn(k, n), torch.zeros(m, n)
            t = median_ms(lambda: dw.addmm_(dy.t(), x))
            print(f"gemm/weight_grad/{m}x{k}x{n}: {t:.3f} ms")


if __name__ == "__main__":
    main()
