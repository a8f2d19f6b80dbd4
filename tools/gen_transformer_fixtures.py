#!/usr/bin/env python3
"""Golden fixtures for attn's transformer blocks, computed by PyTorch.

Provenance: every expected value in attn-runtime/tests/fixtures/transformer/*.safetensors comes from
this script, run with PyTorch (CPU) from PyPI:

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy safetensors
    /tmp/torchenv/bin/python tools/gen_transformer_fixtures.py

Modules are nn.TransformerEncoderLayer, nn.TransformerDecoderLayer and nn.Transformer
(batch_first=True, dropout=0), in both norm_first settings, with relu and gelu, under padding and
causal masks; plus the gated feed-forward networks GEGLU and SwiGLU written out (PyTorch has no
module for them). Parameters and inputs are float32 from a fixed seed, the computation runs in
float64 on those values, results are stored as float32 with the gradients of every input and
parameter (loss = sum(output * upstream)). For post-norm nn.Transformer cases the encoder and
decoder final norms are removed (`encoder.norm = None`), matching post-norm stacks, which have
none; pre-norm cases keep them.
"""
import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "attn-runtime", "tests", "fixtures", "transformer")
M, H, FF = 8, 2, 16


def randomise(module, g):
    with torch.no_grad():
        for _, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.4)


def padding(lengths, s):
    return torch.arange(s)[None, :] >= torch.tensor(lengths)[:, None]  # True = padding (PyTorch)


def causal(s):
    return torch.triu(torch.ones(s, s, dtype=torch.bool), diagonal=1)  # True = masked (PyTorch)


def save(name, module, inputs, out, upstream, config):
    out_loss = (out * upstream).sum()
    out_loss.backward()
    tensors = {f"input.{k}": v for k, v in inputs.items()}
    tensors.update({f"grad.{k}": v.grad for k, v in inputs.items()})
    tensors.update({"upstream": upstream, "expected.output": out})
    tensors.update({f"param.{n}": p for n, p in module.state_dict().items()})
    tensors.update({f"grad.{n}": p.grad for n, p in module.named_parameters()})
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    os.makedirs(OUT, exist_ok=True)
    save_file(tensors, os.path.join(OUT, f"{name}.safetensors"), metadata={"config": json.dumps(config)})
    print(f"wrote {name}")


def leaf(g, *shape):
    return torch.randn(*shape, generator=g).double().requires_grad_()


def encoder_layer(name, seed, norm_first, activation, lengths, is_causal):
    g = torch.Generator().manual_seed(seed)
    layer = torch.nn.TransformerEncoderLayer(M, H, FF, dropout=0.0, activation=activation,
                                             batch_first=True, norm_first=norm_first)
    randomise(layer, g)
    layer = layer.double()
    b, s = len(lengths), 5
    x = leaf(g, b, s, M)
    out = layer(x, src_mask=causal(s) if is_causal else None, src_key_padding_mask=padding(lengths, s))
    save(name, layer, {"x": x}, out, torch.randn(b, s, M, generator=g).double(),
         dict(norm_first=norm_first, activation=activation, lengths=lengths, causal=is_causal, s=s))


def decoder_layer(name, seed, norm_first, activation, tgt_lengths, mem_lengths):
    g = torch.Generator().manual_seed(seed)
    layer = torch.nn.TransformerDecoderLayer(M, H, FF, dropout=0.0, activation=activation,
                                             batch_first=True, norm_first=norm_first)
    randomise(layer, g)
    layer = layer.double()
    b, t, s = len(tgt_lengths), 4, 6
    x, memory = leaf(g, b, t, M), leaf(g, b, s, M)
    out = layer(x, memory, tgt_mask=causal(t), tgt_key_padding_mask=padding(tgt_lengths, t),
                memory_key_padding_mask=padding(mem_lengths, s))
    save(name, layer, {"x": x, "memory": memory}, out, torch.randn(b, t, M, generator=g).double(),
         dict(norm_first=norm_first, activation=activation, tgt_lengths=tgt_lengths, mem_lengths=mem_lengths, t=t, s=s))


