#!/usr/bin/env bash
# Measures what const generics cost at compile time, for docs/PERFORMANCE.md:
#   1. a clean release build of attn-models (the whole zoo) and everything under it;
#   2. a release rebuild of the attn-models crate alone (dependencies built);
#   3. the incremental rebuild after changing one model's `heads`, release and dev profiles.
# (Our own zoo crate; what users pay is measured by tools/measure_compile_time.sh.)
# Usage: tools/measure_zoo_compile_time.sh   (from the repository root; restores the file it edits)
set -euo pipefail
cd "$(dirname "$0")/.."
model=models/src/sentiment_encoder.rs
cp "$model" /tmp/attn_model_backup.rs
trap 'cp /tmp/attn_model_backup.rs "$model"' EXIT

secs() { local start end; start=$(date +%s%N); "$@" >/dev/null 2>&1; end=$(date +%s%N); awk -v ns=$((end - start)) 'BEGIN { printf "%.1f", ns / 1e9 }'; }

echo "rustc: $(rustc --version)"
echo "cores: $(nproc)"
cargo clean --release >/dev/null 2>&1 || true
echo "clean release build of attn-models and its dependencies: $(secs cargo build --release -p attn-models) s"
touch models/src/lib.rs
echo "release rebuild of attn-models alone: $(secs cargo build --release -p attn-models) s"
sed -i 's/heads: 4,/heads: 8,/' "$model"
echo "release rebuild after heads 4 -> 8 in sentiment-encoder: $(secs cargo build --release -p attn-models) s"
cargo build -p attn-models >/dev/null 2>&1
sed -i 's/heads: 8,/heads: 2,/' "$model"
echo "dev rebuild after heads 8 -> 2 in sentiment-encoder: $(secs cargo build -p attn-models) s"
