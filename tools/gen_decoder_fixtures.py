#!/usr/bin/env python3
"""Golden fixtures for the causal decoder block with rotary positions, computed by PyTorch.

What it produces: attn-runtime/tests/fixtures/transformer/decoder_block_rotary_causal*.safetensors,
read by attn-runtime/tests/golden_decoder.rs. The block is the one `CausalLm` stacks: attn's
`EncoderBlock<M, H, FeedForward<M, F, Gelu>, PRE = true>` run with
`AttentionOptions { mask: causal, rotary: Some(Rotary { base: 10000, offset }) }`, i.e.

    h = x + out_proj(attn(rope(q), rope(k), v))    with q, k, v = in_proj(norm1(x)) split per head
    y = h + linear2(gelu(linear1(norm2(h))))        (exact, erf GELU; LayerNorm eps 1e-5)

where `rope` rotates each head's query and key (head dim d = M / H) in the GPT-NeoX / LLaMA
`rotate_half` layout: `x·cos + [−x2, x1]·sin` with angles `(offset + t)·base^(−2i/d)`, each angle
repeated over both halves. PyTorch has no module for this (nn.TransformerEncoderLayer has no
rotary), so the block is written out by hand, with parameters named as nn.TransformerEncoderLayer
names them (`self_attn.in_proj_weight`, `self_attn.in_proj_bias`, `self_attn.out_proj.*`,
`linear1.*`, `linear2.*`, `norm1.*`, `norm2.*`) so that attn's
`EncoderBlock::load_pytorch_state_dict` reads them. As a check of the hand-written block, the script
asserts that without rotary it equals nn.TransformerEncoderLayer(norm_first=True, activation="gelu")
loaded with the same state dict, and that its attention equals F.scaled_dot_product_attention.

Each file holds `input.x`, `upstream`, `expected.output`, `loss` (= sum(output * upstream), the
scalar backpropagated), `grad.x`, `param.<name>` and `grad.<name>` for every parameter, and a
`config` JSON in the metadata (m, h, f, b, s, offset, base, causal, lengths, activation). Parameters
and inputs are float32 from a fixed seed; the computation runs in float64 on those values; results
are stored as float32.

Run (CPU PyTorch; safetensors is used when installed, else a minimal writer of the same format):

    /tmp/venv-torch/bin/python tools/gen_decoder_fixtures.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F

from fixture_io import write_safetensors

OUT = os.path.join(os.path.dirname(__file__), "..", "attn-runtime", "tests", "fixtures", "transformer")
M, FF, BASE = 8, 16, 10000.0


class RotaryDecoderBlock(torch.nn.Module):
    """Pre-norm causal self-attention block with rotary q/k, nn.TransformerEncoderLayer's names."""

    def __init__(self, m, h, ff):
        super().__init__()
        self.h = h
        self.self_attn = torch.nn.MultiheadAttention(m, h, dropout=0.0, batch_first=True)  # holds parameters only
        self.linear1 = torch.nn.Linear(m, ff)
        self.linear2 = torch.nn.Linear(ff, m)
        self.norm1 = torch.nn.LayerNorm(m, eps=1e-5)
        self.norm2 = torch.nn.LayerNorm(m, eps=1e-5)

    def attention(self, x, rotary_offset, allowed):
        """x [B, S, M]; rotary_offset None for no rotary; allowed [B, S, S] bool (True = may attend)."""
        b, s, m = x.shape
        d = m // self.h
        qkv = F.linear(x, self.self_attn.in_proj_weight, self.self_attn.in_proj_bias)
        q, k, v = (t.reshape(b, s, self.h, d).transpose(1, 2) for t in qkv.split(m, dim=-1))  # [B, H, S, d]
        if rotary_offset is not None:
            q, k = rope(q, rotary_offset), rope(k, rotary_offset)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d)
        scores = scores.masked_fill(~allowed[:, None], float("-inf"))
        ctx = scores.softmax(-1) @ v  # [B, H, S, d]
        ctx = ctx.transpose(1, 2).reshape(b, s, m)
        return self.self_attn.out_proj(ctx), (q, k, v)

    def forward(self, x, rotary_offset, allowed):
        a, _ = self.attention(self.norm1(x), rotary_offset, allowed)
        h = x + a
        return h + self.linear2(F.gelu(self.linear1(self.norm2(h))))


