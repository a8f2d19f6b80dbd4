#!/usr/bin/env python3
"""attn against PyTorch, side by side: each criterion bench suite and its PyTorch twin run
alternately for several rounds on the same machine with the same thread count; the medians over
rounds become a table in a section of docs/PERFORMANCE.md of its own, named by the CPU (as
`lscpu` names it) and the date, so that other machines' tables stay as history.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    python3 tools/bench_side_by_side.py --python /tmp/torchenv/bin/python --threads 2 --rounds 3

Needs no third-party module itself (it only runs cargo and the twin scripts). Targets (issue 18):
attention, multi-head attention, the encoder block and the 2-layer step no slower than PyTorch,
the default model's step at 0.8× or less, every GEMM (2048³ and the products of a training step:
projections and weight gradients) at 85% or more of the machine's FMA peak
(`benches/src/peak.rs`), beside the ceiling that the register tiles' instruction mix reaches
from the level-1 cache. Each row also
gives the achieved model FLOP rate and its share of that peak (MFU) for attn and PyTorch, from
FLOP counts computed from the case's shapes (`FLOPS`).
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (criterion bench, PyTorch twin script)
SUITES = [
    ("attention", "tools/bench_attention_torch.py"),
    ("transformer", "tools/bench_transformer_torch.py"),
    ("seq2seq", "tools/bench_train_torch.py"),
    ("gemm", "tools/bench_gemm_torch.py"),
]

# (row label, shape, criterion full id, regex on the twin's output giving ms, target ratio)
CASES = [
    ("SDPA forward", "B=32 S=64 D=128 H=4", "sdpa/forward/B32_S64_D128_H4", r"^sdpa/forward/B32_S64_D128_H4: ([\d.]+) ms", 1.0),
    ("SDPA forward+backward", "B=32 S=64 D=128 H=4", "sdpa/forward_backward/B32_S64_D128_H4", r"^sdpa/forward_backward/B32_S64_D128_H4: ([\d.]+) ms", 1.0),
    ("SDPA forward", "B=16 S=256 D=256 H=8", "sdpa/forward/B16_S256_D256_H8", r"^sdpa/forward/B16_S256_D256_H8: ([\d.]+) ms", 1.0),
    ("SDPA forward+backward", "B=16 S=256 D=256 H=8", "sdpa/forward_backward/B16_S256_D256_H8", r"^sdpa/forward_backward/B16_S256_D256_H8: ([\d.]+) ms", 1.0),
    ("MHA forward", "B=32 S=64 D=128 H=4", "mha/forward/B32_S64_D128_H4", r"^mha/forward/B32_S64_D128_H4: ([\d.]+) ms", 1.0),
    ("MHA forward+backward", "B=32 S=64 D=128 H=4", "mha/forward_backward/B32_S64_D128_H4", r"^mha/forward_backward/B32_S64_D128_H4: ([\d.]+) ms", 1.0),
    ("MHA forward", "B=16 S=256 D=256 H=8", "mha/forward/B16_S256_D256_H8", r"^mha/forward/B16_S256_D256_H8: ([\d.]+) ms", 1.0),
    ("MHA forward+backward", "B=16 S=256 D=256 H=8", "mha/forward_backward/B16_S256_D256_H8", r"^mha/forward_backward/B16_S256_D256_H8: ([\d.]+) ms", 1.0),
    ("encoder block forward+backward", "B=32 S=64 D=128 H=4 FF=512", "transformer/encoder_block_forward_backward/B32_S64_D128_H4_FF512", r"^transformer/encoder_block_forward_backward: ([\d.]+) ms", 1.0),
    ("2-layer encoder training step", "B=32 S=64 D=128 H=4 FF=512 V=1000", "transformer/encoder_2_layers_train_step/B32_S64_D128_H4_FF512_V1000", r"^transformer/encoder_2_layers_train_step: ([\d.]+) ms", 1.0),
    ("default model training step (dates-transformer)", "B=32", "seq2seq/train_step/dates-transformer", r"^dates-transformer train step \(batch 32\): ([\d.]+) ms", 0.8),
    ("default model training step (dates-transformer), the recipe's batch", "B=64", "seq2seq/train_step/dates-transformer-b64", r"^dates-transformer train step \(batch 64\): ([\d.]+) ms", 0.8),
    ("GEMM", "2048×2048×2048", "gemm/matmul/2048x2048x2048", r"^gemm/matmul/2048x2048x2048: ([\d.]+) ms", None),
]
# the products of a training step (benches/benches/gemm.rs): label, criterion group, shapes
GEMM_SHAPES = [
    ("GEMM, projection x·Wᵀ", "proj", [(2048, 64, 64), (2048, 128, 128), (2048, 128, 512),
                                      (2048, 512, 128), (4096, 256, 256), (2048, 512, 512)]),
    ("GEMM, weight gradient dyᵀ·x", "weight_grad", [(128, 2048, 128), (512, 2048, 128)]),
]
for _label, _group, _shapes in GEMM_SHAPES:
    for (_m, _k, _n) in _shapes:
        _id = f"gemm/{_group}/{_m}x{_k}x{_n}"
        CASES.append((_label, f"{_m}×{_k}×{_n}", _id, rf"^{_id}: ([\d.]+) ms", None))
# every product case: its id and FLOPs (2 per multiply-add)
GEMM_CASES = {full_id: 2.0 * m * k * n
              for full_id, (m, k, n) in
              [("gemm/matmul/2048x2048x2048", (2048, 2048, 2048))] +
              [(f"gemm/{g}/{m}x{k}x{n}", (m, k, n)) for _l, g, shapes in GEMM_SHAPES
               for (m, k, n) in shapes]}


# Model FLOPs of each case from its shapes: 2 per multiply-add of the matrix products
# (projections, attention scores and mixing, feed-forward, output layer); a backward pass counts
# twice its forward (the usual MFU convention: FlashAttention's recomputation and the element-wise
# passes do not count). Decoder lengths are the declared maxima, as the benchmarks pad to them.
def sdpa_flops(b, s, d):
    return 2.0 * 2 * b * s * s * d  # q·kᵀ and weights·v over all heads


def mha_flops(b, s, d):
    return 2.0 * 4 * b * s * d * d + sdpa_flops(b, s, d)


def encoder_block_flops(b, s, d, ff):
    return mha_flops(b, s, d) + 2.0 * 2 * b * s * d * ff


def decoder_block_flops(b, st, ss, d, ff):
    self_attn = mha_flops(b, st, d)
    cross = 2.0 * (2 * b * st * d * d + 2 * b * ss * d * d + 2 * b * st * ss * d)
    return self_attn + cross + 2.0 * 2 * b * st * d * ff


def dates_transformer_flops(b):
    """dates-transformer: d 64, ff 256, 2 + 2 blocks, source 32, target 12, 16 output classes."""
    return (2 * encoder_block_flops(b, 32, 64, 256) + 2 * decoder_block_flops(b, 12, 32, 64, 256)
            + 2.0 * b * 12 * 64 * 16)


TRAIN = 3.0  # forward + backward
FLOPS = {
    "sdpa/forward/B32_S64_D128_H4": sdpa_flops(32, 64, 128),
    "sdpa/forward_backward/B32_S64_D128_H4": TRAIN * sdpa_flops(32, 64, 128),
    "sdpa/forward/B16_S256_D256_H8": sdpa_flops(16, 256, 256),
    "sdpa/forward_backward/B16_S256_D256_H8": TRAIN * sdpa_flops(16, 256, 256),
    "mha/forward/B32_S64_D128_H4": mha_flops(32, 64, 128),
    "mha/forward_backward/B32_S64_D128_H4": TRAIN * mha_flops(32, 64, 128),
    "mha/forward/B16_S256_D256_H8": mha_flops(16, 256, 256),
    "mha/forward_backward/B16_S256_D256_H8": TRAIN * mha_flops(16, 256, 256),
    "transformer/encoder_block_forward_backward/B32_S64_D128_H4_FF512":
        TRAIN * encoder_block_flops(32, 64, 128, 512),
    # 2 blocks and a per-token 1000-way output layer
    "transformer/encoder_2_layers_train_step/B32_S64_D128_H4_FF512_V1000":
        TRAIN * (2 * encoder_block_flops(32, 64, 128, 512) + 2.0 * 32 * 64 * 128 * 1000),
    "seq2seq/train_step/dates-transformer": TRAIN * dates_transformer_flops(32),
    "seq2seq/train_step/dates-transformer-b64": TRAIN * dates_transformer_flops(64),
    **GEMM_CASES,
}


def utilisation(ms, flops, peak):
    """`GFLOP/s (share of peak)` of a case that took `ms`."""
    if ms is None or flops is None:
        return "—"
    rate = flops / (ms / 1e3) / 1e9
    return f"{rate:.0f} ({100 * rate / peak:.0f}%)" if peak else f"{rate:.0f}"
PEAK_PREFIX = "peak/fma/"
TILE_MIX_PREFIX = "peak/tile_mix/"


def burst_rate(attn, prefix):
    """GFLOP/s of the burst benchmark whose id starts with `prefix`, or None where not run."""
    burst_id = next((k for k in attn if k.startswith(prefix)), None)
    if not burst_id:
        return None
    # the id says how many threads ran how many multiply-adds each: threads2_fmas786432
    threads_run, fmas = map(int, re.findall(r"\d+", burst_id[len(prefix):]))
    return 2.0 * fmas * threads_run / (attn[burst_id] / 1e3) / 1e9


def target_dir():
    out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return Path(json.loads(out)["target_directory"])


def criterion_medians(target, since):
    """full id -> median ms of every criterion benchmark measured after `since` (a time.time())."""
    found = {}
    for bench in (target / "criterion").glob("**/new/benchmark.json"):
        if bench.stat().st_mtime < since:
            continue  # an older run's result, not this round's
        full_id = json.loads(bench.read_text())["full_id"]
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        found[full_id] = estimates["median"]["point_estimate"] / 1e6
    return found


def run_attn(suite, threads, seconds):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    cmd = ["cargo", "bench", "-p", "attn-benches", "--bench", suite, "--",
           "--warm-up-time", "1", "--measurement-time", str(seconds)]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def run_torch(python, script, threads):
    out = subprocess.run([python, script, "--threads", str(threads)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return out


def fmt(ms):
    return f"{ms:.2f}" if ms < 100 else f"{ms:.1f}"


def table(attn, torch, threads, torch_version):
    peak = burst_rate(attn, PEAK_PREFIX)
    tile_mix = burst_rate(attn, TILE_MIX_PREFIX)
    rows = ["| case | shape | attn (ms) | PyTorch (ms) | ratio | target | met "
            "| attn GFLOP/s (MFU) | PyTorch GFLOP/s (MFU) |",
            "|---|---|---:|---:|---:|---|---|---:|---:|"]
    for label, shape, full_id, _, target in CASES:
        a, t = attn.get(full_id), torch.get(full_id)
        flops = FLOPS.get(full_id)
        mfu = f"{utilisation(a, flops, peak)} | {utilisation(t, flops, peak)}"
        if a is None or t is None:
            rows.append(f"| {label} | {shape} | {fmt(a) if a else '—'} | {fmt(t) if t else '—'} "
                        f"| — | — | — | {mfu} |")
            continue
        ratio = a / t
        goal = f"≤ {target:.1f}×" if target else ""
        met = ("yes" if ratio <= target else "no") if target else ""
        rows.append(f"| {label} | {shape} | {fmt(a)} | {fmt(t)} | {ratio:.2f}× | {goal} | {met} "
                    f"| {mfu} |")
    lines = ["\n".join(rows), ""]
    if peak:
        lines.append(f"MFU: model FLOPs (from the shapes, backward = 2 × forward) per second as a "
                     f"share of the measured FMA peak ({peak:.0f} GFLOP/s on {threads} threads).")
        lines.append("")
    measured = [i for i in GEMM_CASES if i in attn]
    if peak and measured:
        met = [i for i in measured if GEMM_CASES[i] / (attn[i] / 1e3) / 1e9 >= 0.85 * peak]
        lines.append(
            f"GEMM (target: every product at ≥ 85% of the measured FMA peak of {peak:.0f} GFLOP/s "
            f"on {threads} threads): {len(met)} of {len(measured)} products meet it"
            + (f" ({', '.join(i.removeprefix('gemm/') for i in met)})." if met else "."))
        if tile_mix:
            rates = [GEMM_CASES[i] / (attn[i] / 1e3) / 1e9 for i in measured]
            lines.append(
                f"The register tiles' own instruction mix with its operands in the level-1 cache "
                f"(`tile_mix_burst`) runs at {tile_mix:.0f} GFLOP/s, {100 * tile_mix / peak:.0f}% "
                f"of that peak: the ceiling of any product on these tiles. attn's products reach "
                f"{100 * min(rates) / tile_mix:.0f}–{100 * max(rates) / tile_mix:.0f}% of it.")
        lines.append("")
    lines.append(f"Medians over the rounds; each round runs a criterion suite, then its PyTorch "
                 f"twin (torch {torch_version}), {threads} threads each.")
    return "\n".join(lines)


def cpu_model():
    """The CPU's name as `lscpu` gives it, with its family and model numbers."""
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    field = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    name = field.get("Model name", "unknown CPU").strip()
    family, model = field.get("CPU family", "").strip(), field.get("Model", "").strip()
    return f'"{name}" (family {family} model {model})' if family and model else f'"{name}"'


