#!/usr/bin/env python3
"""PyTorch twin of the default training recipe, `train dates-transformer`, end to end: the same
data, model, optimizer, schedule and validation, for the time-to-accuracy comparison of issue 18
(item 6); `tools/time_to_accuracy.py` runs it next to our `train` binary.

    cargo build --release -p attn-benches --example export_dates
    target/release/examples/export_dates /tmp/dates-export
    /tmp/venv-torch/bin/python tools/train_dates_torch.py --data /tmp/dates-export --threads 2
    /tmp/venv-torch/bin/python tools/train_dates_torch.py --threads 1 --stop-after 2   # a smoke run

It prints one line per epoch: the epoch, the wall seconds since the script started (data
preparation, training and validation included), the training loss, the training accuracy (256
training pairs, teacher-forced), the validation loss (teacher-forced), the validation token
accuracy and exact match (greedy decoding), the learning rate and the epoch's own seconds.
`--stop-at-target` ends the run after the first epoch whose validation exact match reaches
`--target` (0.99).

What it mirrors, and where in the Rust source:

- Data (`benches/examples/export_dates.rs` writes it): the built-in `dates` set
  (`attn-runtime/src/data/builtin.rs`, `dates.rs`: 20,000 pairs from seed 2021), split 80/10/10
  by the fixed `SPLIT_SEED` (`data/examples.rs`), read from the exported TSVs. Character tokens
  (`data/tokenize.rs`); vocabularies from the training split, `<pad> <bos> <eos> <unk>` (ids
  0-3) then by descending count, ties in code-point order (`data/vocab.rs`); the exported ones are
  checked against a rebuild here. Sources are right-padded with PAD to 32, with their lengths as
  the key-padding mask; targets are the ISO string's 10 characters then EOS, padded with
  "ignore" to 12; the decoder reads [BOS, t0 .. t10] (`data/prepare.rs`, `make_batch`;
  `model/transformer_seq2seq.rs`, `shifted_inputs`).
- Model: `DatesTransformer` of `tools/bench_train_torch.py` (declared in
  `models/src/dates_transformer.rs`): embeddings of the declared sizes (64 source, 16 target
  rows, width 64) without scaling, fixed sinusoids (`model/positional.rs`), `nn.Transformer`
  with 4 heads, 2 + 2 pre-norm layers, feed-forward 256, exact GELU, dropout 0.1 (on attention
  weights, after each sub-layer and inside the feed-forward net, `transformer/*_block.rs`), final
  norms (`transformer/stack.rs`), source key-padding mask in encoder and cross attention, a causal
  decoder (`model/transformer_seq2seq.rs`), logits `x @ E_tgt^T + b` tied to the target
  embedding (`transformer/output.rs`). Initialised as attn initialises it: embeddings
  U(+-1/sqrt(rows)) (dfdx's `Embedding`), every projection (q, k, v, out, both feed-forward
  layers) Xavier-uniform over its own fan-in + fan-out with zero bias
  (`attention/projection.rs`), layer norms 1 and 0, output bias 0.
- Training (`attn-runtime/src/train/recommended.rs`, `run/config.rs`, `train/trainer/epochs.rs`,
  `zoo/entry.rs`): 6 epochs of shuffled batches of 64 (250 steps each), mean cross-entropy over
  the non-padding target rows (label smoothing 0, `loss.rs`), global gradient-norm clipping at 1
  (`optim/adamw.rs`), AdamW (betas 0.9/0.999, eps 1e-8, decoupled weight decay 0), learning rate
  2e-3 after 100 linear warm-up steps (from 2e-5 at step 1), then half a cosine to 0 at step 1,500
  (`optim/schedule.rs`), teacher forcing 1, patience 5 on (exact match, token accuracy, -loss).
- Validation (`train/evaluate.rs`, `run/scores.rs`): batches of 64 in order, greedy decoding of
  all 12 positions; exact match = every non-padding target position (the 10 characters and EOS)
  right; the loss teacher-forced; training accuracy on the first 256 training pairs.

`recipe.json` of the export holds the recommended settings; flags override them. Not mirrored:
the random draws themselves (parameters, dropout masks and the shuffle come from torch's
generators, not attn's seeded ChaCha streams, so the two runs' curves agree in trend, not digit
for digit), Adam's arithmetic in f64 (attn keeps the moments in f64, `optim/adamw.rs`; torch in
f32), the key/value cache of attn's greedy decoding (nn.TransformerDecoder has none: each step
reruns the prefix), attn's extra work per epoch (validation BLEU, the full decoder pass over the
greedy outputs, the checkpoints and metrics files written after each epoch).
"""
import time

