#!/usr/bin/env bash
# Runs the five declared sweeps with the small settings docs/EXPERIMENTS.md states, and copies
# their tables and charts into docs/experiments/. Rerunning resumes: finished runs are skipped.
# Usage: tools/run_sweeps.sh [out-dir]   (default: sweeps)
set -euo pipefail
out="${1:-sweeps}"
cargo build --release --bin sweep
start=$(date +%s)
for s in sweep-heads sweep-width sweep-depth sweep-activation; do
  ./target/release/sweep "$s" --epochs 3 --max-train 4000 --seeds 3 --out "$out"
done
./target/release/sweep sweep-dropout --epochs 12 --seeds 3 --out "$out"
echo "all five sweeps: $(( $(date +%s) - start )) s"
mkdir -p docs/experiments
for s in sweep-heads sweep-width sweep-depth sweep-activation sweep-dropout; do
  rm -rf "docs/experiments/$s" && mkdir -p "docs/experiments/$s"
  cp "$out/$s"/summary.md "$out/$s"/summary.csv "docs/experiments/$s/"
  cp "$out/$s"/*.png "docs/experiments/$s/" 2>/dev/null || true
done
