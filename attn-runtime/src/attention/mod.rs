//! Attention layers: the scaled-dot-product seam, masks, multi-head, additive and general
//! attention.
//!
//! Every variant computes its weights through [`try_attend`] (masked softmax, dropout, weighted
//! sum), the one place a fused kernel replaces.

mod core;
pub mod fused;
mod layer_attention;
mod mask;
mod options;
mod output;
mod scaled_dot_product;

pub use self::core::try_attend;
pub use layer_attention::LayerAttention;
pub use mask::{AttentionMask, BoolMask};
pub use options::{AttentionKernel, AttentionOptions, Scale};
pub use output::AttnOutput;
pub use scaled_dot_product::{
    try_dot_product_attention, try_scaled_dot_product_attention, SdpaOutput,
};

mod mha_core;
mod multi_head;
mod projection;

pub use multi_head::{builder, MhaOutput, MultiHeadAttention, SelfAttendable};
pub(crate) use projection::DynLinear;
pub use projection::{Projection, ProjectionBuilder};

mod additive;
mod general;

pub use additive::{AdditiveAttention, AdditiveAttentionBuilder, ScoredOutput, StepOutput};
pub use general::{dot_attention, GeneralAttention, GeneralAttentionBuilder};
mod rotary;

pub use rotary::{try_apply_rotary, Rotary};
