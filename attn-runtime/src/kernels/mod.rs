//! attn's own CPU kernels for `f32`, in one place: the op trait that wires a kernel into dfdx's
//! autograd ([`op`]), the plumbing it shares ([`cpu_op`]), the vectorised math ([`simd`], [`counter_hash`])
//! and the kernels themselves — the fused projection ([`linear`]), the embedding lookup
//! ([`embedding`]), the element-wise passes ([`elementwise`]), softmax cross-entropy ([`cross_entropy`]), layer norm ([`layer_norm`]) and
//! flash attention ([`attention`]).
//!
//! The matrix products are the `attn-gemm` crate's (re-exported as [`crate::gemm`]), which
//! dfdx's own matmuls run on too (`shims/gemm`).
//!
//! Layers call these for `f32` tensors on the `Cpu` and fall back to dfdx's composite ops on other
//! devices and dtypes; nothing here depends on the layers.

pub mod attention;
pub(crate) mod counter_hash;
pub(crate) mod cpu_op;
pub(crate) mod cross_entropy;
pub mod elementwise;
pub(crate) mod embedding;
pub(crate) mod layer_norm;
pub(crate) mod linear;
pub(crate) mod op;
pub(crate) mod simd;
pub mod tuning;

/// Gives back the per-thread scratch buffers of the kernels and of the matrix product (on this
/// thread and the current rayon pool's), sized to the largest call each thread made: what a
/// process that trains one model after another calls between them.
pub(crate) fn release_buffers() {
    attention::release_buffers();
    attn_gemm::release_buffers();
}
