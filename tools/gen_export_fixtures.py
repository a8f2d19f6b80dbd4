#!/usr/bin/env python3
"""Fixtures of `export --format pytorch`: PyTorch twins built by tools/attn_torch.py, their
state dicts and their outputs, which attn must reproduce after loading those state dicts.

Provenance: every file in attn-runtime/tests/fixtures/export/ comes from this script, run with
PyTorch (CPU) from PyPI:

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy safetensors
    /tmp/torchenv/bin/python tools/gen_export_fixtures.py

For each model declared in attn-runtime/tests/transformer_models.rs with a PyTorch twin
(`TinyTranslator`: pre-norm, gelu, sinusoids, tied output; `TinyPostTranslator`: post-norm,
relu, learned positions, own output layer, encoder and decoder of different depths;
`TinyClassifier`; `TinyTagger`) it writes

- `<name>.safetensors`: the twin's `state_dict()` (float32, parameters drawn from a fixed
  seed), with the declaration as `attn.model` metadata, as `export` writes it;
- `<name>_io.safetensors`: a padded source batch (`src`, `lengths` in the config), targets,
  and, for the encoder-decoders, the teacher-forced logits (decoder inputs BOS then the targets
  but the last) and the greedy decoding's inputs and logits; for the classifier (mean pooling)
  and the tagger (post-norm, learned positions), the logits; all computed in float64 from the
  float32 parameters.

The test (`pytorch_export_*` in transformer_models.rs) loads the state dict into attn's model,
checks that exporting it gives back these very tensors, and compares its logits with these.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import attn_torch  # noqa: E402
from fixture_io import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "attn-runtime", "tests", "fixtures", "export")


def meta(name, sv, tv, sl, tl, m, h, ff, ne, nd, activation, norm, positional):
    """The fields of attn's ModelMeta (config.json's `meta`) that the twin reads."""
    return {"name": name, "arch": "Transformer",
            "task": {"Seq2Seq": {"src_vocab": sv, "tgt_vocab": tv, "src_len": sl, "tgt_len": tl}},
            "d_model": m, "heads": h, "ff": ff, "layers": ne, "decoder_layers": nd,
            "activation": activation, "norm": norm, "positional": positional, "dropout": 0.1}


def token_meta(name, kind, task, m, h, ff, layers, activation, norm, positional, pooling):
    return {"name": name, "arch": "Transformer", "task": {kind: task}, "d_model": m, "heads": h, "ff": ff,
            "layers": layers, "activation": activation, "norm": norm, "positional": positional,
            "pooling": pooling, "dropout": 0.1}


MODELS = [
    ("tiny_translator", meta("tiny-translator", 12, 12, 8, 9, 32, 4, 64, 2, 2, "Gelu", "Pre", "Sinusoidal"),
     {"out.bias"}, True),
    ("tiny_post_translator", meta("tiny-post-translator", 13, 11, 7, 6, 16, 2, 24, 1, 2, "Relu", "Post", "Learned"),
     {"out.proj.weight"}, False),
    ("tiny_classifier", token_meta("tiny-classifier", "Classify", {"vocab": 14, "max_len": 7, "classes": 3},
                                   16, 2, 24, 2, "Gelu", "Pre", "Sinusoidal", "Mean"), set(), True),
    ("tiny_tagger", token_meta("tiny-tagger", "Tag", {"vocab": 10, "max_len": 6, "tags": 5},
                               8, 2, 16, 1, "Relu", "Post", "Learned", "Mean"), set(), False),
]


def write_token_io(file, m, model, g):
    """A classifier's or tagger's padded batch, targets, and logits (float64)."""
    kind, task = next(iter(m["task"].items()))
    length, vocab = task["max_len"], task["vocab"]
    labels = task["classes"] if kind == "Classify" else task["tags"]
    lengths = [3, length]
    ids = torch.randint(4, vocab, (2, length), generator=g)
    ids[0, lengths[0]:] = attn_torch.PAD
    targets = torch.randint(0, labels, (2,) if kind == "Classify" else (2, length), generator=g)
    model = model.double().eval()
    with torch.no_grad():
        logits = model(ids, lengths)
    io = {"src": ids.float(), "targets": targets.float(), "logits": logits.float()}
    write_safetensors(io, os.path.join(OUT, f"{file}_io.safetensors"),
                      {"config": json.dumps({"lengths": lengths, "labels": labels})})
    print(f"{file}: {len(model.state_dict())} tensors")


def main():
    os.makedirs(OUT, exist_ok=True)
    for k, (file, m, names, final_norms) in enumerate(MODELS):
        g = torch.Generator().manual_seed(20261202 + k)
        model = attn_torch.build(m, names | ({"encoder.norm.weight"} if final_norms else set()))
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith("norm3.weight") \
                        or name.endswith("norm.weight"):
                    p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.3 * torch.randn(p.shape, generator=g))
        sd = {n: t.detach().clone().contiguous() for n, t in model.state_dict().items()}
        write_safetensors(sd, os.path.join(OUT, f"{file}.safetensors"), {"attn.model": json.dumps(m)})

        if "Seq2Seq" not in m["task"]:
            write_token_io(file, m, model, g)
            continue
        task = m["task"]["Seq2Seq"]
        sv, tv, sl, tl = task["src_vocab"], task["tgt_vocab"], task["src_len"], task["tgt_len"]
        lengths = [5, sl]
        src = torch.randint(4, sv, (2, sl), generator=g)
        src[0, lengths[0]:] = attn_torch.PAD
        targets = torch.randint(4, tv, (2, tl), generator=g)
        tgt_in = torch.cat([torch.full((2, 1), attn_torch.BOS), targets[:, :-1]], dim=1)
        model = model.double().eval()
        with torch.no_grad():
            teacher_forced = model(src, lengths, tgt_in)
            greedy_inputs, greedy = model.greedy(src, lengths)
        io = {"src": src.float(), "targets": targets.float(), "logits_teacher_forced": teacher_forced.float(),
              "greedy_inputs": greedy_inputs.float(), "logits_greedy": greedy.float()}
        write_safetensors(io, os.path.join(OUT, f"{file}_io.safetensors"),
                          {"config": json.dumps({"lengths": lengths, "src_vocab": sv, "tgt_vocab": tv})})
        print(f"{file}: {len(sd)} tensors, {sum(t.numel() for t in sd.values())} values")


if __name__ == "__main__":
    main()
