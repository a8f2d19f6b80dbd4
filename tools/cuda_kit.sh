#!/usr/bin/env bash
# A CUDA 13.0 toolkit for *building* attn's CUDA binaries on a machine that has neither a GPU nor
# an installed toolkit, assembled from NVIDIA's wheels on the Python package registry:
#
#   - nvcc 13.0 (dfdx's build script compiles its 49 kernels to PTX with it) and the headers
#     (dfdx also compiles five kernels with NVRTC at run time, from `$CUDA_ROOT/include`);
#   - the libraries to link against: cuBLAS, cuRAND, NVRTC, NCCL (the real ones, whose sonames
#     the GPU machine's copies share);
#   - a stub libcuda.so.1: empty functions under every driver symbol cudarc 0.9 names, for the
#     linker only (the GPU machine's driver brings the real one; never run against the stub);
#   - a stand-in nvidia-smi that answers dfdx's build script the GPU's compute capability.
#
#   tools/cuda_kit.sh DIR [--compute-cap 90]     (about 1.5 GB of wheels, downloaded once)
#   source DIR/env.sh                             (then tools/gpu_bundle.sh)
#
# The versions match the CUDA 13.0 line of the GPU machines this project is lent (driver 580,
# PyTorch's cu130 libraries). `/usr/local/cuda` is pointed at the kit when it is free, because
# dfdx bakes `$CUDA_ROOT/include` into the binaries for NVRTC and that path exists on a GPU
# machine with a toolkit; elsewhere CUDA_ROOT is the kit itself.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
    echo "usage: tools/cuda_kit.sh DIR [--compute-cap 90]" >&2
    exit 2
fi
kit=$(mkdir -p "$1" && cd "$1" && pwd)
cap=90
if [ "${2:-}" = "--compute-cap" ] && [ -n "${3:-}" ]; then cap=$3; fi
case $cap in
    '' | *[!0-9]*)
        echo "cuda_kit: --compute-cap takes digits, e.g. 90 for an H100/H200 (got '$cap')" >&2
        exit 2
        ;;
esac

wheels=(
    nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88
    nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 nvidia-cuda-nvrtc==13.0.88
    nvidia-cublas==13.0.2.14 nvidia-curand==10.4.0.35 nvidia-nccl-cu13==2.27.7
)
mkdir -p "$kit/wheels" "$kit/unpacked"
python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux_2_12_x86_64 -d "$kit/wheels" "${wheels[@]}"
for w in "$kit"/wheels/*.whl; do unzip -q -o "$w" -d "$kit/unpacked"; done

root=$kit/unpacked/nvidia/cu13
cp -f "$kit"/unpacked/nvidia/nccl/include/*.h "$root/include/"
cp -f "$kit"/unpacked/nvidia/nccl/lib/libnccl.so.2 "$root/lib/"
# the linker's unversioned names; nvcc's profile looks under targets/x86_64-linux
for so in libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13 libnccl.so.2 \
    libcudart.so.13; do
    ln -sf "$so" "$root/lib/${so%%.so*}.so"
done
ln -sfn lib "$root/lib64"
mkdir -p "$root/targets/x86_64-linux"
ln -sfn ../../include "$root/targets/x86_64-linux/include"
ln -sfn ../../lib "$root/targets/x86_64-linux/lib"
chmod +x "$root"/bin/* "$root"/nvvm/bin/* 2>/dev/null || true

# the stub driver library: every `pub fn cu…` of cudarc's driver bindings
sys=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.9.*/src/driver/sys.rs | tail -1)
if [ ! -f "$sys" ]; then
    echo "cuda_kit: cudarc 0.9's sources are not in cargo's registry yet: run \`cargo fetch\` first" >&2
    exit 1
fi
mkdir -p "$root/lib/stubs"
grep -o 'pub fn cu[A-Za-z0-9_]*' "$sys" | sort -u | sed 's/pub fn \(.*\)/void \1(void) {}/' \
    > "$root/lib/stubs/cuda_stub.c"
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$root/lib/stubs/libcuda.so" \
    "$root/lib/stubs/cuda_stub.c"
ln -sf stubs/libcuda.so "$root/lib/libcuda.so"

mkdir -p "$kit/fakebin"
cat > "$kit/fakebin/nvidia-smi" <<EOF
#!/bin/sh
# Stand-in for building without a GPU: answers dfdx's build script only (compute capability $cap).
if [ "\$1" = "--query-gpu=compute_cap" ] && [ "\$2" = "--format=csv" ]; then
    printf 'compute_cap\n%s.%s\n' "${cap%?}" "${cap#"${cap%?}"}"
    exit 0
fi
echo "nvidia-smi stand-in (tools/cuda_kit.sh): no GPU here" >&2
exit 1
EOF
chmod +x "$kit/fakebin/nvidia-smi"

cuda_root=$root
if [ ! -e /usr/local/cuda ] && ln -s "$root" /usr/local/cuda 2>/dev/null; then
    cuda_root=/usr/local/cuda
elif [ "$(readlink /usr/local/cuda 2>/dev/null)" = "$root" ]; then
    cuda_root=/usr/local/cuda
fi
cat > "$kit/env.sh" <<EOF
# source before building with --features cuda on this machine (tools/cuda_kit.sh)
export PATH="$kit/fakebin:$cuda_root/bin:\$PATH"
export CUDA_ROOT="$cuda_root"
EOF
"$root/bin/nvcc" --version | tail -1
echo "kit ready: source $kit/env.sh (CUDA_ROOT=$cuda_root, compute capability $cap)"
