#!/usr/bin/env python3
"""PyTorch twin of the default model's training step, for the throughput comparison in
docs/PERFORMANCE.md (benches/benches/seq2seq.rs measures attn's side).

dates-transformer: source and target embeddings (64 and 16 tokens, width 64), sinusoidal
positions, nn.Transformer(d_model=64, nhead=4, 2 encoder and 2 decoder layers, ff 256, GELU,
norm_first=True, dropout 0.1, final norms), output tied to the target embedding plus a bias,
cross-entropy ignoring padding, AdamW(lr 2e-3) with gradient clipping at norm 1. Batch 32 (the
benchmark's) and 64 (the recipe's), 32 source and 12 target tokens. Prints the median step time
and examples per second of each.
Run: /tmp/torchenv/bin/python tools/bench_train_torch.py --threads 2
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

B, SL, TL, SV, TV, D, H, FF = 32, 32, 12, 64, 16, 64, 4, 256


def sinusoids(s, d):
    pos = torch.arange(s, dtype=torch.float32)[:, None]
    i = torch.arange(d)[None, :]
    angle = pos / torch.pow(10000.0, (2 * (i // 2)).float() / d)
    return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle))


class DatesTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.src_emb, self.tgt_emb = nn.Embedding(SV, D), nn.Embedding(TV, D)
        self.register_buffer("src_pos", sinusoids(SL, D))
        self.register_buffer("tgt_pos", sinusoids(TL, D))
        self.transformer = nn.Transformer(D, H, 2, 2, FF, dropout=0.1, activation="gelu", batch_first=True,
                                          norm_first=True)
        self.bias = nn.Parameter(torch.zeros(TV))
        self.register_buffer("causal", torch.triu(torch.ones(TL, TL, dtype=torch.bool), diagonal=1))

    def forward(self, src, tgt_in, src_pad):
        h = self.transformer(self.src_emb(src) + self.src_pos, self.tgt_emb(tgt_in) + self.tgt_pos,
                             tgt_mask=self.causal, src_key_padding_mask=src_pad, memory_key_padding_mask=src_pad)
        return h @ self.tgt_emb.weight.T + self.bias


def step_ms(batch):
    """Median ms of one training step at `batch` (a fresh model, seeded)."""
    torch.manual_seed(0)
    model = DatesTransformer()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    src = torch.randint(4, SV, (batch, SL))
    lengths = torch.randint(8, SL + 1, (batch,))
    src_pad = torch.arange(SL)[None, :] >= lengths[:, None]
    tgt = torch.randint(4, TV, (batch, TL))
    tgt_in = torch.cat([torch.ones(batch, 1, dtype=torch.long), tgt[:, :-1]], dim=1)
    model.train()

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(src, tgt_in, src_pad).reshape(-1, TV), tgt.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(5):
        step()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < 5.0 or len(times) < 20:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    torch.set_num_threads(ap.parse_args().threads)
    # the benchmark's batch, and the recipe's (`train dates-transformer` trains at 64)
    for batch in (B, 2 * B):
        ms = step_ms(batch)
        print(f"dates-transformer train step (batch {batch}): {ms:.2f} ms, "
              f"{batch / ms * 1e3:.0f} examples/s (threads {torch.get_num_threads()})")


if __name__ == "__main__":
    main()
