#!/usr/bin/env python3
"""Golden fixtures for attn's attention layers, computed by PyTorch.

Provenance: every expected value in attn-runtime/tests/fixtures/attention/*.safetensors comes from
this script, run with PyTorch (CPU) from PyPI:

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy safetensors
    /tmp/torchenv/bin/python tools/gen_attention_fixtures.py

Inputs and parameters are drawn in float32 from a fixed seed and stored as float32; the reference
computation runs in float64 on those exact values (so the stored expectations carry no float32
rounding of their own) and is stored as float32. Each file holds:
  - inputs (`q`, `k`, `v`, `query`, `key`, `value`, ...), parameters under PyTorch's own names,
  - `upstream`: the gradient fed into the context output, i.e. loss = sum(context * upstream),
  - `expected.context`, `expected.weights` (softmax probabilities, [B, H, Sq, Sk] or [B, Sq, Sk]),
  - `grad.<name>` for every input and parameter,
and its metadata `config` (JSON) names the case's sizes and mask.

References: F.scaled_dot_product_attention and nn.MultiheadAttention for the dot-product family;
the additive (Bahdanau) and general (Luong) scores are written out from the papers' formulas,
since PyTorch has no module for them.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "attn-runtime", "tests", "fixtures", "attention")


def rand(g, *shape):
    return torch.randn(*shape, generator=g, dtype=torch.float32)


def allowed_mask(b, sq, sk, causal=False, lengths=None, window=None, custom=None):
    """[B, Sq, Sk] bool, True = may attend (the conjunction of all constraints)."""
    m = torch.ones(b, sq, sk, dtype=torch.bool)
    i = torch.arange(sq)[:, None]
    j = torch.arange(sk)[None, :]
    if causal:
        m &= (j <= i)[None]
    if window is not None:
        m &= ((i - j).abs() <= window)[None]
    if lengths is not None:
        m &= (torch.arange(sk)[None, :] < torch.tensor(lengths)[:, None])[:, None, :]
    if custom is not None:
        m &= custom if custom.dim() == 3 else custom[None]
    return m


def masked_softmax(scores, allowed):
    """Softmax over the last axis with disallowed keys at -inf; fully masked rows give zeros."""
    s = scores.masked_fill(~allowed, float("-inf"))
    w = torch.softmax(s, dim=-1)
    return torch.nan_to_num(w, nan=0.0)


def f32(d):
    return {k: v.detach().to(torch.float32).contiguous() for k, v in d.items()}


def save(name, tensors, config):
    os.makedirs(OUT, exist_ok=True)
    save_file(f32(tensors), os.path.join(OUT, f"{name}.safetensors"), metadata={"config": json.dumps(config)})
    print(f"wrote {name}: {sorted(tensors)}")


def sdpa_case(name, seed, b, h, sq, sk, dk, dv, scale=None, causal=False, lengths=None, window=None,
              custom=None):
    g = torch.Generator().manual_seed(seed)
    q, k, v = rand(g, b, h, sq, dk), rand(g, b, h, sk, dk), rand(g, b, h, sk, dv)
    upstream = rand(g, b, h, sq, dv)
    custom_t = None
    if custom is not None:
        custom_t = torch.rand(sq, sk, generator=g) < custom
    allowed = allowed_mask(b, sq, sk, causal, lengths, window, custom_t)

    q64, k64, v64 = (t.double().requires_grad_() for t in (q, k, v))
    attn_mask = allowed[:, None]  # broadcast over heads
    ctx = F.scaled_dot_product_attention(q64, k64, v64, attn_mask=attn_mask, scale=scale)
    (ctx * upstream.double()).sum().backward()

    factor = scale if scale is not None else dk ** -0.5
    weights = masked_softmax((q.double() @ k.double().transpose(-1, -2)) * factor, attn_mask)
    manual = weights @ v.double()
    assert torch.allclose(manual, ctx.detach(), atol=1e-12), "manual softmax disagrees with SDPA"

    tensors = {
        "q": q, "k": k, "v": v, "upstream": upstream,
        "expected.context": ctx, "expected.weights": weights,
        "grad.q": q64.grad, "grad.k": k64.grad, "grad.v": v64.grad,
    }
    if custom_t is not None:
        tensors["custom_mask"] = custom_t.to(torch.float32)
    config = dict(b=b, h=h, sq=sq, sk=sk, dk=dk, dv=dv, scale=scale, causal=causal, lengths=lengths,
                  window=window, custom=custom is not None)
    save(name, tensors, config)


def mha_case(name, seed, b, sq, sk, m, h, kdim, vdim, bias=True, causal=False, lengths=None,
             window=None):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mha = torch.nn.MultiheadAttention(m, h, bias=bias, kdim=kdim, vdim=vdim, batch_first=True)
    with torch.no_grad():  # non-zero biases so that they are exercised
        for n, p in mha.named_parameters():
            p.copy_(rand(g, *p.shape) * 0.5)
    params = {n: p.detach().clone() for n, p in mha.state_dict().items()}
    query, key, value = rand(g, b, sq, m), rand(g, b, sk, kdim), rand(g, b, sk, vdim)
    upstream = rand(g, b, sq, m)
    # nn.MultiheadAttention masks where True (ours allows where True); padding goes in as
    # key_padding_mask, causal/window constraints as a shared [Sq, Sk] attn_mask.
    structural = allowed_mask(1, sq, sk, causal, None, window)[0]
    attn_mask = None if bool(structural.all()) else ~structural
    key_padding_mask = None
    if lengths is not None:
        key_padding_mask = torch.arange(sk)[None, :] >= torch.tensor(lengths)[:, None]

    mha = mha.double()
    inputs = [t.double().requires_grad_() for t in (query, key, value)]
    ctx, weights = mha(*inputs, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                       need_weights=True, average_attn_weights=False)
    (ctx * upstream.double()).sum().backward()

    tensors = {"query": query, "key": key, "value": value, "upstream": upstream,
               "expected.context": ctx, "expected.weights": weights}
    tensors.update({f"param.{n}": p for n, p in params.items()})
    for n, t in zip(("query", "key", "value"), inputs):
        tensors[f"grad.{n}"] = t.grad
    for n, p in mha.named_parameters():
        tensors[f"grad.{n}"] = p.grad
    config = dict(b=b, sq=sq, sk=sk, m=m, h=h, kdim=kdim, vdim=vdim, bias=bias, causal=causal,
                  lengths=lengths, window=window)
    save(name, tensors, config)
    # the bare state dict, as a user would save it, for the loading test
    save_file(f32(params), os.path.join(OUT, f"{name}.state_dict.safetensors"))


def scored_case(name, seed, kind, b, sq, sk, qdim, kdim, dv, adim=None, lengths=None):
    """Bahdanau (additive), Luong general or Luong dot attention, written out from the papers."""
    g = torch.Generator().manual_seed(seed)
    query, keys, values = rand(g, b, sq, qdim), rand(g, b, sk, kdim), rand(g, b, sk, dv)
    upstream = rand(g, b, sq, dv)
    params = {}
    if kind == "additive":
        params = {"query_proj.weight": rand(g, adim, qdim) * 0.5, "key_proj.weight": rand(g, adim, kdim) * 0.5,
                  "key_proj.bias": rand(g, adim) * 0.5, "score_proj.weight": rand(g, 1, adim) * 0.5}
    elif kind == "general":
        params = {"query_proj.weight": rand(g, kdim, qdim) * 0.5}
    allowed = allowed_mask(b, sq, sk, lengths=lengths)

    p64 = {n: p.double().requires_grad_() for n, p in params.items()}
    q64, k64, v64 = (t.double().requires_grad_() for t in (query, keys, values))
    if kind == "additive":
        wq = q64 @ p64["query_proj.weight"].T  # [B, Sq, A]
        uk = k64 @ p64["key_proj.weight"].T + p64["key_proj.bias"]  # [B, Sk, A]
        energy = torch.tanh(wq[:, :, None, :] + uk[:, None, :, :])  # [B, Sq, Sk, A]
        scores = (energy @ p64["score_proj.weight"].T)[..., 0]
    elif kind == "general":
        scores = (q64 @ p64["query_proj.weight"].T) @ k64.transpose(1, 2)
    else:
        scores = q64 @ k64.transpose(1, 2)
    weights = masked_softmax(scores, allowed)
    ctx = weights @ v64
    (ctx * upstream.double()).sum().backward()

    tensors = {"query": query, "keys": keys, "values": values, "upstream": upstream,
               "expected.context": ctx, "expected.weights": weights,
               "grad.query": q64.grad, "grad.keys": k64.grad, "grad.values": v64.grad}
    tensors.update({f"param.{n}": p for n, p in params.items()})
    tensors.update({f"grad.{n}": p.grad for n, p in p64.items()})
    config = dict(kind=kind, b=b, sq=sq, sk=sk, qdim=qdim, kdim=kdim, dv=dv, adim=adim, lengths=lengths)
    save(name, tensors, config)


def main():
    torch.set_default_dtype(torch.float32)
    # scaled dot-product attention and its masks: B=2, H=3, Sq=4, Sk=5 (Sq != Sk), Dk=6, Dv=7
    sdpa_case("sdpa_plain", 1, 2, 3, 4, 5, 6, 7)
    sdpa_case("dot_product_unscaled", 2, 2, 3, 4, 5, 6, 7, scale=1.0)
    sdpa_case("sdpa_causal", 3, 2, 3, 5, 5, 6, 7, causal=True)
    sdpa_case("sdpa_key_padding", 4, 2, 3, 4, 5, 6, 7, lengths=[3, 5])
    sdpa_case("sdpa_window", 5, 2, 3, 5, 5, 6, 7, window=1)
    sdpa_case("sdpa_bool_mask", 6, 2, 3, 4, 5, 6, 7, custom=0.6)
    sdpa_case("sdpa_combined", 7, 2, 3, 5, 5, 6, 7, causal=True, lengths=[4, 2], window=2)
    sdpa_case("sdpa_fully_masked_row", 8, 2, 3, 4, 5, 6, 7, lengths=[0, 5])
    # multi-head attention: self, cross with kdim != vdim != embed dim, causal without bias
    mha_case("mha_self", 11, 2, 5, 5, 8, 2, 8, 8)
    mha_case("mha_cross", 12, 2, 3, 5, 8, 2, 6, 4, lengths=[5, 3])
    mha_case("mha_causal_nobias", 13, 2, 5, 5, 8, 4, 8, 8, bias=False, causal=True)
    mha_case("mha_local", 14, 2, 6, 6, 8, 2, 8, 8, window=1, lengths=[6, 4])
    # scoring modules for RNN decoders
    scored_case("additive", 21, "additive", 2, 3, 4, 6, 5, 3, adim=7, lengths=[4, 2])
    scored_case("general", 22, "general", 2, 3, 4, 6, 5, 3, lengths=[4, 2])
    scored_case("dot", 23, "dot", 2, 3, 4, 5, 5, 3, lengths=[4, 2])


if __name__ == "__main__":
    sys.exit(main())
