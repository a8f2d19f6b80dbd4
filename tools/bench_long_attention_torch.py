#!/usr/bin/env python3
"""PyTorch twin of benches/examples/long_attention.rs: long-sequence self-attention,
forward+backward, one size per process (issue 10).

    /root/torchenv/bin/python tools/bench_long_attention_torch.py --seq 4096 --kind causal \
        --reps 3 --threads 2

Builds q, k, v of shape [1, 8, S, 64] (f32, CPU, requires_grad), runs
`F.scaled_dot_product_attention(q, k, v, ...).sum().backward()` once to warm up and then --reps
times, and prints one JSON line with the median time and the process's peak resident set
(`ru_maxrss`, KiB on Linux). One size per process, so that peak is this size's peak; it includes
the ~hundreds of MB that `import torch` itself maps (reported as base_rss_mb).

--kind: full (no mask), causal (`is_causal=True`) or window:<w> (query i sees keys |i - j| <= w,
as a boolean `attn_mask`). PyTorch has no band-mask argument, so the window kind materialises an
[S, S] bool mask: S² bytes (256 MiB at S = 16384) that count in its peak RSS, and the kernel still
visits all S² scores, so its time grows with S², not S·window.

The driver is tools/bench_long_attention.py.
"""
import argparse
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

BATCH, HEADS, HEAD_DIM = 1, 8, 64


def rss_mb(field):
    """A field of /proc/self/status in MiB, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def parse_kind(s):
    if s in ("full", "causal"):
        return s, None
    if s.startswith("window:"):
        try:
            w = int(s[len("window:"):])
        except ValueError:
            w = 0
        if w >= 1:
            return "window", w
    raise SystemExit(f"bad --kind {s!r}: use full, causal or window:<w> (w >= 1)")


def band_mask(s, w):
    """[S, S] bool, True where |i - j| <= w (True = may attend, SDPA's convention).

    Built in place on one S² bool tensor (an arange difference would be S² int64s, 8× more).
    This mask is itself S² bytes: PyTorch's SDPA has no way to express a band without it.
    """
    return torch.ones(s, s, dtype=torch.bool).triu_(-w).tril_(w)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--kind", default="full")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.seq < 1 or args.reps < 1:
        raise SystemExit("--seq and --reps must be >= 1")
    kind, window = parse_kind(args.kind)
    base_rss = rss_mb("VmRSS:")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    shape = (BATCH, HEADS, args.seq, HEAD_DIM)
    q, k, v = (torch.randn(shape, requires_grad=True) for _ in range(3))
    kwargs = {}
    if kind == "causal":
        kwargs["is_causal"] = True
    elif kind == "window":
        kwargs["attn_mask"] = band_mask(args.seq, window)

    def step():
        start = time.perf_counter()
        out = F.scaled_dot_product_attention(q, k, v, **kwargs)
        out.sum().backward()
        elapsed = (time.perf_counter() - start) * 1e3
        for x in (q, k, v):
            x.grad = None
        return elapsed

    step()  # warm-up
    times = [step() for _ in range(args.reps)]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "impl": "torch",
                "seq": args.seq,
                "kind": args.kind,
                "ms_fwd_bwd": round(statistics.median(times), 3),
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "base_rss_mb": None if base_rss is None else round(base_rss, 1),
                "reps": args.reps,
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "ms_all": [round(t, 3) for t in times],
            },
            separators=(", ", ":"),
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
