#!/usr/bin/env python3
"""Golden top-k / top-p (nucleus) filtering and temperature of fixed logits, for attn's sampling
tests (attn-runtime/tests/golden_sampling.rs).

Provenance: attn-runtime/tests/fixtures/sampling/warpers.json comes from this script, run with
NumPy from PyPI:

    python3 -m venv /tmp/venv-np && /tmp/venv-np/bin/pip install numpy
    /tmp/venv-np/bin/python tools/gen_sampling_fixtures.py

The reference is Hugging Face transformers' logits warpers (`TemperatureLogitsWarper`,
`TopKLogitsWarper`, `TopPLogitsWarper`, applied in that order by `generate`, with
`filter_value=-inf` and `min_tokens_to_keep=1`), transcribed operation for operation in NumPy
float32 (transformers' own code needs PyTorch):

- temperature: `scores / temperature`;
- top-k: `k = min(max(top_k, 1), vocab)`; tokens whose score is below the k-th largest score
  are set to -inf (a tie with the k-th is kept);
- top-p: scores sorted ascending, their softmax summed cumulatively; tokens whose cumulative
  probability is <= 1 - top_p are set to -inf, the most probable token always kept.

Cases are seeded normal logits (and a few hand-made ones: ties, one dominant token, a uniform
row). Every top-p case is checked to have no cumulative probability within 1e-5 of the
threshold, so float32 and float64 arithmetic filter the same tokens. Also stored: the softmax
of the filtered logits in float64 (what a sampler draws from).
"""
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "attn-runtime", "tests", "fixtures", "sampling")


def softmax64(x):
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    m = x[finite].max()
    e = np.where(finite, np.exp(x - m), 0.0)
    return e / e.sum()


def temperature(scores, t):
    return (scores / np.float32(t)).astype(np.float32)


def top_k(scores, k):
    k = min(max(k, 1), scores.shape[-1])
    kth = np.sort(scores)[::-1][k - 1]
    out = scores.copy()
    out[scores < kth] = -np.inf
    return out


def top_p(scores, p):
    order = np.argsort(scores, kind="stable")  # ascending
    sorted_logits = scores[order]
    finite = np.isfinite(sorted_logits)
    m = sorted_logits[finite].max()
    e = np.where(finite, np.exp((sorted_logits - m).astype(np.float32)), np.float32(0.0)).astype(np.float32)
    probs = (e / e.sum(dtype=np.float32)).astype(np.float32)
    cum = np.cumsum(probs, dtype=np.float32)
    threshold = np.float32(1.0) - np.float32(p)
    margin = np.abs(cum[finite].astype(np.float64) - float(threshold)).min() if finite.any() else 1.0
    remove = cum <= threshold
    remove[-1] = False
    out = scores.copy()
    out[order[remove]] = -np.inf
    return out, margin


def warp(logits, t, k, p):
    s = np.asarray(logits, dtype=np.float32)
    margin = 1.0
    if t is not None:
        s = temperature(s, t)
    if k is not None:
        s = top_k(s, k)
    if p is not None:
        s, margin = top_p(s, p)
    return s, margin


def as_json(a):
    return [None if not np.isfinite(v) else float(v) for v in a]


def main():
    rng = np.random.default_rng(20261201)
    rows = []
    for n in (5, 12, 50, 100):
        for _ in range(3):
            rows.append((rng.standard_normal(n) * rng.uniform(0.5, 4.0)).astype(np.float32))
    rows.append(np.array([2.0, 2.0, 1.0, 1.0, 1.0, -3.0], dtype=np.float32))  # ties
    rows.append(np.array([12.0, 0.0, -1.0, 0.5, 0.25], dtype=np.float32))  # one dominant token
    rows.append(np.zeros(8, dtype=np.float32))  # uniform
    settings = [
        (None, 1, None),
        (None, 3, None),
        (None, 10, None),
        (None, 1000, None),
        (None, None, 0.9),
        (None, None, 0.5),
        (None, None, 0.05),
        (None, None, 1.0),
        (0.7, None, None),
        (1.5, 5, None),
        (0.8, None, 0.9),
        (1.0, 4, 0.8),
        (0.5, 20, 0.95),
        (2.0, 3, 0.3),
    ]
    cases = []
    skipped = 0
    for i, row in enumerate(rows):
        for t, k, p in settings:
            warped, margin = warp(row, t, k, p)
            if p is not None and p < 1.0 and margin < 1e-5:
                skipped += 1
                continue
            cases.append(
                {
                    "name": f"row{i}-t{t}-k{k}-p{p}",
                    "logits": [float(v) for v in row],
                    "temperature": t,
                    "top_k": k,
                    "top_p": p,
                    "warped": as_json(warped),
                    "probs": [float(v) for v in softmax64(warped)],
                }
            )
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "warpers.json"), "w") as f:
        json.dump({"provenance": "tools/gen_sampling_fixtures.py, NumPy " + np.__version__, "cases": cases}, f)
    print(f"wrote {len(cases)} cases ({skipped} too close to the top-p threshold skipped)")


if __name__ == "__main__":
    main()
