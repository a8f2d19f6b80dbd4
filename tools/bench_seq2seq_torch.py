#!/usr/bin/env python3
"""PyTorch twin of benches/benches/seq2seq.rs: the same encoder-decoders, shapes and training step.

dates-gru-bahdanau: embedding 32, bidirectional GRU 64, bridge tanh(Linear(128, 64)), additive
attention (W: 64->64 no bias, U: 128->64, v: 64->1), decoder GRU over [embedding; context] (160),
combine tanh(Linear(192, 64)), out Linear(64, 16). dates-lstm-luong: embedding 32, LSTM 64, bridge
Linear(64, 64), decoder LSTM over the embedding, general attention (Linear(64, 64) no bias),
combine and out as above. Batch 32, 32 source and 12 target tokens, teacher forcing, mean
cross-entropy, Adam(lr=1e-3). Run: /tmp/torchenv/bin/python tools/bench_seq2seq_torch.py --threads 2
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from bench_timing import median_ms as _median_ms


def median_ms(fn):
    return _median_ms(fn, min_time=3.0)

B, SL, TL, SV, TV, M, H = 32, 32, 12, 64, 16, 32, 64


class Seq2Seq(nn.Module):
    def __init__(self, cell, bahdanau):
        super().__init__()
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.cell, self.bahdanau = cell, bahdanau
        dirs = 2 if bahdanau else 1
        o = H * dirs
        self.src_emb, self.tgt_emb = nn.Embedding(SV, M), nn.Embedding(TV, M)
        self.encoder = rnn(M, H, batch_first=True, bidirectional=bahdanau)
        self.bridge = nn.Linear(o, H)
        self.decoder = (nn.GRUCell if cell == "gru" else nn.LSTMCell)(M + (o if bahdanau else 0), H)
        if bahdanau:
            self.w, self.u, self.v = nn.Linear(H, H, bias=False), nn.Linear(o, H), nn.Linear(H, 1, bias=False)
        else:
            self.general = nn.Linear(H, o, bias=False)
        self.combine, self.out = nn.Linear(o + H, H), nn.Linear(H, TV)

    def attend(self, h, states):
        if self.bahdanau:
            scores = self.v(torch.tanh(self.w(h)[:, None] + self.u(states))).squeeze(-1)
        else:
            scores = torch.bmm(states, self.general(h)[:, :, None]).squeeze(-1)
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights[:, None], states).squeeze(1)

    def forward(self, src, tgt_in):
        states, final = self.encoder(self.src_emb(src))
        h_n = final[0] if self.cell == "lstm" else final
        last = torch.cat([h_n[-2], h_n[-1]], dim=-1) if self.bahdanau else h_n[-1]
        h = torch.tanh(self.bridge(last))
        c = torch.zeros_like(h)
        logits = []
        for t in range(TL):
            y = self.tgt_emb(tgt_in[:, t])
            if self.bahdanau:
                ctx = self.attend(h, states)
                x = torch.cat([y, ctx], dim=-1)
            else:
                x = y
            if self.cell == "gru":
                h = self.decoder(x, h)
            else:
                h, c = self.decoder(x, (h, c))
            if not self.bahdanau:
                ctx = self.attend(h, states)
            logits.append(self.out(torch.tanh(self.combine(torch.cat([ctx, h], dim=-1)))))
        return torch.stack(logits, dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    torch.set_num_threads(ap.parse_args().threads)
    torch.manual_seed(0)
    src = torch.randint(0, SV, (B, SL))
    tgt = torch.randint(0, TV, (B, TL))
    tgt_in = torch.cat([torch.ones(B, 1, dtype=torch.long), tgt[:, :-1]], dim=1)
    for name, cell, bahdanau in [("dates-gru-bahdanau", "gru", True), ("dates-lstm-luong", "lstm", False)]:
        model = Seq2Seq(cell, bahdanau)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(model(src, tgt_in).reshape(-1, TV), tgt.reshape(-1))
            loss.backward()
            opt.step()

        print(f"seq2seq/train_step/{name}: {median_ms(step):.2f} ms (threads {torch.get_num_threads()})")


if __name__ == "__main__":
    main()