T0 = time.perf_counter()  # before torch is imported: its import is part of the wall time

import argparse
import json
import math
import sys
import warnings
from collections import Counter
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_train_torch as twin  # noqa: E402  the model definition of the step benchmark

PAD, BOS, EOS, UNK = 0, 1, 2, 3  # attn-runtime/src/tokens.rs
RESERVED = ["<pad>", "<bos>", "<eos>", "<unk>"]
IGNORE = -100  # attn's IGNORE (usize::MAX) in F.cross_entropy's terms

# the recommended settings of `train dates-transformer`, used when the export has no recipe.json
DEFAULT_RECIPE = {
    "model": "dates-transformer", "seed": 0, "epochs": 6, "batch_size": 64, "lr": 2e-3,
    "warmup": 100, "decay": "Cosine", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
    "weight_decay": 0.0, "decoupled_weight_decay": True, "clip_norm": 1.0, "label_smoothing": 0.0,
    "dropout": 0.1, "teacher_forcing": 1.0, "patience": 5, "selection": "ExactMatch",
    "bucket": False, "d_model": 64, "heads": 4, "ff": 256, "encoder_layers": 2,
    "decoder_layers": 2, "activation": "Gelu", "norm": "Pre", "positional": "Sinusoidal",
    "src_vocab": 64, "tgt_vocab": 16, "src_len": 32, "tgt_len": 12,
}
TRAIN_SAMPLE = 256  # training pairs scored each epoch (train/trainer/epochs.rs)


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- data


