#!/usr/bin/env python3
"""Golden fixtures for attn's LSTM and GRU layers, computed by PyTorch.

Provenance: every expected value in attn-runtime/tests/fixtures/rnn/*.safetensors comes from this
script, run with PyTorch (CPU) from PyPI:

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy safetensors
    /tmp/torchenv/bin/python tools/gen_rnn_fixtures.py

Inputs and parameters are float32 from a fixed seed; PyTorch's nn.LSTM / nn.GRU run in float64 on
those values over a pack_padded_sequence (so padding never reaches the states), and results are
stored as float32. Each file holds `x`, the parameters under PyTorch's names (`param.weight_ih_l0`,
...), upstream gradients for the output and the final states (loss = sum(output * up_output) +
sum(h_n * up_h) [+ sum(c_n * up_c)]), the expected `output`, `h_n`, `c_n`, and `grad.<name>` for
the input and every parameter; metadata `config` gives the sizes and lengths.
"""
import json
import os

import torch
from safetensors.torch import save_file
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

OUT = os.path.join(os.path.dirname(__file__), "..", "attn-runtime", "tests", "fixtures", "rnn")


def case(name, seed, cell, b, s, i, h, layers, bidirectional, lengths):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        i, h, layers, batch_first=True, bidirectional=bidirectional)
    params = {n: p.detach().clone() for n, p in module.state_dict().items()}
    x = torch.randn(b, s, i, generator=g)
    lengths_or_full = lengths if lengths is not None else [s] * b
    for t_b, length in enumerate(lengths_or_full):
        x[t_b, length:] = 0.0  # padding content is irrelevant; keep it deterministic
    dirs = 2 if bidirectional else 1
    up_out = torch.randn(b, s, h * dirs, generator=g)
    up_h = torch.randn(layers * dirs, b, h, generator=g)
    up_c = torch.randn(layers * dirs, b, h, generator=g)

    module = module.double()
    x64 = x.double().requires_grad_()
    packed = pack_padded_sequence(x64, torch.tensor(lengths_or_full), batch_first=True, enforce_sorted=False)
    out, state = module(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=s)
    if cell == "lstm":
        h_n, c_n = state
        loss = (out * up_out).sum() + (h_n * up_h).sum() + (c_n * up_c).sum()
    else:
        h_n, c_n = state, None
        loss = (out * up_out).sum() + (h_n * up_h).sum()
    loss.backward()

    tensors = {"x": x, "up_output": up_out, "up_h": up_h, "expected.output": out, "expected.h_n": h_n,
               "grad.x": x64.grad}
    if c_n is not None:
        tensors.update({"up_c": up_c, "expected.c_n": c_n})
    tensors.update({f"param.{n}": p for n, p in params.items()})
    tensors.update({f"grad.{n}": p.grad for n, p in module.named_parameters()})
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    config = dict(cell=cell, b=b, s=s, i=i, h=h, layers=layers, bidirectional=bidirectional, lengths=lengths)
    os.makedirs(OUT, exist_ok=True)
    save_file(tensors, os.path.join(OUT, f"{name}.safetensors"), metadata={"config": json.dumps(config)})
    print(f"wrote {name}")


def cell_case(name, seed, cell, b, i, h):
    """One step of nn.LSTMCell / nn.GRUCell from a non-zero state (the decoder's use)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    module = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[cell](i, h)
    # nn.LSTMCell names its parameters without the layer suffix; store them as layer 0
    params = {f"{n}_l0": p.detach().clone() for n, p in module.state_dict().items()}
    x, h0, c0 = torch.randn(b, i, generator=g), torch.randn(b, h, generator=g), torch.randn(b, h, generator=g)
    up_h, up_c = torch.randn(b, h, generator=g), torch.randn(b, h, generator=g)
    module = module.double()
    x64, h64, c64 = (t.double().requires_grad_() for t in (x, h0, c0))
    if cell == "lstm":
        h1, c1 = module(x64, (h64, c64))
        loss = (h1 * up_h).sum() + (c1 * up_c).sum()
    else:
        h1, c1 = module(x64, h64), None
        loss = (h1 * up_h).sum()
    loss.backward()
    tensors = {"x": x, "h0": h0, "up_h": up_h, "expected.h": h1, "grad.x": x64.grad, "grad.h0": h64.grad}
    if c1 is not None:
        tensors.update({"c0": c0, "up_c": up_c, "expected.c": c1, "grad.c0": c64.grad})
    tensors.update({f"param.{n}": p for n, p in params.items()})
    tensors.update({f"grad.{n}_l0": p.grad for n, p in module.named_parameters()})
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    config = dict(cell=cell, b=b, i=i, h=h)
    save_file(tensors, os.path.join(OUT, f"{name}.safetensors"), metadata={"config": json.dumps(config)})
    print(f"wrote {name}")


def main():
    for cell in ("lstm", "gru"):
        case(f"{cell}_one_layer_padded", 31, cell, 3, 6, 5, 4, 1, False, [6, 4, 1])
        case(f"{cell}_full_length", 32, cell, 2, 5, 5, 4, 1, False, None)
        case(f"{cell}_bidirectional_two_layers_padded", 33, cell, 3, 6, 5, 4, 2, True, [6, 4, 2])
        cell_case(f"{cell}_cell_step", 34, cell, 3, 5, 4)


if __name__ == "__main__":
    main()
