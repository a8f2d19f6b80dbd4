#!/usr/bin/env python3
"""Golden fixtures for attn's fused CPU kernels (layer norm, softmax cross-entropy), by PyTorch.

Provenance: every expected value in attn-runtime/tests/fixtures/kernels/*.safetensors comes from
this script, run with PyTorch (CPU) from PyPI:

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy safetensors
    /tmp/torchenv/bin/python tools/gen_kernel_fixtures.py

The kernels are `NormExt::try_norm` (attn-runtime/src/transformer/layer_norm.rs) and
`try_cross_entropy_rows{,_smoothed}` (attn-runtime/src/loss.rs, fused in loss_kernel.rs); the
test is attn-runtime/tests/golden_kernels.rs. Inputs are float32 from a fixed seed; the reference
runs in float64 on exactly those values, and results are stored as float32.

- layer norm: `F.layer_norm(x, (M,), gamma, beta, eps=1e-5)`, loss = sum(output * upstream);
  stored: input.x, param.gamma, param.beta, upstream, expected.output, grad.x, grad.gamma,
  grad.beta. One case has rows that are not a multiple of the kernel's 16 rows per task, one
  has large-magnitude inputs (x*50 + 100: mean/variance cancellation).
- cross entropy: `F.cross_entropy(logits, targets, ignore_index=-100, label_smoothing=eps)`,
  reduction mean, loss = upstream * cross_entropy (upstream scalar in config); stored:
  input.logits, targets (float32, -1 for an ignored row: attn's IGNORE is usize::MAX where
  PyTorch uses -100), expected.loss, grad.logits.
"""
import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "attn-runtime", "tests", "fixtures", "kernels")
EPS = 1e-5


def save(name, tensors, config):
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    os.makedirs(OUT, exist_ok=True)
    save_file(tensors, os.path.join(OUT, f"{name}.safetensors"), metadata={"config": json.dumps(config)})
    print(f"wrote {name}")


def f32(t):
    """Rounds to float32 (the inputs the Rust side sees), then computes in float64."""
    return t.to(torch.float32).double()


def layer_norm(name, seed, shape, scale, shift):
    g = torch.Generator().manual_seed(seed)
    m = shape[-1]
    x = f32(torch.randn(*shape, generator=g, dtype=torch.float64) * scale + shift).requires_grad_()
    gamma = f32(1.0 + 0.5 * torch.randn(m, generator=g, dtype=torch.float64)).requires_grad_()
    beta = f32(0.3 * torch.randn(m, generator=g, dtype=torch.float64)).requires_grad_()
    upstream = f32(torch.randn(*shape, generator=g, dtype=torch.float64))
    out = F.layer_norm(x, (m,), gamma, beta, eps=EPS)
    (out * upstream).sum().backward()
    save(name, {
        "input.x": x, "param.gamma": gamma, "param.beta": beta, "upstream": upstream,
        "expected.output": out, "grad.x": x.grad, "grad.gamma": gamma.grad, "grad.beta": beta.grad,
    }, dict(shape=list(shape), m=m, eps=EPS, scale=scale, shift=shift))


def cross_entropy(name, seed, rows, classes, scale, smoothing, ignored, upstream=3.0):
    g = torch.Generator().manual_seed(seed)
    logits = f32(torch.randn(rows, classes, generator=g, dtype=torch.float64) * scale).requires_grad_()
    targets = torch.randint(0, classes, (rows,), generator=g)
    for r in ignored:
        targets[r] = -100
    loss = F.cross_entropy(logits, targets, ignore_index=-100, label_smoothing=smoothing, reduction="mean")
    (loss * upstream).backward()
    stored_targets = torch.where(targets == -100, torch.full_like(targets, -1), targets)
    save(name, {
        "input.logits": logits, "targets": stored_targets.double(), "expected.loss": loss.reshape(1),
        "grad.logits": logits.grad,
    }, dict(rows=rows, classes=classes, scale=scale, label_smoothing=smoothing, ignored=list(ignored),
            upstream=upstream))


def main():
    torch.manual_seed(0)
    # 111 rows: not a multiple of the 16 rows per task
    layer_norm("layer_norm_3x37x24", 61, (3, 37, 24), 1.0, 0.0)
    # large magnitude: the mean is ~100 and the spread ~50
    layer_norm("layer_norm_2x5x128_large", 62, (2, 5, 128), 50.0, 100.0)
    # 37 rows (not a multiple of the 8 rows per task), rows 3 and 36 ignored
    cross_entropy("cross_entropy_37x11", 63, 37, 11, 4.0, 0.0, [3, 36])
    cross_entropy("cross_entropy_37x11_smoothed", 63, 37, 11, 4.0, 0.1, [3, 36])
    # large logits: the max-shift must keep exp in range
    cross_entropy("cross_entropy_64x1000_large", 64, 64, 1000, 20.0, 0.0, [])


if __name__ == "__main__":
    main()