def transformer(name, seed, norm_first, activation, src_lengths, tgt_lengths):
    g = torch.Generator().manual_seed(seed)
    model = torch.nn.Transformer(M, H, 2, 2, FF, dropout=0.0, activation=activation, batch_first=True,
                                 norm_first=norm_first)
    if not norm_first:
        model.encoder.norm = None
        model.decoder.norm = None
    randomise(model, g)
    model = model.double()
    b, s, t = len(src_lengths), 6, 4
    src, tgt = leaf(g, b, s, M), leaf(g, b, t, M)
    out = model(src, tgt, tgt_mask=causal(t), src_key_padding_mask=padding(src_lengths, s),
                tgt_key_padding_mask=padding(tgt_lengths, t), memory_key_padding_mask=padding(src_lengths, s))
    save(name, model, {"src": src, "tgt": tgt}, out, torch.randn(b, t, M, generator=g).double(),
         dict(norm_first=norm_first, activation=activation, src_lengths=src_lengths, tgt_lengths=tgt_lengths,
              s=s, t=t))


def gated_ffn(name, seed, act):
    g = torch.Generator().manual_seed(seed)
    module = torch.nn.ModuleDict({
        "gate_proj": torch.nn.Linear(M, FF, bias=False),
        "up_proj": torch.nn.Linear(M, FF, bias=False),
        "down_proj": torch.nn.Linear(FF, M, bias=False),
    })
    randomise(module, g)
    module = module.double()
    x = leaf(g, 2, 3, M)
    fn = {"gelu": F.gelu, "silu": F.silu}[act]
    out = module["down_proj"](fn(module["gate_proj"](x)) * module["up_proj"](x))
    save(name, module, {"x": x}, out, torch.randn(2, 3, M, generator=g).double(), dict(activation=act))


def activations():
    """Every activation on a grid, for the formula tests' cross-check."""
    x = torch.linspace(-6, 6, 97, dtype=torch.float64)
    tensors = {
        "x": x, "relu": F.relu(x), "gelu": F.gelu(x), "gelu_tanh": F.gelu(x, approximate="tanh"),
        "silu": F.silu(x), "tanh": torch.tanh(x), "sigmoid": torch.sigmoid(x), "leaky_relu": F.leaky_relu(x, 0.01),
    }
    tensors = {k: v.to(torch.float32).contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(OUT, "activations.safetensors"))
    print("wrote activations")


def rotary():
    """Rotary embedding written out as Hugging Face's LLaMA applies it (rotate_half layout)."""
    g = torch.Generator().manual_seed(49)
    x = torch.randn(2, 3, 5, M, generator=g, dtype=torch.float64)
    half = M // 2
    inv_freq = 10000.0 ** (-torch.arange(0, half, dtype=torch.float64) * 2 / M)

    def apply(offset):
        angles = torch.arange(offset, offset + x.shape[2], dtype=torch.float64)[:, None] * inv_freq[None]
        emb = torch.cat([angles, angles], dim=-1)
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * emb.cos() + rotated * emb.sin()

    tensors = {"x": x, "expected.offset0": apply(0), "expected.offset3": apply(3)}
    tensors = {k: v.to(torch.float32).contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(OUT, "rotary.safetensors"))
    print("wrote rotary")


def main():
    torch.manual_seed(0)
    encoder_layer("encoder_layer_post_relu", 41, False, "relu", [5, 3], False)
    encoder_layer("encoder_layer_pre_gelu", 42, True, "gelu", [5, 2], True)
    decoder_layer("decoder_layer_post_relu", 43, False, "relu", [4, 2], [6, 3])
    decoder_layer("decoder_layer_pre_gelu", 44, True, "gelu", [3, 4], [4, 6])
    transformer("transformer_post_relu", 45, False, "relu", [6, 4], [4, 3])
    transformer("transformer_pre_gelu", 46, True, "gelu", [5, 6], [2, 4])
    gated_ffn("geglu", 47, "gelu")
    gated_ffn("swiglu", 48, "silu")
    activations()
    rotary()


if __name__ == "__main__":
    main()