def rope(x, offset):
    """Rotary embedding of [B, H, S, d] at positions offset.., rotate_half layout (HF LLaMA)."""
    s, d = x.shape[-2], x.shape[-1]
    half = d // 2
    inv_freq = BASE ** (-torch.arange(0, half, dtype=torch.float64) * 2 / d)
    angles = torch.arange(offset, offset + s, dtype=torch.float64)[:, None] * inv_freq[None]
    emb = torch.cat([angles, angles], dim=-1)
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * emb.cos() + rotated * emb.sin()


def allowed_mask(b, s, lengths):
    causal = torch.tril(torch.ones(s, s, dtype=torch.bool))
    keys = torch.arange(s)[None, :] < torch.tensor(lengths)[:, None]  # [B, S] True = real key
    return causal[None] & keys[:, None, :]


def randomise(module, g):
    with torch.no_grad():
        for _, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.4)


def self_check(block, x, allowed, lengths):
    """The hand-written block without rotary equals PyTorch's own modules."""
    with torch.no_grad():
        # attention against F.scaled_dot_product_attention (with rotary: the rotation is ours alone)
        for offset in (None, 3):
            normed = block.norm1(x)
            ours, (q, k, v) = block.attention(normed, offset, allowed)
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed[:, None])
            b, s, m = x.shape
            ref = block.self_attn.out_proj(ctx.transpose(1, 2).reshape(b, s, m))
            assert torch.allclose(ours, ref, atol=1e-12, rtol=0), "attention vs sdpa"
        # block without rotary against nn.TransformerEncoderLayer(norm_first=True, gelu)
        layer = torch.nn.TransformerEncoderLayer(M, block.h, FF, dropout=0.0, activation="gelu",
                                                 batch_first=True, norm_first=True).double()
        layer.load_state_dict(block.state_dict())
        layer.eval()
        s = x.shape[1]
        ref = layer(x, src_mask=torch.triu(torch.ones(s, s, dtype=torch.bool), diagonal=1),
                    src_key_padding_mask=torch.arange(s)[None, :] >= torch.tensor(lengths)[:, None])
        ours = block(x, None, allowed)
        assert torch.allclose(ours, ref, atol=1e-12, rtol=0), "block vs nn.TransformerEncoderLayer"
    # rotary: the dot product of rotated q, k depends on the relative position only
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 1, 1, M // block.h, generator=g, dtype=torch.float64)
    k = torch.randn(1, 1, 1, M // block.h, generator=g, dtype=torch.float64)
    dot = lambda i, j: (rope(q, i) * rope(k, j)).sum()  # noqa: E731
    assert torch.allclose(dot(5, 2), dot(13, 10), atol=1e-12), "rotary relative positions"


def case(name, seed, h, offset, lengths, s=5):
    g = torch.Generator().manual_seed(seed)
    block = RotaryDecoderBlock(M, h, FF)
    randomise(block, g)
    block = block.double()
    b = len(lengths)
    x = torch.randn(b, s, M, generator=g).double().requires_grad_()
    upstream = torch.randn(b, s, M, generator=g).double()
    allowed = allowed_mask(b, s, lengths)
    self_check(block, x.detach(), allowed, lengths)

    out = block(x, offset, allowed)
    loss = (out * upstream).sum()
    loss.backward()
    tensors = {"input.x": x, "grad.x": x.grad, "upstream": upstream, "expected.output": out, "loss": loss.reshape(1)}
    tensors.update({f"param.{n}": p for n, p in block.state_dict().items()})
    tensors.update({f"grad.{n}": p.grad for n, p in block.named_parameters()})
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    config = dict(m=M, h=h, f=FF, b=b, s=s, offset=offset, base=BASE, causal=True, lengths=lengths,
                  activation="gelu", norm_first=True)
    os.makedirs(OUT, exist_ok=True)
    write_safetensors(tensors, os.path.join(OUT, f"{name}.safetensors"), {"config": json.dumps(config)})
    print(f"wrote {name}: loss {loss.item():.6f}, {len(tensors)} tensors")


def main():
    torch.manual_seed(0)
    # The CausalLm case: two heads (head dim 4), positions from 0, every key real.
    case("decoder_block_rotary_causal", 60, 2, 0, [5, 5])
    # Incremental-decoding positions (offset 3) and a padded second sequence.
    case("decoder_block_rotary_causal_offset3", 61, 2, 3, [5, 3])
    # One head: head dim 8, four rotary frequencies.
    case("decoder_block_rotary_causal_h1", 62, 1, 0, [5, 5])


if __name__ == "__main__":
    main()
