#!/usr/bin/env python3
"""Time to accuracy, end to end (issue 18, item 6): our `train dates-transformer` and its PyTorch
twin (`tools/train_dates_torch.py`), each with the same thread count (2 by default), one after
the other; prints a Markdown table of the wall seconds each needs to reach 99% validation exact
match, the epochs that took, the final exact match and the seconds per epoch, with the CPU model
(`lscpu`), the torch version and the git commit.

    python3 tools/time_to_accuracy.py --torch-python /tmp/venv-torch/bin/python
    python3 tools/time_to_accuracy.py --torch-python /tmp/venv-torch/bin/python --stop-at-target
    python3 tools/time_to_accuracy.py --skip-torch --max-epochs 3

Run it on an idle machine: both runs are timed by the wall clock. Needs no third-party module
itself. What it runs:

- ours: `target/release/train dates-transformer --quiet --out <log dir>/runs` with
  `RAYON_NUM_THREADS=<threads>` (built with `cargo build --release -p attn-cli --bin train` when
  missing, or always with `--rebuild`). `bin/src/train.rs` prints a header line, then one line per
  epoch (`epoch train_loss train_acc valid_loss valid_acc valid_exact valid_bleu lr time ex/s`,
  `time` being the epoch's own seconds: its training steps and validation,
  `attn-runtime/src/train/trainer/epochs.rs`); the recommended settings are
  `attn-runtime/src/train/recommended.rs`.
- the twin: `<torch python> tools/train_dates_torch.py --data <export dir> --threads <threads>`
  over the splits that `target/release/examples/export_dates` writes (built and run when the
  export directory has no `train.tsv`).

The wall seconds to the target are counted by this script from the moment it starts a run to the
moment that run prints the first epoch line whose validation exact match reaches `--target`:
process start-up, data generation or loading, model construction, and every epoch's training and
validation are in it, for both runs alike. "s per epoch" is the mean of the epochs' own seconds
(training plus validation) as each run reports them. `--max-epochs N` gives both runs a budget of
N epochs (`train --epochs N`; the cosine schedule then spans N epochs in both);
`--stop-at-target` ends each run at its first epoch that reaches the target (ours by SIGTERM,
after which it saves the model and exits with status 130), so "final exact match" is then that
epoch's.
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TORCH_PYTHON = "/tmp/venv-torch/bin/python"


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def run_quiet(cmd, **kw):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, **kw)
    except OSError as e:
        return subprocess.CompletedProcess(cmd, 127, "", str(e))


def git_commit():
    head = run_quiet(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT)
    if head.returncode != 0:
        return "unknown"
    dirty = run_quiet(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT)
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def cpu_model():
    out = run_quiet(["lscpu"])
    for line in out.stdout.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def cargo_build(args):
    print("$ cargo build --release " + " ".join(args), file=sys.stderr, flush=True)
    if subprocess.run(["cargo", "build", "--release", *args], cwd=ROOT).returncode != 0:
        fail("cargo build failed")


def ensure_export(export_dir):
    if (export_dir / "train.tsv").exists():
        return
    exe = ROOT / "target" / "release" / "examples" / "export_dates"
    if not exe.exists():
        cargo_build(["-p", "attn-benches", "--example", "export_dates"])
    if subprocess.run([str(exe), str(export_dir)], cwd=ROOT).returncode != 0:
        fail("export_dates failed")


def stream(cmd, env, log_path, target, stop_at_target, row_of):
    """Runs `cmd`, timestamping each output line from the start; with `stop_at_target`, sends
    SIGTERM once an epoch line reaches `target`. Returns (exit status, [(seconds, line)])."""
    lines = []
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
    except OSError as e:
        fail(f"cannot run {cmd[0]}: {e}")
    header = None
    stopped = False
    with open(log_path, "w", encoding="utf-8") as log:
        for line in proc.stdout:
            t = time.perf_counter() - started
            line = line.rstrip("\n")
            lines.append((t, line))
            log.write(f"{t:10.3f}  {line}\n")
            log.flush()
            print(f"  [{t:7.1f} s] {line}", file=sys.stderr, flush=True)
            if header is None and is_header(line):
                header = line.split()
                continue
            row = row_of(header, line) if header else None
            if stop_at_target and not stopped and row and row["valid_exact"] >= target:
                proc.send_signal(signal.SIGTERM)
                stopped = True
    return proc.wait(), lines


def is_header(line):
    words = line.split()
    return bool(words) and words[0] == "epoch" and "valid_exact" in words


def parse_row(header, line, seconds_column):
    """One epoch line under `header` as numbers (a trailing `s` of seconds dropped), or None."""
    words = line.split()
    if len(words) != len(header) or not words[0].isdigit():
        return None
    row = {}
    for name, word in zip(header, words):
        try:
            row[name] = float(word[:-1] if word.endswith("s") else word)
        except ValueError:
            return None
    row["epoch"] = int(row["epoch"])
    row["epoch_seconds"] = row[seconds_column]
    return row


def summarise(name, status, lines, seconds_column, target, ok_statuses):
    header, epochs, params = None, [], None
    for t, line in lines:
        m = re.search(r"(\d+) parameters", line)
        if params is None and m:
            params = int(m.group(1))
        if header is None and is_header(line):
            header = line.split()
            continue
        row = parse_row(header, line, seconds_column) if header else None
        if row:
            row["wall"] = t
            epochs.append(row)
    result = {"name": name, "status": status, "epochs": epochs, "params": params, "reached": None,
              "ok": status in ok_statuses and bool(epochs)}
    for row in epochs:
        if row["valid_exact"] >= target:
            result["reached"] = row
            break
    return result


def torch_version(python):
    out = run_quiet([python, "-c", "import torch; print(torch.__version__)"])
    last = (out.stdout.strip().splitlines() or [""])[-1]
    return last if out.returncode == 0 and re.match(r"\d+\.\d+", last) else "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--torch-python", default=DEFAULT_TORCH_PYTHON,
                    help=f"the Python of a virtualenv with torch (default {DEFAULT_TORCH_PYTHON})")
    ap.add_argument("--threads", type=int, default=2, help="threads of each run (default 2)")
    ap.add_argument("--target", type=float, default=0.99, help="validation exact match to reach (default 0.99)")
    ap.add_argument("--max-epochs", type=int, help="epochs of both runs (`train --epochs`; default: the recipe's 6)")
    ap.add_argument("--seed", type=int, default=0, help="training seed of both runs (default 0)")
    ap.add_argument("--stop-at-target", action="store_true", help="end each run at its first epoch that reaches --target")
    ap.add_argument("--skip-attn", action="store_true", help="do not run ours")
    ap.add_argument("--skip-torch", action="store_true", help="do not run the PyTorch twin")
    ap.add_argument("--export-dir", type=Path, default=Path("/tmp/dates-export"),
                    help="the twin's data, written by export_dates when missing (default /tmp/dates-export)")
    ap.add_argument("--train-bin", type=Path, default=ROOT / "target" / "release" / "train")
    ap.add_argument("--rebuild", action="store_true", help="run cargo build for the train binary even when it exists")
    ap.add_argument("--log-dir", type=Path, help="where the logs and our run directory go (default: a new temporary directory)")
    args = ap.parse_args()
    if args.skip_attn and args.skip_torch:
        fail("--skip-attn and --skip-torch leave nothing to run")
    if args.threads < 1 or (args.max_epochs is not None and args.max_epochs < 1):
        fail("--threads and --max-epochs must be at least 1")

    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="time-to-accuracy-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    results = []

    if not args.skip_attn:
        if args.rebuild or not args.train_bin.exists():
            cargo_build(["-p", "attn-cli", "--bin", "train"])
        if not args.train_bin.exists():
            fail(f"{args.train_bin} does not exist")
        cmd = [str(args.train_bin), "dates-transformer", "--quiet", "--seed", str(args.seed),
               "--out", str(log_dir / "runs")]
        if args.max_epochs:
            cmd += ["--epochs", str(args.max_epochs)]
        env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
        print(f"$ RAYON_NUM_THREADS={args.threads} {' '.join(cmd)}", file=sys.stderr, flush=True)
        status, lines = stream(cmd, env, log_dir / "attn.log", args.target, args.stop_at_target,
                               lambda h, l: parse_row(h, l, "time"))
        results.append(summarise("attn (`train dates-transformer`)", status, lines, "time", args.target,
                                 {0, 130} if args.stop_at_target else {0}))

    torch_ver = None
    if not args.skip_torch:
        ensure_export(args.export_dir)
        cmd = [args.torch_python, str(ROOT / "tools" / "train_dates_torch.py"), "--data", str(args.export_dir),
               "--threads", str(args.threads), "--seed", str(args.seed), "--target", str(args.target)]
        if args.max_epochs:
            cmd += ["--epochs", str(args.max_epochs)]
        if args.stop_at_target:
            cmd.append("--stop-at-target")
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
        print(f"$ {' '.join(cmd)}", file=sys.stderr, flush=True)
        status, lines = stream(cmd, env, log_dir / "torch.log", args.target, False,
                               lambda h, l: parse_row(h, l, "epoch_s"))
        results.append(summarise("PyTorch twin (`tools/train_dates_torch.py`)", status, lines, "epoch_s",
                                 args.target, {0}))
        for _, line in lines:
            m = re.match(r"# torch (\S+),", line)
            if m:
                torch_ver = m.group(1)
                break
    if torch_ver is None:
        torch_ver = torch_version(args.torch_python)

    print()
    print(f"Time to {100 * args.target:g}% validation exact match, `dates-transformer`'s recipe"
          f"{f' ({args.max_epochs} epochs)' if args.max_epochs else ''}, seed {args.seed}, "
          f"{args.threads} threads each; CPU: {cpu_model()}; torch {torch_ver}; commit {git_commit()}; "
          f"{time.strftime('%Y-%m-%d')}.")
    print()
    print("| run | wall s to target | epochs to target | final valid exact match | s per epoch | parameters |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        reached = r["reached"]
        wall = f"{reached['wall']:.1f}" if reached else "not reached"
        epochs = str(reached["epoch"]) if reached else f"> {len(r['epochs'])}"
        final = (f"{100 * r['epochs'][-1]['valid_exact']:.2f}% (epoch {r['epochs'][-1]['epoch']})"
                 if r["epochs"] else "-")
        per_epoch = f"{statistics.mean(e['epoch_seconds'] for e in r['epochs']):.1f}" if r["epochs"] else "-"
        print(f"| {r['name']} | {wall} | {epochs} | {final} | {per_epoch} | {r['params'] or '-'} |")
    print()
    params = {r["params"] for r in results if r["params"]}
    if len(params) > 1:
        print("Warning: the two models' parameter counts differ: the twin is not the same model.")
    for r in results:
        if not r["ok"]:
            print(f"Warning: {r['name']} ended with status {r['status']} after {len(r['epochs'])} epoch lines "
                  f"(see the log).")
    print(f"Logs (each line with its seconds since the run started): {log_dir}")
    sys.exit(0 if all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    main()
