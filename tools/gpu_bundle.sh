#!/usr/bin/env bash
# The CUDA build, made here and run on a GPU machine that has the driver and CUDA's libraries but
# no Rust toolchain (the machines this project is lent): builds `train` and attn-runtime's test
# suites that run on `TestDevice` with `--features cuda`, strips them and packs them with what
# they need at run time into one folder:
#
#   source KIT/env.sh                    (a CUDA toolkit: tools/cuda_kit.sh, or an installed one)
#   tools/gpu_bundle.sh [--out DIR]      (default .gpu-bundle, ignored by git; about 8 MB)
#
# then, on the GPU machine, from a copy of the repository with that folder beside it:
#
#   bash .gpu-bundle/run.sh              (tools/gpu_bundle_run.sh: the suites, one epoch)
#
# The builds go to target/cuda (CARGO_TARGET_DIR), away from the CPU builds. Where the GPU
# machine has cargo too, tools/gpu_check.sh builds and runs there in one go instead.
set -euo pipefail
cd "$(dirname "$0")/.."

out=.gpu-bundle
if [ "${1:-}" = "--out" ] && [ -n "${2:-}" ]; then out=$2; fi
if ! command -v nvcc >/dev/null 2>&1 || ! command -v nvidia-smi >/dev/null 2>&1 \
    || [ ! -f "${CUDA_ROOT:-/usr/local/cuda}/include/cuda.h" ]; then
    echo "gpu_bundle: dfdx's CUDA build needs nvcc and nvidia-smi on PATH and CUDA_ROOT/include/cuda.h;" >&2
    echo "gpu_bundle: without a toolkit, run tools/cuda_kit.sh DIR and \`source DIR/env.sh\` first." >&2
    exit 2
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/cuda}

# the suites generic over the test device (`TestDevice` is `Cuda` under the feature)
suites=()
for f in attn-runtime/tests/*.rs; do
    if grep -q TestDevice "$f"; then suites+=(--test "$(basename "$f" .rs)"); fi
done
cargo build --release -p attn-cli --features cuda --bin train
log=$(mktemp)
cargo test --release -p attn-runtime --features cuda --no-run "${suites[@]}" 2>&1 | tee "$log"

rm -rf "$out" && mkdir -p "$out/bins" "$out/cuh"
cp "$CARGO_TARGET_DIR/release/train" "$out/bins/"
sed -nE 's/.*Executable tests\/([a-z0-9_]+)\.rs \((.*)\)/\1 \2/p' "$log" \
    | while read -r name path; do cp "$path" "$out/bins/test_$name"; done
rm -f "$log"
strip "$out"/bins/*
# dfdx compiles some kernels with NVRTC at run time and includes its headers from the build's
# OUT_DIR, whose path is baked into the binaries: the run script puts them back there
dfdx_out=$(strings "$out/bins/train" | grep -o "$CARGO_TARGET_DIR/release/build/dfdx-[0-9a-f]*/out" \
    | head -1)
cp "$dfdx_out"/*.cuh "$out/cuh/"
echo "$dfdx_out" > "$out/dfdx_out_dir"
# the tests read their fixtures through the build's CARGO_MANIFEST_DIR, under this checkout
pwd > "$out/repo_dir"
# and NVRTC's include path, `$CUDA_ROOT/include` as the build saw it
echo "${CUDA_ROOT:-/usr/local/cuda}/include" > "$out/cuda_include_dir"
tar -cJf "$out/bins.tar.xz" -C "$out/bins" . && rm -rf "$out/bins"
cp tools/gpu_bundle_run.sh "$out/run.sh"
echo "bundle: $out ($(du -sh "$out" | cut -f1)); on the GPU machine, from the repo root: bash $out/run.sh"
