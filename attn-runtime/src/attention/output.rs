//! What an attention call returns: the context and, when asked for, the weights.

use dfdx::prelude::*;

/// The result of an attention call.
///
/// `weights` are the softmax probabilities before dropout (what a heatmap should show), without a
/// gradient tape; they are `None` when the call was made with `need_weights = false`.
///
/// # Shapes
/// For the scaled-dot-product seam, `context: [B, H, Sq, Dv]` and `weights: [B, H, Sq, Sk]`; for
/// multi-head attention, `context: [B, Sq, M]` and `weights: [B, H, Sq, Sk]`.
#[derive(Debug, Clone)]
pub struct AttnOutput<C: Shape, W: Shape, E: Dtype, D: Storage<E>, T> {
    /// The attended values.
    pub context: Tensor<C, E, D, T>,
    /// The attention weights, if requested.
    pub weights: Option<Tensor<W, E, D>>,
}

impl<B: Dim, H: Dim, Sq: Dim, Sk: Dim, C: Shape, E: Dtype, D: Device<E>, T>
    AttnOutput<C, (B, H, Sq, Sk), E, D, T>
{
    /// The weights averaged over heads, `[B, Sq, Sk]` (PyTorch's `average_attn_weights=True`).
    pub fn mean_weights(&self) -> Option<Tensor<(B, Sq, Sk), E, D>> {
        self.weights
            .as_ref()
            .map(|w| w.clone().mean::<_, Axis<1>>())
    }
}
