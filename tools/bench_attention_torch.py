#!/usr/bin/env python3
"""PyTorch side of benches/benches/attention.rs: the same shapes, ops and thread count.

Run on the same machine as `cargo bench -p attn-benches --bench attention`:
    /tmp/torchenv/bin/python tools/bench_attention_torch.py [--threads 2]
Prints one line per case with the median time in milliseconds, in the criterion bench's naming.
"""
import argparse

import torch
import torch.nn.functional as F
from bench_timing import median_ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for b, s, d, h in [(32, 64, 128, 4), (16, 256, 256, 8)]:
        label = f"B{b}_S{s}_D{d}_H{h}"
        q, k, v = (torch.randn(b, h, s, d // h) for _ in range(3))
        with torch.no_grad():
            t = median_ms(lambda: F.scaled_dot_product_attention(q, k, v))
        print(f"sdpa/forward/{label}: {t:.3f} ms")
        qg, kg, vg = (x.clone().requires_grad_() for x in (q, k, v))
        t = median_ms(lambda: F.scaled_dot_product_attention(qg, kg, vg).sum().backward())
        print(f"sdpa/forward_backward/{label}: {t:.3f} ms")

        mha = torch.nn.MultiheadAttention(d, h, batch_first=True)
        x = torch.randn(b, s, d)
        mha.eval()
        with torch.no_grad():
            t = median_ms(lambda: mha(x, x, x, need_weights=False)[0])
        print(f"mha/forward/{label}: {t:.3f} ms")
        mha.train()

        def step():
            mha.zero_grad(set_to_none=False)
            mha(x, x, x, need_weights=False)[0].sum().backward()

        t = median_ms(step)
        print(f"mha/forward_backward/{label}: {t:.3f} ms")


if __name__ == "__main__":
    main()
