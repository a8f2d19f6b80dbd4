#!/usr/bin/env bash
# Step time of data-parallel training on one machine: 1 rank × N threads against N ranks × 1
# thread (MPI), the default model on its own data, and the share of rank 0's time spent in the
# ranks' exchanges (waiting for the other ranks included). Results: docs/PERFORMANCE.md.
#
#   tools/bench_data_parallel.sh [--rounds R] [--steps S]     (defaults: 3 rounds, 100 steps)
#
# Needs a release `train` built with `--features mpi` (it builds one) and OpenMPI's mpirun.
# Run it on an idle machine: each configuration runs once per round, in turn.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
steps=100
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        *) echo "usage: $0 [--rounds R] [--steps S]" >&2; exit 2 ;;
    esac
done
command -v mpirun >/dev/null || { echo "no mpirun: install OpenMPI (Debian: openmpi-bin libopenmpi-dev)" >&2; exit 2; }
cargo build --release -q -p attn-cli --features mpi --bin train
cores=$(nproc)
batch=64
train=(target/release/train dates-transformer --epochs 1 --max-train $((steps * batch))
    --max-eval 64 --quiet)
# as CI does: OpenMPI refuses root unless told, and containers lack its single-copy mode's rights
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

declare -A seconds share
configs=("1x$cores" "${cores}x1" "1x1")
for round in $(seq "$rounds"); do
    for c in "${configs[@]}"; do
        ranks=${c%x*}
        threads=${c#*x}
        if [ "$ranks" -eq 1 ]; then
            said=$(RAYON_NUM_THREADS=$threads "${train[@]}" --out "$out/$c-$round" 2>&1)
        else
            said=$(mpirun --oversubscribe -np "$ranks" -x RAYON_NUM_THREADS="$threads" \
                "${train[@]}" --distributed mpi --out "$out/$c-$round" 2>&1)
        fi
        s=$(grep -o '(\([0-9.]*\) s of training)' <<<"$said" | grep -o '[0-9.]*' | head -1)
        x=$(grep -o '([0-9.]*%, waiting' <<<"$said" | grep -o '[0-9.]*' || echo "-")
        seconds[$c]="${seconds[$c]:-} $s"
        share[$c]="${share[$c]:-} $x"
        echo "round $round, $ranks rank(s) × $threads thread(s): $s s, exchanges ${x}%" >&2
    done
done

median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $cores cores"
echo
echo "| ranks × threads | epoch of $steps steps (s, median of $rounds) | per step (ms) | exchanges' share of rank 0's time |"
echo "|---|---:|---:|---:|"
for c in "${configs[@]}"; do
    m=$(median <<<"${seconds[$c]}")
    x=$(median <<<"${share[$c]// -/}")
    [ -z "$x" ] && x="-" || x="$x%"
    printf '| %s × %s | %.2f | %.1f | %s |\n' "${c%x*}" "${c#*x}" "$m" "$(echo "$m * 1000 / $steps" | bc -l)" "$x"
done
