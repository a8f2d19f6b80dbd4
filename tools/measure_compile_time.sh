#!/usr/bin/env bash
# What const generics cost where users pay it: in a crate of their own whose binary instantiates
# several declared models (issue 15). Builds, in a scratch folder outside the repository:
#   - a user crate with seven declared models (one of each kind) and a three-line main over them;
#   - a user crate with one declared model;
# then measures, for the release profile (what `cargo run --release` builds) and the dev profile:
#   0. (seven models, release) the clean build: the crate and every dependency, attn included;
#   1. the crate's own build once its dependencies are built (`touch src/main.rs`);
#   2. the incremental rebuild after changing one model's `d_model` (the edit users make most);
# each as wall seconds and CPU seconds (user + system of cargo and every rustc it runs).
# Usage: tools/measure_compile_time.sh [scratch-dir]   (default /tmp/attn-user-compile)
# (Our own zoo crate's figures come from tools/measure_zoo_compile_time.sh.)
# Run it on an idle machine: the CPU seconds hold up under load, the wall seconds do not.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-/tmp/attn-user-compile}"
mkdir -p "$dir"
# one build folder for both crates: their dependencies are built once per profile
export CARGO_TARGET_DIR="$dir/target"

manifest() { # name
    cat <<EOF
[package]
name = "$1"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
attn-runtime = { path = "$repo/attn-runtime" }
attn-cli = { path = "$repo/bin", default-features = false }

[workspace]

[profile.dev]
opt-level = 1
debug = 1

[profile.dev.package."*"]
opt-level = 3
debug = 0

[profile.release]
debug = 0

[patch.crates-io]
gemm = { path = "$repo/shims/gemm" }
EOF
}

# what both crates declare: the imports and the model whose `d_model` the rebuild changes
shared() {
    cat <<'EOF'
use attn_runtime::attention_model;
use attn_runtime::registry::Registry;
use attn_runtime::zoo::Entry;

attention_model! {
    /// Transformer encoder-decoder.
    #[name = "u-transformer", data = "dates"]
    pub struct UTransformer {
        arch: Transformer, task: Seq2Seq { src_vocab: 64, tgt_vocab: 16, src_len: 32, tgt_len: 12 },
        d_model: 64, heads: 4, ff: 256, encoder_layers: 2, decoder_layers: 2,
        activation: Gelu, norm: Pre, tie_embeddings: true,
    }
}
EOF
}

seven_models() {
    shared
    cat <<'EOF'

attention_model! {
    /// Single-head classifier.
    #[name = "u-single", data = "sentiment"]
    pub struct USingle {
        arch: SingleHead, task: Classify { vocab: 4096, max_len: 64, classes: 2 },
        d_model: 64, scoring: Scaled,
    }
}
attention_model! {
    /// Self-attention tagger.
    #[name = "u-tagger", data = "sort"]
    pub struct UTagger {
        arch: SelfAttention, task: Tag { vocab: 16, max_len: 12, tags: 16 },
        d_model: 64, heads: 4, layers: 2, positional: Learned,
    }
}
attention_model! {
    /// Patch classifier.
    #[name = "u-patches", data = "digits"]
    pub struct UPatches {
        arch: PatchAttention, task: ImageClassify { channels: 1, height: 8, width: 8, classes: 10 },
        d_model: 64, heads: 4, layers: 2, patch: 2,
    }
}
attention_model! {
    /// Recurrent classifier.
    #[name = "u-rnn-classifier", data = "sentiment"]
    pub struct URnnClassifier {
        arch: Recurrent, task: Classify { vocab: 4096, max_len: 64, classes: 2 },
        d_model: 64, cell: Gru, hidden: 64, bidirectional: true, layers: 1, attention: Additive,
    }
}
attention_model! {
    /// Recurrent encoder-decoder.
    #[name = "u-rnn-seq2seq", data = "dates"]
    pub struct URnnSeq2Seq {
        arch: Recurrent, task: Seq2Seq { src_vocab: 64, tgt_vocab: 16, src_len: 32, tgt_len: 12 },
        d_model: 64, cell: Lstm, hidden: 64, attention: General,
    }
}
attention_model! {
    /// Transformer encoder classifier.
    #[name = "u-encoder", data = "sentiment"]
    pub struct UEncoder {
        arch: Transformer, task: Classify { vocab: 4096, max_len: 64, classes: 2 },
        d_model: 64, heads: 4, ff: 256, layers: 2, activation: Gelu, norm: Pre, pooling: Cls,
    }
}

fn main() {
    attn_cli::main(
        &Registry::new()
            .model(&Entry::<USingle>::NEW)
            .model(&Entry::<UTagger>::NEW)
            .model(&Entry::<UPatches>::NEW)
            .model(&Entry::<URnnClassifier>::NEW)
            .model(&Entry::<URnnSeq2Seq>::NEW)
            .model(&Entry::<UEncoder>::NEW)
            .model(&Entry::<UTransformer>::NEW),
    );
}
EOF
}

one_model() {
    shared
    cat <<'EOF'

fn main() {
    attn_cli::main(&Registry::new().model(&Entry::<UTransformer>::NEW));
}
EOF
}

# wall and CPU seconds of a command (CPU: user + system of it and every process it waited for)
measure() {
    local report
    report=$(mktemp)
    if ! /usr/bin/time -f "%e %U %S" -o "$report" "$@" >/dev/null 2>&1; then
        echo "failed: $*" >&2
        "$@" >&2 || true
        exit 1
    fi
    awk '{ printf "%.1f s wall, %.1f s CPU", $1, $2 + $3 }' "$report"
    rm -f "$report"
}

echo "rustc: $(rustc --version)"
echo "cores: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for crate in seven one; do
    path="$dir/$crate"
    mkdir -p "$path/src"
    manifest "user-$crate" >"$path/Cargo.toml"
    if [ "$crate" = seven ]; then seven_models >"$path/src/main.rs"; else one_model >"$path/src/main.rs"; fi
    cp "$repo/Cargo.lock" "$path/Cargo.lock"
    for profile in release dev; do
        flag=""; [ "$profile" = release ] && flag="--release"
        if [ "$crate" = seven ] && [ "$profile" = release ]; then
            rm -rf "$CARGO_TARGET_DIR/release"
            echo "$crate model(s), $profile: clean build, dependencies included: $(measure cargo build $flag --manifest-path "$path/Cargo.toml")"
        fi
        cargo build $flag --manifest-path "$path/Cargo.toml" >/dev/null 2>&1 || {
            cargo build $flag --manifest-path "$path/Cargo.toml"
            exit 1
        } # dependencies and a first build
        touch "$path/src/main.rs"
        echo "$crate model(s), $profile: the crate's own build: $(measure cargo build $flag --manifest-path "$path/Cargo.toml")"
        sed -i 's/d_model: 64, heads: 4, ff: 256, encoder_layers/d_model: 32, heads: 4, ff: 256, encoder_layers/' "$path/src/main.rs"
        echo "$crate model(s), $profile: rebuild after d_model 64 -> 32 in one model: $(measure cargo build $flag --manifest-path "$path/Cargo.toml")"
        sed -i 's/d_model: 32, heads: 4, ff: 256, encoder_layers/d_model: 64, heads: 4, ff: 256, encoder_layers/' "$path/src/main.rs"
        cargo build $flag --manifest-path "$path/Cargo.toml" >/dev/null 2>&1
    done
done