def write_section(doc, text, args):
    """Writes the table as a section of its own, named by the CPU, the date and the commit, so
    that the tables of other machines, days and commits stay in the document as history; a rerun
    on the same CPU, day and commit replaces its own section (between markers that name all
    three)."""
    cpu, day = cpu_model(), datetime.date.today().isoformat()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    key = f"{cpu} {day} {commit}"
    begin, end = f"<!-- side-by-side {key}: begin -->", f"<!-- side-by-side {key}: end -->"
    command = (f"python3 tools/bench_side_by_side.py --threads {args.threads} --rounds {args.rounds} "
               f"--seconds {args.seconds}")
    block = (f"{begin}\n### Side by side on {cpu}, {day}\n\n`{command}` at commit {commit}"
             f"{' (with uncommitted changes)' if dirty else ''}, on an idle machine.\n\n{text}\n{end}")
    body = doc.read_text()
    if begin in body and end in body:
        body = body[: body.index(begin)] + block + body[body.index(end) + len(end):]
    else:
        body = body.rstrip("\n") + f"\n\n{block}\n"
    doc.write_text(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default="python3", help="a Python with torch installed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4, help="criterion measurement time")
    ap.add_argument("--suites", default=",".join(s for s, _ in SUITES))
    ap.add_argument("--write", default="docs/PERFORMANCE.md",
                    help="the document that gets a new section named by this CPU and today's date")
    args = ap.parse_args()
    wanted = args.suites.split(",")
    target = target_dir()
    attn_runs, torch_runs = {}, {}
    torch_version = "?"
    for r in range(args.rounds):
        for suite, script in SUITES:
            if suite not in wanted:
                continue
            print(f"round {r + 1}/{args.rounds}: {suite}", file=sys.stderr)
            started = time.time()
            run_attn(suite, args.threads, args.seconds)
            for k, v in criterion_medians(target, started).items():
                attn_runs.setdefault(k, {})[r] = v
            out = run_torch(args.python, script, args.threads)
            m = re.search(r"^torch ([\w.+]+)", out, re.M)
            torch_version = m.group(1) if m else torch_version
            for _, _, full_id, pattern, _ in CASES:
                m = re.search(pattern, out, re.M)
                if m:
                    torch_runs.setdefault(full_id, []).append(float(m.group(1)))
    attn = {k: statistics.median(v.values()) for k, v in attn_runs.items()}
    torch = {k: statistics.median(v) for k, v in torch_runs.items()}
    text = table(attn, torch, args.threads, torch_version)
    print(text)
    write_section(ROOT / args.write, text, args)


if __name__ == "__main__":
    main()
