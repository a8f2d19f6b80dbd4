#!/usr/bin/env python3
"""Golden trajectories of torch.optim.Adam and torch.optim.AdamW for attn's optimizer tests.

Provenance: attn-runtime/tests/fixtures/optim/*.safetensors come from this script, run with
PyTorch (CPU) from PyPI:

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy safetensors
    /tmp/torchenv/bin/python tools/gen_optim_fixtures.py

A [3, 4] parameter starts from a seeded normal draw; at each of 8 steps its gradient is set to a
seeded normal draw (stored) and the optimizer steps; the parameter after every step is stored.
All float64. Cases: Adam, Adam with L2 weight decay, AdamW with decoupled weight decay.
"""
import json
import os

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "attn-runtime", "tests", "fixtures", "optim")


def trajectory(name, make_opt, config, seed=61, steps=8):
    g = torch.Generator().manual_seed(seed)
    p = torch.nn.Parameter(torch.randn(3, 4, generator=g, dtype=torch.float64))
    opt = make_opt([p])
    tensors = {"initial": p.detach().clone()}
    for t in range(steps):
        grad = torch.randn(3, 4, generator=g, dtype=torch.float64)
        p.grad = grad.clone()
        opt.step()
        tensors[f"grad.{t}"] = grad
        tensors[f"param.{t}"] = p.detach().clone()
    os.makedirs(OUT, exist_ok=True)
    config["steps"] = steps
    save_file(tensors, os.path.join(OUT, f"{name}.safetensors"), metadata={"config": json.dumps(config)})
    print(f"wrote {name}")


def main():
    trajectory("adam", lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8),
               dict(lr=0.01, weight_decay=0.0, decoupled=False))
    trajectory("adam_l2", lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.1),
               dict(lr=0.01, weight_decay=0.1, decoupled=False))
    trajectory("adamw", lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
               dict(lr=0.01, weight_decay=0.1, decoupled=True))


if __name__ == "__main__":
    main()
