#!/usr/bin/env python3
"""Long-sequence attention, attn against PyTorch (issue 10): time and peak memory of
self-attention forward+backward at growing S, written into docs/PERFORMANCE.md.

    python3 tools/bench_long_attention.py                        # S = 1024, 4096, 16384
    python3 tools/bench_long_attention.py --seqs 256,512 --reps 2 --write /tmp/perf_test.md

For every S and kind (full, causal, window:256 by default) it runs attn
(`target/release/examples/long_attention`, built first) and PyTorch
(`tools/bench_long_attention_torch.py` under --python), interleaved, each case in a fresh process
so that its peak RSS is that case's own. A process that runs past --timeout or whose resident set
passes --max-rss-gb is killed and its cell reads "—"; the larger sizes of that implementation and
kind are then skipped. Shapes: q, k, v [1, 8, S, 64], f32, CPU; attn through the fused kernel
(--attn-kernel), PyTorch through F.scaled_dot_product_attention.

The markdown (table plus two checks: peak RSS growth, linear in S or quadratic, and local-window
time growth, S·window or S²) goes between `<!-- long-sequences: begin -->` and
`<!-- long-sequences: end -->` in --write, appended under "## Long sequences (issue 10)" when the
markers are missing. Nothing else in that file changes.
"""
import argparse
import datetime
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ATTN_BIN = ROOT / "target" / "release" / "examples" / "long_attention"
TORCH_SCRIPT = ROOT / "tools" / "bench_long_attention_torch.py"
BEGIN = "<!-- long-sequences: begin -->"
END = "<!-- long-sequences: end -->"
HEADING = "## Long sequences (issue 10)"
DASH = "—"


def mem_total_gb():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return 16.0


def rss_kb(pid):
    """Resident set of a live process in KiB (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def run_case(cmd, env, timeout_s, max_rss_kb):
    """Runs one case; returns (result dict or None, failure reason or None, seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    reason, watched_peak = None, 0
    while proc.poll() is None:
        rss = rss_kb(proc.pid)
        if rss is not None:
            watched_peak = max(watched_peak, rss)
            if rss > max_rss_kb:
                reason = f"memory (> {max_rss_kb / 1024**2:.1f} GiB resident)"
        if reason is None and time.monotonic() - start > timeout_s:
            reason = f"timeout (> {timeout_s:.0f} s)"
        if reason is not None:
            os.killpg(proc.pid, signal.SIGKILL)  # the group of the process we started
            break
        time.sleep(0.05)
    out, err = proc.communicate()
    elapsed = time.monotonic() - start
    if reason is not None:
        return None, reason, elapsed
    if proc.returncode != 0:
        tail = err.strip().splitlines()[-1:] or [""]
        if proc.returncode == -signal.SIGKILL:
            return None, "killed (out of memory?)", elapsed
        return None, f"exit {proc.returncode}: {tail[0][:200]}", elapsed
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line), None, elapsed
            except json.JSONDecodeError:
                break
    return None, "no JSON line in the output", elapsed


def fmt_ms(x):
    if x is None:
        return DASH
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_mb(x):
    return DASH if x is None else f"{x:,.0f}"


def growth_line(label, values, seqs, what):
    """One bullet per consecutive pair of sizes: the ratio and its exponent in S."""
    parts = []
    for s1, s2 in zip(seqs, seqs[1:]):
        a, b = values.get(s1), values.get(s2)
        if a is None or b is None or a <= 0:
            parts.append(f"S {s1} → {s2}: {DASH}")
            continue
        f = s2 / s1
        ratio = b / a
        exponent = math.log(ratio) / math.log(f)
        parts.append(
            f"S {s1:,} → {s2:,} (×{f:g}): {what} ×{ratio:.2f} "
            f"(S^{exponent:.2f}; linear ×{f:g}, quadratic ×{f * f:g})"
        )
    return f"- {label}: " + "; ".join(parts) if parts else f"- {label}: {DASH}"


