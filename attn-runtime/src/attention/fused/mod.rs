//! Fused scaled-dot-product attention for `f32` on the CPU: a tiled flash-attention kernel on
//! slices (forward with an online softmax, FlashAttention-2 backward from the stored log-sum-exp,
//! masks and counter-based dropout inside the tiles) and the dfdx op that plugs it into the
//! scaled-dot-product seam.
//!
//! [`try_scaled_dot_product_attention`](crate::attention::try_scaled_dot_product_attention) takes
//! this path when [`AttentionKernel`](crate::attention::AttentionKernel) allows it: `Auto` (the
//! default) for `f32` tensors on the `Cpu` when no weights are requested.

pub(crate) mod dropout;
mod head_layout;
mod kernel;
mod kv_rows;
mod op;
mod params;
pub(crate) mod tile;

#[cfg(test)]
mod tests;

pub(crate) use head_layout::{HeadLayout, HeadRows};
pub use kernel::{backward, forward, forward_cached, Scratch, BLOCK_K, BLOCK_Q};
pub use kv_rows::KvRows;
pub(crate) use op::{try_fused_merged_heads, try_fused_sdpa};
pub use params::{AllowedKeys, AttnDims, FusedParams, KernelDropout, KernelMask};
