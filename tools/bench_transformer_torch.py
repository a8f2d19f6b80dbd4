#!/usr/bin/env python3
"""PyTorch twin of benches/benches/transformer.rs: the same shapes, layers and training step.

B=32, S=64, D=128, H=4, FF=512: one post-norm ReLU nn.TransformerEncoderLayer forward+backward
(into the input and parameters), and a 2-layer encoder training step: nn.Embedding(1000, 128),
sinusoidal positions, 2 layers, nn.Linear(128, 1000) per token, cross-entropy, Adam(lr=1e-3).
Run: /tmp/torchenv/bin/python tools/bench_transformer_torch.py --threads 2
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from bench_timing import median_ms as _median_ms


def median_ms(fn):
    return _median_ms(fn, min_time=3.0)

B, S, D, H, FF, V = 32, 64, 128, 4, 512, 1000


def sinusoids(s, d):
    pos = torch.arange(s, dtype=torch.float32)[:, None]
    i = torch.arange(d)[None, :]
    angle = pos / torch.pow(10000.0, (2 * (i // 2)).float() / d)
    return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    torch.set_num_threads(ap.parse_args().threads)
    torch.manual_seed(0)

    layer = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, batch_first=True)
    x = torch.randn(B, S, D, requires_grad=True)

    def block():
        layer.zero_grad(set_to_none=False)
        layer(x).sum().backward()

    print(f"transformer/encoder_block_forward_backward: {median_ms(block):.2f} ms")

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(V, D)
            self.register_buffer("pos", sinusoids(S, D))
            layer = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(D, V)

        def forward(self, ids):
            return self.head(self.encoder(self.embedding(ids) + self.pos))

    model = Encoder()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ids = torch.randint(0, V, (B, S))
    targets = torch.randint(0, V, (B, S))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(ids).reshape(-1, V), targets.reshape(-1)).backward()
        opt.step()

    print(f"transformer/encoder_2_layers_train_step: {median_ms(step):.2f} ms (threads {torch.get_num_threads()})")


if __name__ == "__main__":
    main()
