//! Fused scaled-dot-product attention for `f32` on the CPU: the dfdx op that plugs the tiled
//! flash-attention kernel of `kernels::attention` into the scaled-dot-product seam, and
//! that kernel's public items, re-exported here.
//!
//! [`try_scaled_dot_product_attention`](crate::attention::try_scaled_dot_product_attention) takes
//! this path when [`AttentionKernel`](crate::attention::AttentionKernel) allows it: `Auto` (the
//! default) for `f32` tensors on the `Cpu` when no weights are requested.

mod op;

#[cfg(test)]
mod tests;

pub use crate::kernels::attention::{
    backward, forward, forward_cached, AllowedKeys, AttnDims, FusedParams, KernelDropout,
    KernelMask, KvRows, Scratch, BLOCK_K,
};
pub(crate) use crate::kernels::attention::{HeadLayout, HeadRows};
pub(crate) use op::{try_fused_merged_heads, try_fused_sdpa};
