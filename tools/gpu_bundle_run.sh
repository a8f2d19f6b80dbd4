#!/usr/bin/env bash
# Runs a bundle made by tools/gpu_bundle.sh on the GPU machine, from the repository's root (where
# the bundle's folder lies): the CUDA test suites, then one epoch of `dates-transformer` on the
# GPU; a summary at the end lists each step's status and time. `$OUT`, where set, receives the
# log and the epoch's metrics. Needs the NVIDIA driver and CUDA 13's libraries (cuBLAS, NVRTC,
# NCCL), found on the loader's path or in an installed PyTorch's `nvidia` wheels.
set -uo pipefail
bundle=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
exec > >(tee "$out/log.txt") 2>&1
t_all=$SECONDS

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu_bundle_run: no CUDA device here (nvidia-smi lists no GPU)" >&2
    exit 2
fi
nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"

# CUDA's libraries from PyTorch's wheels where the loader does not know them
if ! ldconfig -p | grep -q libcublas.so.13; then
    site=$(python3 -c "import nvidia, os; print(list(nvidia.__path__)[0])" 2>/dev/null || true)
    if [ -n "$site" ]; then
        libs=$(find "$site" -name 'lib*.so*' -printf '%h\n' | sort -u | tr '\n' ':')
        export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:-}"
    fi
fi
# the build's paths baked into the binaries: dfdx's headers for NVRTC, the tests' fixtures
dfdx_out=$(cat "$bundle/dfdx_out_dir")
mkdir -p "$dfdx_out" && cp "$bundle"/cuh/*.cuh "$dfdx_out/"
include=$(cat "$bundle/cuda_include_dir")
if [ ! -f "$include/cuda_fp16.h" ]; then
    if [ ! -f /usr/local/cuda/include/cuda_fp16.h ]; then
        echo "gpu_bundle_run: no CUDA headers here (/usr/local/cuda/include): NVRTC needs them" >&2
        exit 2
    fi
    mkdir -p "$(dirname "$include")" && ln -sfn /usr/local/cuda/include "$include"
fi
repo=$(cat "$bundle/repo_dir")
if [ ! -e "$repo" ]; then mkdir -p "$(dirname "$repo")" && ln -s "$PWD" "$repo"; fi
cd "$repo"
bins=$(mktemp -d)
tar -xJf "$bundle/bins.tar.xz" -C "$bins"
if ldd "$bins/train" | grep -q "not found"; then
    echo "gpu_bundle_run: libraries missing:" >&2
    ldd "$bins/train" | grep "not found" >&2
    exit 2
fi

# shellcheck source=tools/gpu_steps.sh
source tools/gpu_steps.sh

for t in "$bins"/test_*; do
    step "$(basename "$t")" 120 "$t" --test-threads 4
done
runs=$(mktemp -d)
step "one epoch of dates-transformer on the GPU" 240 \
    "$bins/train" dates-transformer --epochs 1 --device cuda --out "$runs"
find "$runs" -name metrics.csv -exec cat {} \; -exec cp {} "$out/" \;

echo
echo "== summary ($((SECONDS - t_all)) s)"
printf '%s\n' "${results[@]}"
