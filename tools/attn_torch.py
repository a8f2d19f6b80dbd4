"""Rebuilds a model trained with attn in PyTorch and loads its exported parameters.

    cargo run --release --bin export -- runs/dates-transformer/<timestamp> --format pytorch
    python3 -c "
    import sys; sys.path.insert(0, 'tools')
    import attn_torch
    model = attn_torch.load('runs/dates-transformer/<timestamp>/model.pytorch.safetensors')
    print(attn_torch.translate(model, '3rd of March 2021'))"

`export --format pytorch` writes the run's best parameters under the names of the layers'
PyTorch twins (`attn-runtime/src/pytorch_names.rs`) with the model's declaration (`attn.model`,
the `meta` of the run's config.json) and its vocabularies (`attn.vocab`, the run's vocab.json) as
metadata. `load` builds the twin from the declaration and loads the parameters with
`strict=True`, so every name and shape must agree.

Architectures with a twin (`arch: Transformer`): the encoder-decoder for `Seq2Seq` tasks
(`nn.TransformerEncoder`/`nn.TransformerDecoder` of `nn.TransformerEncoderLayer`/`DecoderLayer`,
`batch_first=True`, `norm_first` for `norm: Pre`, final norms where attn has them, relu or exact
gelu, embeddings without scaling, fixed sinusoids or learned positions, the output layer tied to
the target embedding or its own `nn.Linear`), and the encoder with a classifier (mean or first
position pooling) or tagger head for `Classify` and `Tag` tasks. Others (recurrent models, vision
transformers, rotary positions, gated feed-forward layers) are refused with the reason; their
exported names still follow PyTorch's layers (`nn.LSTM`'s `weight_ih_l0`, ...).

Token ids follow attn's vocabularies: 0 = <pad>, 1 = <bos>, 2 = <eos>, 3 = <unk>.
"""
import json
import math

import torch
import torch.nn as nn

PAD, BOS, EOS, UNK = 0, 1, 2, 3