def render(args, results, failures, torch_version, date):
    seqs, kinds = args.seqs, args.kinds
    lines = []
    bases = [r["base_rss_mb"] for (impl, _, _), r in results.items() if impl == "torch"]
    bases = [b for b in bases if b is not None]
    torch_base = f"≈{sum(bases) / len(bases):,.0f}" if bases else DASH
    cmd = "python3 tools/bench_long_attention.py"
    if args.seqs != [1024, 4096, 16384]:
        cmd += " --seqs " + ",".join(map(str, args.seqs))
    cmd += f" --reps {args.reps} --threads {args.threads}"
    lines += [
        "Reproduce (builds the example first; each case in its own process):",
        "",
        "```sh",
        cmd,
        "```",
        "",
        "Self-attention forward+backward: q, k, v `[1, 8, S, 64]` (B=1, H=8, head dim 64), f32, CPU,",
        "`sum()` of the context and the backward pass into q, k and v. attn:",
        f"`benches/examples/long_attention.rs`, `AttentionKernel::{args.attn_kernel.capitalize()}`, "
        "weights skipped, allocation cache on,",
        "`RAYON_NUM_THREADS` threads. PyTorch: `tools/bench_long_attention_torch.py`,",
        "`F.scaled_dot_product_attention` (`is_causal=True` for causal; for `window:w` a boolean band",
        "mask `|i - j| <= w`, itself S² bytes, as SDPA has no band argument).",
        f"Times are the median of {args.reps} repetitions after one warm-up; peak RSS is the process's",
        "high-water mark (attn: `VmHWM`; PyTorch: `ru_maxrss`, which includes the "
        f"{torch_base} MiB resident",
        "after `import torch`). Ratio is attn time ÷ PyTorch time. A run past "
        f"{args.timeout:g} s or {args.max_rss_gb:g} GiB",
        f"resident is killed and reads {DASH}.",
        "",
        f"Measured {date} (PyTorch {torch_version or '?'}, {args.threads} threads):",
        "",
        "| S | kind | attn fwd+bwd (ms) | attn peak RSS (MiB) | PyTorch fwd+bwd (ms) "
        "| PyTorch peak RSS (MiB) | ratio |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for s in seqs:
        for kind in kinds:
            a = results.get(("attn", s, kind))
            t = results.get(("torch", s, kind))
            ratio = DASH
            if a and t and t["ms_fwd_bwd"] > 0:
                ratio = f"{a['ms_fwd_bwd'] / t['ms_fwd_bwd']:.2f}×"
            lines.append(
                f"| {s:,} | {kind} | {fmt_ms(a and a['ms_fwd_bwd'])} "
                f"| {fmt_mb(a and a['peak_rss_mb'])} | {fmt_ms(t and t['ms_fwd_bwd'])} "
                f"| {fmt_mb(t and t['peak_rss_mb'])} | {ratio} |"
            )
    if failures:
        lines += ["", "Not measured:", ""]
        for (impl, s, kind), reason in failures.items():
            lines.append(f"- {impl}, S={s:,}, {kind}: {reason}")

    lines += ["", "Checks:", ""]
    # (a) peak memory growth of attn, each kind: linear in S or quadratic
    lines.append(
        "(a) attn peak RSS growth between sizes (linear in S means ×4 per 4× of S, quadratic ×16):"
    )
    lines.append("")
    for kind in kinds:
        peak = {s: r["peak_rss_mb"] for s in seqs if (r := results.get(("attn", s, kind)))}
        above = {
            s: r["peak_rss_mb"] - r["base_rss_mb"]
            for s in seqs
            if (r := results.get(("attn", s, kind))) and r.get("base_rss_mb") is not None
        }
        lines.append(growth_line(f"attn, {kind}, peak RSS", peak, seqs, "peak"))
        lines.append(
            growth_line(f"attn, {kind}, peak above start-up RSS", above, seqs, "peak − base")
        )
        above_torch = {
            s: r["peak_rss_mb"] - r["base_rss_mb"]
            for s in seqs
            if (r := results.get(("torch", s, kind))) and r.get("base_rss_mb") is not None
        }
        lines.append(
            growth_line(
                f"PyTorch, {kind}, peak above start-up RSS (contrast)",
                above_torch,
                seqs,
                "peak − base",
            )
        )
    lines += [
        "",
        "(b) local attention time growth (S·window work means ×4 per 4× of S once S ≫ window; "
        "S² work ×16):",
        "",
    ]
    windows = [k for k in kinds if k.startswith("window:")]
    for kind in windows:
        for impl, name in (("attn", "attn"), ("torch", "PyTorch")):
            ms = {s: r["ms_fwd_bwd"] for s in seqs if (r := results.get((impl, s, kind)))}
            lines.append(growth_line(f"{name}, {kind}, time", ms, seqs, "time"))
    if not windows:
        lines.append(f"- no window kind measured ({DASH})")
    return "\n".join(lines)


def write_section(path, body):
    path = Path(path)
    block = f"{BEGIN}\n{body}\n{END}"
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    else:
        if text and not text.endswith("\n"):
            text += "\n"
        text += ("\n" if text else "") + f"{HEADING}\n\n{block}\n"
    path.write_text(text)


def parse_list(s, conv=str):
    return [conv(x.strip()) for x in s.split(",") if x.strip()]


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seqs", default="1024,4096,16384", help="sequence lengths, comma-separated")
    ap.add_argument("--kinds", default="full,causal,window:256", help="full, causal, window:<w>")
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions after one warm-up")
    ap.add_argument("--threads", type=int, default=2, help="RAYON_NUM_THREADS / torch threads")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per process")
    ap.add_argument(
        "--max-rss-gb",
        type=float,
        default=round(0.6 * mem_total_gb(), 1),
        help="kill a process past this resident set (default 60%% of RAM)",
    )
    ap.add_argument("--python", default="/root/torchenv/bin/python", help="python with torch")
    ap.add_argument("--attn-kernel", default="fused", choices=["fused", "composite"])
    ap.add_argument("--impls", default="attn,torch", help="attn, torch or both")
    ap.add_argument("--no-build", action="store_true", help="use the example binary as built")
    ap.add_argument("--json", help="also append every result as a JSON line to this file")
    ap.add_argument("--write", default=str(ROOT / "docs" / "PERFORMANCE.md"))
    args = ap.parse_args()
    args.seqs = sorted(set(parse_list(args.seqs, int)))
    args.kinds = parse_list(args.kinds)
    impls = parse_list(args.impls)
    if not args.seqs or min(args.seqs) < 1 or args.reps < 1 or args.threads < 1:
        ap.error("--seqs, --reps and --threads must be positive")
    for k in args.kinds:
        if k not in ("full", "causal") and not (
            k.startswith("window:") and k[7:].isdigit() and int(k[7:]) >= 1
        ):
            ap.error(f"bad kind {k!r}: use full, causal or window:<w>")
    if not set(impls) <= {"attn", "torch"} or not impls:
        ap.error("--impls takes attn and/or torch")

    if "attn" in impls and not args.no_build:
        build = ["cargo", "build", "--release", "-p", "attn-benches", "--example", "long_attention"]
        print("$ " + " ".join(build), file=sys.stderr, flush=True)
        subprocess.run(build, cwd=ROOT, check=True)

    threads = str(args.threads)
    env_attn = dict(os.environ, RAYON_NUM_THREADS=threads)
    env_torch = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    max_rss_kb = args.max_rss_gb * 1024**2

    def command(impl, s, kind):
        if impl == "attn":
            return [
                str(ATTN_BIN),
                *("--seq", str(s), "--kind", kind),
                *("--kernel", args.attn_kernel, "--reps", str(args.reps)),
            ]
        return [
            args.python,
            str(TORCH_SCRIPT),
            *("--seq", str(s), "--kind", kind),
            *("--reps", str(args.reps), "--threads", threads),
        ]

    results, failures, given_up = {}, {}, set()
    torch_version = None
    json_out = open(args.json, "a") if args.json else None
    t_all = time.monotonic()
    for s in args.seqs:
        for kind in args.kinds:
            for impl in impls:  # interleaved: attn, torch, attn, torch, ...
                key = (impl, s, kind)
                if (impl, kind) in given_up:
                    failures[key] = "skipped (a smaller S already failed)"
                    print(f"{impl:5} S={s:<6} {kind:12} skipped", file=sys.stderr, flush=True)
                    continue
                env = env_attn if impl == "attn" else env_torch
                res, reason, secs = run_case(command(*key), env, args.timeout, max_rss_kb)
                if res is None:
                    failures[key] = reason
                    given_up.add((impl, kind))
                    print(
                        f"{impl:5} S={s:<6} {kind:12} {DASH} {reason} ({secs:.0f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
                    continue
                results[key] = res
                torch_version = res.get("torch", torch_version)
                print(json.dumps(res), flush=True)
                if json_out:
                    json_out.write(json.dumps(res) + "\n")
                    json_out.flush()
    if json_out:
        json_out.close()
    print(f"all cases: {time.monotonic() - t_all:.0f} s", file=sys.stderr)

    date = datetime.date.today().isoformat()
    body = render(args, results, failures, torch_version, date)
    write_section(args.write, body)
    print(body)
    print(f"\nwrote {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
