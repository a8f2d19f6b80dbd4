#!/usr/bin/env python3
"""Golden suggestions of the learning-rate range test: fastai's own `minimum` and `valley`
(fastai 2.x, `fastai.callback.schedule`) on smoothed loss curves, sliced as `Learner.lr_find` slices them
(the first num_it//10 steps and the last 5 left out). Writes
attn-runtime/tests/fixtures/lr_finder/suggestions.json; attn-runtime/tests/lr_finder.rs reads it.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch fastai numpy
    /tmp/venv/bin/python tools/gen_lr_finder_fixtures.py
"""
import json
from pathlib import Path

import numpy as np
import torch
from fastai.callback.schedule import minimum, valley

OUT = Path(__file__).resolve().parent.parent / "attn-runtime/tests/fixtures/lr_finder/suggestions.json"


def smoothed(losses, beta=0.98):
    """fastai's Recorder smoothing: a bias-corrected exponential moving average."""
    out, avg = [], 0.0
    for i, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def curve(name, losses, num_it=100, min_lr=1e-7, max_lr=1.0):
    n = len(losses)
    lrs = [min_lr * (max_lr / min_lr) ** (i / (num_it - 1)) for i in range(n)]
    sm = smoothed(losses)
    lo, hi = num_it // 10, len(sm) - 5
    args = (torch.tensor(lrs[lo:hi]), torch.tensor(sm[lo:hi]), num_it)
    return {"name": name, "num_it": num_it, "lrs": lrs, "losses": losses, "smoothed": sm,
            "valley": valley(*args)[0], "minimum": minimum(*args)[0]}


def main():
    rng = np.random.default_rng(0)
    i = np.arange(100)
    log_lr = np.log10(1e-7) + i / 99 * 7
    # a clean curve: flat, a fall around 1e-3, a blow-up past 1e-1
    clean = 2.5 - 1.5 / (1 + np.exp(-(log_lr + 3) * 2)) + np.where(log_lr > -1, (log_lr + 1) * 6, 0)
    # the same with batch noise, an early spike (what fooled the steepest-fall rule on a real
    # file: a 7-language identification set, where it suggested 5e-7) and a divergence
    noisy = clean + rng.normal(0, 0.25, 100)
    noisy[12] += 1.5
    diverged = (clean + rng.normal(0, 0.1, 100))[:83]
    curves = [
        curve("clean", [float(x) for x in clean]),
        curve("noisy with an early spike", [float(x) for x in noisy]),
        curve("stopped at step 83", [float(x) for x in diverged]),
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"source": "fastai.callback.schedule", "curves": curves}, indent=1) + "\n")
    for c in curves:
        print(f"{c['name']}: minimum/10 {c['minimum']:.3e}, valley {c['valley']:.3e}")


if __name__ == "__main__":
    main()