def read_pairs(path):
    """`source<TAB>target` lines, the strings exactly as written (spaces kept)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        fail(f"reading {path}: {e} (export it with target/release/examples/export_dates)")
    pairs = []
    for n, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            fail(f"{path}:{n}: expected source<TAB>target")
        pairs.append((fields[0], fields[1]))
    return pairs


def build_vocab(texts):
    """data/vocab.rs `Vocab::build` with min_count 1, no cap: reserved tokens, then characters
    by descending count, ties in code-point order (Rust's byte order on UTF-8)."""
    counts = Counter(c for t in texts for c in t)
    return RESERVED + [tok for tok, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def load_vocab(path, rebuilt, which):
    if not path.exists():
        return rebuilt
    try:
        tokens = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        fail(f"reading {path}: {e}")
    if tokens != rebuilt:
        fail(f"{path}: the exported {which} vocabulary differs from the one rebuilt from train.tsv")
    return tokens


def encode(pairs, src_vocab, tgt_vocab, sl, tl, what):
    """Padded tensors as data/prepare.rs `encode_all` and `make_batch` make them: source ids
    [N, SL] (PAD after the text, at least one id), key-padding mask, targets [N, TL] (ids, EOS,
    then IGNORE) and the decoder inputs [BOS, t0, ..] (IGNORE read as PAD)."""
    s_index = {t: i for i, t in enumerate(src_vocab)}
    t_index = {t: i for i, t in enumerate(tgt_vocab)}
    n = len(pairs)
    src = torch.full((n, sl), PAD, dtype=torch.long)
    lengths = torch.empty(n, dtype=torch.long)
    tgt = torch.full((n, tl), IGNORE, dtype=torch.long)
    for i, (s, t) in enumerate(pairs):
        ids = [s_index.get(c, UNK) for c in s] or [UNK]
        out = [t_index.get(c, UNK) for c in t]
        if len(ids) > sl or len(out) > tl - 1:
            fail(f"{what}, example {i + 1}: longer than the model's {sl} source / {tl - 1} target tokens")
        src[i, : len(ids)] = torch.tensor(ids)
        lengths[i] = len(ids)
        tgt[i, : len(out) + 1] = torch.tensor(out + [EOS])
    tgt_in = torch.cat([torch.full((n, 1), BOS, dtype=torch.long), tgt[:, :-1]], dim=1)
    tgt_in[tgt_in == IGNORE] = PAD
    src_pad = torch.arange(sl)[None, :] >= lengths[:, None]  # True = padding, not attended
    return {"src": src, "src_pad": src_pad, "tgt": tgt, "tgt_in": tgt_in}


def take(data, idx):
    return {k: v[idx] for k, v in data.items()}


# ---------------------------------------------------------------- model


def sinusoid_table(positions, width):
    """model/positional.rs `sinusoid_table`, computed in f64 as there, then f32."""
    p = torch.arange(positions, dtype=torch.float64)[:, None]
    i = torch.arange(width)[None, :]
    angle = p / torch.pow(torch.tensor(10000.0, dtype=torch.float64), (2 * (i // 2)).double() / width)
    return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle)).float()


def check_architecture(recipe):
    want = {"d_model": twin.D, "heads": twin.H, "ff": twin.FF, "encoder_layers": 2, "decoder_layers": 2,
            "activation": "Gelu", "norm": "Pre", "positional": "Sinusoidal", "src_vocab": twin.SV,
            "tgt_vocab": twin.TV, "src_len": twin.SL, "tgt_len": twin.TL}
    wrong = {k: (recipe.get(k), v) for k, v in want.items() if recipe.get(k) != v}
    if wrong:
        fail("the recipe's model is not the twin's (tools/bench_train_torch.py): "
             + ", ".join(f"{k} {got!r} (twin {v!r})" for k, (got, v) in wrong.items()))


def init_like_attn(model):
    """attn's initialisation (same distributions, other draws): dfdx's Embedding U(+-1/sqrt(rows)),
    attention/projection.rs Xavier-uniform per projection with zero bias, norms 1/0, output bias 0
    (nn.Transformer's own reset draws Xavier over the fused in_proj and keeps nn.Linear biases)."""
    with torch.no_grad():
        for emb in (model.src_emb, model.tgt_emb):
            bound = 1.0 / math.sqrt(emb.num_embeddings)
            emb.weight.uniform_(-bound, bound)
        for m in model.modules():
            if isinstance(m, nn.MultiheadAttention):
                d = m.embed_dim
                for i in range(3):  # q, k, v: three M x M projections, each its own fan
                    nn.init.xavier_uniform_(m.in_proj_weight[i * d:(i + 1) * d])
                m.in_proj_bias.zero_()
                nn.init.xavier_uniform_(m.out_proj.weight)
                m.out_proj.bias.zero_()
            elif isinstance(m, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
                for lin in (m.linear1, m.linear2):
                    nn.init.xavier_uniform_(lin.weight)
                    lin.bias.zero_()
            elif isinstance(m, nn.LayerNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()
        model.bias.zero_()
        model.src_pos.copy_(sinusoid_table(twin.SL, twin.D))
        model.tgt_pos.copy_(sinusoid_table(twin.TL, twin.D))


def set_dropout(model, p):
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = p
        elif isinstance(m, nn.MultiheadAttention):
            m.dropout = p


def logits_of(model, h):
    return h @ model.tgt_emb.weight.T + model.bias


@torch.no_grad()
def greedy_logits(model, b):
    """attn's evaluation forward: encode once, then feed back the argmax for all TL positions
    (model/transformer_seq2seq.rs `try_greedy_inputs`); nn.TransformerDecoder keeps no key/value
    cache, so each step reruns the prefix."""
    memory = model.transformer.encoder(model.src_emb(b["src"]) + model.src_pos,
                                       src_key_padding_mask=b["src_pad"])
    n, tl = b["src"].shape[0], twin.TL
    inputs = torch.full((n, tl), PAD, dtype=torch.long)
    inputs[:, 0] = BOS
    out = torch.empty(n, tl, twin.TV)
    for t in range(tl):
        x = model.tgt_emb(inputs[:, : t + 1]) + model.tgt_pos[: t + 1]
        h = model.transformer.decoder(x, memory, tgt_mask=model.causal[: t + 1, : t + 1],
                                      memory_key_padding_mask=b["src_pad"])
        out[:, t] = logits_of(model, h[:, -1])
        if t + 1 < tl:
            inputs[:, t + 1] = out[:, t].argmax(-1)
    return out


def scores(logits, tgt, with_loss):
    """run/scores.rs `Scores::of`: token rows, right rows, examples, exact (every non-padding row
    right), summed cross-entropy."""
    keep = tgt != IGNORE
    right = (logits.argmax(-1) == tgt) & keep
    s = {"rows": int(keep.sum()), "correct": int(right.sum()), "examples": int(keep.any(1).sum()),
         "exact": int(((right | ~keep).all(1) & keep.any(1)).sum()), "loss_sum": 0.0}
    if with_loss:
        s["loss_sum"] = float(F.cross_entropy(logits.reshape(-1, twin.TV), tgt.reshape(-1),
                                              ignore_index=IGNORE, reduction="sum"))
    return s


def add(total, s):
    for k, v in s.items():
        total[k] = total.get(k, 0) + v
    return total


@torch.no_grad()
def validate(model, data, batch_size):
    """train/evaluate.rs `evaluate_against`: greedy outputs for accuracy and exact match, a
    teacher-forced pass for the loss, batch by batch in order."""
    model.eval()
    total = {}
    n = data["src"].shape[0]
    for i in range(0, n, batch_size):
        b = take(data, slice(i, i + batch_size))
        s = scores(greedy_logits(model, b), b["tgt"], False)
        s["loss_sum"] = scores(model(b["src"], b["tgt_in"], b["src_pad"]), b["tgt"], True)["loss_sum"]
        add(total, s)
    return total


@torch.no_grad()
def teacher_forced(model, data, batch_size):
    model.eval()
    total = {}
    for i in range(0, data["src"].shape[0], batch_size):
        b = take(data, slice(i, i + batch_size))
        add(total, scores(model(b["src"], b["tgt_in"], b["src_pad"]), b["tgt"], True))
    return total


# ---------------------------------------------------------------- schedule and seeds


def lr_at(step, peak, warmup, total, decay):
    """optim/schedule.rs `LrSchedule::at` (step 1-based)."""
    if warmup > 0 and step <= warmup:
        return peak * step / warmup
    span = max(total - warmup, 1)
    progress = min(max(step - warmup, 0) / span, 1.0)
    if decay == "Constant":
        return peak
    if decay == "Linear":
        return peak * (1.0 - progress)
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


def epoch_seed(seed, epoch):
    """train/trainer/epochs.rs `epoch_seed` (here it seeds torch's shuffle, not ChaCha)."""
    return (seed * 0x9E3779B97F4A7C15 + epoch + 1) % 2**64


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/tmp/dates-export"),
                    help="directory written by export_dates (default /tmp/dates-export)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra- and inter-op threads (default 2)")
    ap.add_argument("--seed", type=int, help="seed of parameters, dropout and shuffling (recipe: 0)")
    ap.add_argument("--epochs", type=int, help="epochs of the run, as `train --epochs`: the cosine schedule spans them (recipe: 6)")
    ap.add_argument("--stop-after", type=int, help="stop after this epoch, the schedule unchanged (smoke runs)")
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--warmup", type=int)
    ap.add_argument("--dropout", type=float)
    ap.add_argument("--label-smoothing", type=float)
    ap.add_argument("--clip", type=float, help="clip the global gradient norm to this (recipe: 1)")
    ap.add_argument("--no-clip", action="store_true")
    ap.add_argument("--target", type=float, default=0.99, help="validation exact match to reach (default 0.99)")
    ap.add_argument("--stop-at-target", action="store_true", help="stop after the first epoch that reaches --target")
    args = ap.parse_args()

    if args.threads < 1:
        fail("--threads must be at least 1")
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)

    recipe = dict(DEFAULT_RECIPE)
    recipe_path = args.data / "recipe.json"
    if recipe_path.exists():
        try:
            recipe.update(json.loads(recipe_path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            fail(f"reading {recipe_path}: {e}")
    for key, flag in [("seed", args.seed), ("epochs", args.epochs), ("batch_size", args.batch_size),
                      ("lr", args.lr), ("warmup", args.warmup), ("dropout", args.dropout),
                      ("label_smoothing", args.label_smoothing), ("clip_norm", args.clip)]:
        if flag is not None:
            recipe[key] = flag
    if args.no_clip:
        recipe["clip_norm"] = None
    check_architecture(recipe)
    if recipe["teacher_forcing"] != 1.0 or recipe["bucket"] or recipe["selection"] != "ExactMatch":
        fail("the twin mirrors teacher forcing 1, no bucketing and exact-match selection only")
    if recipe["epochs"] < 1 or recipe["batch_size"] < 1:
        fail("epochs and batch size must be at least 1")

    # data: the exported splits, encoded as attn encodes them
    train_pairs = read_pairs(args.data / "train.tsv")
    valid_pairs = read_pairs(args.data / "valid.tsv")
    if not train_pairs or not valid_pairs:
        fail(f"{args.data}: empty training or validation split")
    src_vocab = load_vocab(args.data / "src_vocab.json", build_vocab(s for s, _ in train_pairs), "source")
    tgt_vocab = load_vocab(args.data / "tgt_vocab.json", build_vocab(t for _, t in train_pairs), "target")
    if len(src_vocab) > twin.SV or len(tgt_vocab) > twin.TV:
        fail(f"vocabularies of {len(src_vocab)} / {len(tgt_vocab)} tokens exceed the model's {twin.SV} / {twin.TV}")
    train = encode(train_pairs, src_vocab, tgt_vocab, twin.SL, twin.TL, "train.tsv")
    valid = encode(valid_pairs, src_vocab, tgt_vocab, twin.SL, twin.TL, "valid.tsv")
    sample = take(train, slice(0, TRAIN_SAMPLE))

    # model and optimizer
    torch.manual_seed(recipe["seed"])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="enable_nested_tensor is True")
        model = twin.DatesTransformer()
    init_like_attn(model)
    set_dropout(model, recipe["dropout"])
    params = list(model.parameters())
    if recipe["decoupled_weight_decay"]:
        opt = torch.optim.AdamW(params, lr=recipe["lr"], betas=(recipe["beta1"], recipe["beta2"]),
                                eps=recipe["eps"], weight_decay=recipe["weight_decay"])
    else:
        opt = torch.optim.Adam(params, lr=recipe["lr"], betas=(recipe["beta1"], recipe["beta2"]),
                               eps=recipe["eps"], weight_decay=recipe["weight_decay"])
    n_train, bs = train["src"].shape[0], recipe["batch_size"]
    per_epoch = math.ceil(n_train / bs)
    total_steps = per_epoch * recipe["epochs"]
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()} intra-op / "
          f"{torch.get_num_interop_threads()} inter-op; {sum(p.numel() for p in params)} parameters; "
          f"{n_train} / {valid['src'].shape[0]} train / valid examples; {per_epoch} batches per epoch; "
          f"{recipe['epochs']} epochs, lr {recipe['lr']:g}, warm-up {recipe['warmup']}, {recipe['decay']} decay, "
          f"clip {recipe['clip_norm']}, dropout {recipe['dropout']:g}, label smoothing {recipe['label_smoothing']:g}, "
          f"seed {recipe['seed']}; ready after {time.perf_counter() - T0:.1f} s", flush=True)
    print(f"{'epoch':>5} {'seconds':>8} {'train_loss':>10} {'train_acc':>9} {'valid_loss':>10} "
          f"{'valid_acc':>9} {'valid_exact':>11} {'lr':>9} {'epoch_s':>8}", flush=True)

    step, best, stale, reached = 0, None, 0, None
    last_epoch = min(recipe["epochs"], args.stop_after or recipe["epochs"])
    for epoch in range(1, last_epoch + 1):
        started = time.perf_counter()
        model.train()
        gen = torch.Generator().manual_seed(epoch_seed(recipe["seed"], epoch) % 2**63)
        order = torch.randperm(n_train, generator=gen)
        loss_sum, rows = 0.0, 0
        for i in range(0, n_train, bs):
            b = take(train, order[i:i + bs])
            step += 1
            lr = lr_at(step, recipe["lr"], recipe["warmup"], total_steps, recipe["decay"])
            for group in opt.param_groups:
                group["lr"] = lr
            logits = model(b["src"], b["tgt_in"], b["src_pad"])
            loss = F.cross_entropy(logits.reshape(-1, twin.TV), b["tgt"].reshape(-1), ignore_index=IGNORE,
                                   label_smoothing=recipe["label_smoothing"])
            value = loss.item()
            if not math.isfinite(value):
                fail(f"the loss is {value} at epoch {epoch}, step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if recipe["clip_norm"] is not None:
                torch.nn.utils.clip_grad_norm_(params, recipe["clip_norm"], error_if_nonfinite=True)
            opt.step()
            n = int((b["tgt"] != IGNORE).sum())
            loss_sum, rows = loss_sum + value * n, rows + n
        train_acc = teacher_forced(model, sample, bs)
        v = validate(model, valid, bs)
        now = time.perf_counter()
        exact = v["exact"] / max(v["examples"], 1)
        accuracy = v["correct"] / max(v["rows"], 1)
        valid_loss = v["loss_sum"] / max(v["rows"], 1)
        print(f"{epoch:>5} {now - T0:>8.1f} {loss_sum / max(rows, 1):>10.4f} "
              f"{train_acc['correct'] / max(train_acc['rows'], 1):>9.4f} {valid_loss:>10.4f} {accuracy:>9.4f} "
              f"{exact:>11.4f} {lr_at(step, recipe['lr'], recipe['warmup'], total_steps, recipe['decay']):>9.2e} "
              f"{now - started:>7.1f}s", flush=True)
        if reached is None and exact >= args.target:
            reached = (epoch, now - T0)
            if args.stop_at_target:
                break
        key = (exact, accuracy, -valid_loss)  # run/selection.rs, ExactMatch
        if best is None or key > best:
            best, stale = key, 0
        else:
            stale += 1
        if recipe["patience"] is not None and stale >= recipe["patience"]:
            print(f"# early stopping: no better validation score for {stale} epochs", flush=True)
            break
    if reached:
        print(f"# reached {100 * args.target:.2f}% validation exact match at epoch {reached[0]} "
              f"after {reached[1]:.1f} s", flush=True)
    else:
        print(f"# did not reach {100 * args.target:.2f}% validation exact match", flush=True)


if __name__ == "__main__":
    main()