def sinusoid_table(positions, width):
    """attn's fixed positions (`model/positional.rs`): PE[p, 2i] = sin(p / 10000^(2i/M)),
    PE[p, 2i+1] = cos(p / 10000^(2i/M))."""
    table = torch.zeros(positions, width, dtype=torch.float64)
    for p in range(positions):
        for i in range(width):
            angle = p / 10000 ** ((2 * (i // 2)) / width)
            table[p, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return table.float()


def layer_settings(meta):
    """nn.Transformer*Layer's arguments for the declaration: width, heads, feed-forward width,
    dropout, activation, batch-first, norm placement."""
    activation = {"Gelu": "gelu", "Relu": "relu"}.get(meta["activation"])
    if activation is None:
        raise ValueError(f"activation: {meta['activation']} has no nn.Transformer*Layer twin (relu or gelu)")
    if meta["norm"] not in ("Pre", "Post"):
        raise ValueError(f"norm: {meta['norm']} is not Pre or Post")
    return dict(d_model=meta["d_model"], nhead=meta["heads"], dim_feedforward=meta["ff"], dropout=meta["dropout"],
                activation=activation, batch_first=True, norm_first=meta["norm"] == "Pre")


def encoder_layer(meta):
    return nn.TransformerEncoderLayer(**layer_settings(meta))


def decoder_layer(meta):
    return nn.TransformerDecoderLayer(**layer_settings(meta))


class Positions(nn.Module):
    """`x + positions[:S]`: fixed sinusoids (a buffer, not a parameter, as in attn) or learned
    (`weight [L, M]`, attn's `LearnedPositions`)."""

    def __init__(self, kind, length, width):
        super().__init__()
        self.kind = kind
        if kind == "Sinusoidal":
            self.register_buffer("table", sinusoid_table(length, width), persistent=False)
        elif kind == "Learned":
            self.weight = nn.Parameter(torch.zeros(length, width))
        elif kind != "None":
            raise ValueError(f"positional: {kind} has no PyTorch twin here (rotary positions live inside "
                             "attention, which nn.MultiheadAttention cannot do)")

    def forward(self, x):
        s = x.shape[1]
        if self.kind == "Sinusoidal":
            return x + self.table[:s].to(x.dtype)
        if self.kind == "Learned":
            return x + self.weight[:s]
        return x


class TiedOutput(nn.Module):
    """Logits `x @ E_tgt^T + bias` (attn's `TiedOutput`)."""

    def __init__(self, vocab):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(vocab))


class UntiedOutput(nn.Module):
    """Logits through an own `nn.Linear(M, V)` (attn's `UntiedOutput`)."""

    def __init__(self, width, vocab):
        super().__init__()
        self.proj = nn.Linear(width, vocab)


class TransformerSeq2Seq(nn.Module):
    """attn's `TransformerSeq2Seq` (`model/transformer_seq2seq.rs`) in PyTorch, with its names."""

    def __init__(self, meta, tied, final_norms):
        super().__init__()
        task = meta["task"]["Seq2Seq"]
        self.src_len, self.tgt_len = task["src_len"], task["tgt_len"]
        sv, tv, m = task["src_vocab"], task["tgt_vocab"], meta["d_model"]
        enc_layer, dec_layer = encoder_layer(meta), decoder_layer(meta)
        self.src_embedding = nn.Embedding(sv, m)
        self.src_positional = Positions(meta["positional"], self.src_len, m)
        self.encoder = nn.TransformerEncoder(enc_layer, meta["layers"], nn.LayerNorm(m) if final_norms else None,
                                             enable_nested_tensor=False)
        self.tgt_embedding = nn.Embedding(tv, m)
        self.tgt_positional = Positions(meta["positional"], self.tgt_len, m)
        self.decoder = nn.TransformerDecoder(dec_layer, meta["decoder_layers"], nn.LayerNorm(m) if final_norms else None)
        self.out = TiedOutput(tv) if tied else UntiedOutput(m, tv)
        self.register_buffer("causal", torch.triu(torch.ones(self.tgt_len, self.tgt_len, dtype=torch.bool), 1),
                             persistent=False)

    def encode(self, src, lengths):
        """Source ids `[B, SL]` (right-padded) and their lengths → memory `[B, SL, M]`, padding mask."""
        pad = torch.arange(src.shape[1])[None, :] >= torch.as_tensor(lengths)[:, None]
        x = self.src_positional(self.src_embedding(src))
        return self.encoder(x, src_key_padding_mask=pad), pad

    def decode(self, memory, pad, tgt_in):
        """Decoder inputs `[B, T]` (BOS first) → logits `[B, T, TV]`, causal, cross-attending to memory."""
        t = tgt_in.shape[1]
        x = self.tgt_positional(self.tgt_embedding(tgt_in))
        h = self.decoder(x, memory, tgt_mask=self.causal[:t, :t], memory_key_padding_mask=pad)
        if isinstance(self.out, TiedOutput):
            return h @ self.tgt_embedding.weight.T + self.out.bias
        return self.out.proj(h)

    def forward(self, src, lengths, tgt_in):
        """Teacher-forced logits `[B, TL, TV]` for decoder inputs `[BOS, t0, ..]` (attn's
        `ForwardOptions { teacher_forcing: Some(1.0), .. }`)."""
        memory, pad = self.encode(src, lengths)
        return self.decode(memory, pad, tgt_in)

    @torch.no_grad()
    def greedy(self, src, lengths):
        """Greedy decoding of all TL positions, as attn decodes in evaluation: the chosen inputs
        `[B, TL]` (BOS first) and the logits of one pass over them `[B, TL, TV]`."""
        memory, pad = self.encode(src, lengths)
        inputs = torch.full((src.shape[0], self.tgt_len), PAD, dtype=torch.long)
        inputs[:, 0] = BOS
        for t in range(self.tgt_len - 1):
            inputs[:, t + 1] = self.decode(memory, pad, inputs[:, : t + 1])[:, t].argmax(-1)
        return inputs, self.decode(memory, pad, inputs)


class Head(nn.Module):
    """attn's task heads (`model/heads.rs`): `proj` = nn.Linear(M, C) on the mean over unpadded
    positions (`Mean`), on the first position (`Cls`, where the data puts <bos>), or at every
    position (a tagger)."""

    def __init__(self, width, classes, pooling):
        super().__init__()
        self.pooling = pooling
        self.proj = nn.Linear(width, classes)

    def forward(self, h, pad):
        if self.pooling == "Tag":
            return self.proj(h)
        if self.pooling == "Cls":
            return self.proj(h[:, 0])
        keep = (~pad).to(h.dtype)[:, :, None]
        return self.proj((h * keep).sum(1) / keep.sum(1))


class TokenTransformer(nn.Module):
    """attn's `TokenModel` with a transformer encoder (`arch: Transformer` with a `Classify` or
    `Tag` task, `model/token_model.rs`) in PyTorch, with its names."""

    def __init__(self, meta, final_norm):
        super().__init__()
        kind, task = next(iter(meta["task"].items()))
        m = meta["d_model"]
        self.max_len = task["max_len"]
        self.embedding = nn.Embedding(task["vocab"], m)
        self.positional = Positions(meta["positional"], self.max_len, m)
        self.encoder = nn.TransformerEncoder(encoder_layer(meta), meta["layers"],
                                             nn.LayerNorm(m) if final_norm else None, enable_nested_tensor=False)
        pooling = "Tag" if kind == "Tag" else meta["pooling"]
        self.head = Head(m, task["tags"] if kind == "Tag" else task["classes"], pooling)

    def forward(self, ids, lengths):
        """Token ids `[B, L]` (right-padded) and their lengths → logits `[B, C]` (`[B, L, G]` for
        a tagger)."""
        pad = torch.arange(ids.shape[1])[None, :] >= torch.as_tensor(lengths)[:, None]
        h = self.encoder(self.positional(self.embedding(ids)), src_key_padding_mask=pad)
        return self.head(h, pad)


def tokenize(text, kind):
    """attn's tokenisers (`data/tokenize.rs`): `Char`, `Whitespace`, or `Word` (lower-cased runs of
    letters, digits and apostrophes; every other non-space character a token of its own)."""
    if kind == "Char":
        return list(text)
    if kind == "Whitespace":
        return text.split()
    tokens, word = [], ""
    for c in text.lower():
        if c.isalnum() or c == "'":
            word += c
        else:
            if word:
                tokens.append(word)
                word = ""
            if not c.isspace():
                tokens.append(c)
    return tokens + ([word] if word else [])


def translate(model, text):
    """A sequence-to-sequence model's greedy output for `text`, as `attn predict` gives it: the
    source tokenised and looked up in the run's vocabulary (unknown tokens as <unk>), the
    decoded tokens up to <eos> joined back (characters concatenated, words with spaces)."""
    vocab = model.vocab
    ids = {t: i for i, t in enumerate(vocab["src"]["tokens"])}
    src = [ids.get(t, UNK) for t in tokenize(text, vocab["src_tokenizer"])]
    if len(src) > model.src_len:
        raise ValueError(f"{len(src)} source tokens, the model reads {model.src_len}")
    n = len(src)
    _, logits = model.greedy(torch.tensor([src + [PAD] * (model.src_len - n)]), [n])
    out = []
    for t in logits[0].argmax(-1).tolist():
        if t == EOS:
            break
        out.append(vocab["tgt"]["tokens"][t])
    return "".join(out) if vocab["tgt_tokenizer"] == "Char" else " ".join(out)


def build(meta, names):
    """The twin of the declaration `meta` (config.json's `meta`), for a state dict with keys `names`."""
    if meta["arch"] == "Transformer" and "Seq2Seq" in meta["task"]:
        return TransformerSeq2Seq(meta, tied="out.bias" in names and "out.proj.weight" not in names,
                                  final_norms="encoder.norm.weight" in names)
    if meta["arch"] == "Transformer" and ("Classify" in meta["task"] or "Tag" in meta["task"]):
        return TokenTransformer(meta, final_norm="encoder.norm.weight" in names)
    raise ValueError(f"{meta['name']}: arch {meta['arch']} with task {list(meta['task'])[0]} has no PyTorch "
                     "twin in tools/attn_torch.py yet (the exported names still follow PyTorch's layers)")


def load(path):
    """The twin of an exported model, its parameters loaded strictly, in eval mode; its
    vocabularies (the run's vocab.json) as `model.vocab`."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(path, "pt") as f:
        metadata = f.metadata() or {}
    if "attn.model" not in metadata:
        raise ValueError(f"{path}: no `attn.model` metadata; write it with `export <run> --format pytorch`")
    sd = load_file(path)
    model = build(json.loads(metadata["attn.model"]), set(sd))
    model.load_state_dict(sd, strict=True)
    model.vocab = json.loads(metadata["attn.vocab"]) if "attn.vocab" in metadata else None
    return model.eval()
