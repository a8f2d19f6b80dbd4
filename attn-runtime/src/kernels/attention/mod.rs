//! Fused scaled-dot-product attention for `f32` on the CPU, on slices: a tiled flash-attention
//! kernel (forward with an online softmax, FlashAttention-2 backward from the stored
//! log-sum-exp, masks and counter-based dropout inside the tiles), the head layouts it reads and
//! writes, and the key/value rows a generation cache keeps in its layout.
//!
//! The dfdx operation that plugs it into the scaled-dot-product seam is
//! `crate::attention::fused`, which also re-exports this module's public items.

pub(crate) mod dropout;
mod head_layout;
mod kernel;
mod kv_rows;
mod pack;
mod params;
pub(crate) mod tile;

pub(crate) use head_layout::{HeadLayout, HeadRows};
pub use kernel::{backward, forward, forward_cached, Scratch, BLOCK_K};
pub(crate) use kernel::{backward_with, forward_with, release_buffers};
pub use kv_rows::KvRows;
pub use params::{AllowedKeys, AttnDims, FusedParams, KernelDropout, KernelMask};
