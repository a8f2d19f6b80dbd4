#!/usr/bin/env bash
# Everything worth checking on a machine with an NVIDIA GPU, in one command and under ten
# minutes, so that the few minutes such a machine is lent go to running, not preparing:
#
#   1. the CUDA build (`--features cuda`: dfdx's CUDA kernels, compiled by nvcc);
#   2. the library's test suites on the CUDA device (the tests' `TestDevice` alias is
#      `DefaultDevice`, which the feature switches to `Cuda`);
#   3. one epoch of the default model (`train dates-transformer`) on the GPU, printing the step
#      time and the exact match;
#   4. where two GPUs (and OpenMPI's mpirun, which starts the ranks) exist, the 2-rank
#      data-parallel equivalence over NCCL: two processes, one GPU each, train the run one
#      process trains (attn-runtime/tests/data_parallel.rs, `mpi::two_nccl_processes_...`).
#
#   tools/gpu_check.sh [--budget SECONDS]     (default 540: each step gets its share)
#
# On a machine without a CUDA device it stops at once with "no CUDA device" and exit status 2.
# Every step runs under `timeout`; a step that fails or runs out of time is reported and the
# script goes on to the next, and the summary at the end lists what passed. Results to record:
# docs/PERFORMANCE.md (step time) and docs/SCALING.md (what ran on a GPU).
set -uo pipefail
cd "$(dirname "$0")/.."

budget=540
if [ "${1:-}" = "--budget" ] && [ -n "${2:-}" ]; then budget=$2; fi

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1 \
    || [ "$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')" -eq 0 ]; then
    echo "gpu_check: no CUDA device on this machine (nvidia-smi lists no GPU); nothing to check here." >&2
    echo "gpu_check: run it on a machine with an NVIDIA GPU and its driver installed." >&2
    exit 2
fi
if ! command -v nvcc >/dev/null 2>&1; then
    echo "gpu_check: the GPU is there but the CUDA toolkit is not (no nvcc on PATH): dfdx compiles" >&2
    echo "gpu_check: its kernels with nvcc; install the toolkit (e.g. the distribution's nvidia-cuda-toolkit)." >&2
    exit 2
fi

gpus=$(nvidia-smi -L | grep -c '^GPU')
nvidia-smi -L
nvcc --version | tail -1
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"

# shellcheck source=tools/gpu_steps.sh
source tools/gpu_steps.sh

step "CUDA build" $((budget * 45 / 100)) \
    cargo build --release -p attn-cli --features cuda --bins
step "tests on the CUDA device" $((budget * 30 / 100)) \
    cargo test --release -p attn-runtime --features cuda --tests -- --test-threads 1

runs=$(mktemp -d)
if step "one epoch of dates-transformer on the GPU" $((budget * 20 / 100)) \
    target/release/train dates-transformer --epochs 1 --device cuda --out "$runs"; then
    run=$(ls -d "$runs"/dates-transformer/*/ 2>/dev/null | head -1)
    if [ -n "$run" ] && [ -f "$run/metrics.csv" ]; then
        batch=$(grep -o '"batch_size": *[0-9]*' "$run/config.json" | grep -o '[0-9]*$')
        # epoch,train_loss,train_acc,valid_loss,valid_acc,valid_exact,...,seconds,examples_per_second
        tail -1 "$run/metrics.csv" | awk -F, -v b="$batch" '{
            printf "epoch %s: valid exact match %.2f%%, %.1f s, %.0f examples/s, step time %.2f ms (batch %s)\n",
                $1, $6 * 100, $11, $12, b / $12 * 1000, b }'
    fi
fi
rm -rf "$runs"

if [ "$gpus" -ge 2 ] && command -v mpirun >/dev/null 2>&1; then
    step "2-rank NCCL equivalence" $((budget * 25 / 100)) \
        cargo test --release -p attn-runtime --features cuda,mpi --test data_parallel -- \
        --ignored --exact mpi::two_nccl_processes_train_the_run_one_process_trains
elif [ "$gpus" -ge 2 ]; then
    results+=("skipped  2-rank NCCL equivalence: no mpirun here (it starts the ranks; Debian: openmpi-bin, libopenmpi-dev)")
else
    results+=("skipped  2-rank NCCL equivalence: one GPU here, it needs two")
fi

echo
echo "== summary ($gpus GPU(s))"
printf '%s\n' "${results[@]}"
