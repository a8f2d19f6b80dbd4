//! One attention layer's weights under the layer's name: what models return for heatmaps and
//! what the blocks (encoder, decoder, pooling) push as they run.

use dfdx::prelude::*;

use crate::error::{AttnError, DeviceResultExt};

/// The attention weights of one attention layer, `[B, H, Sq, Sk]`, and the layer's
/// parameter path (e.g. `encoder.layers.1.attention`).
#[derive(Clone, Debug)]
pub struct LayerAttention<E: Dtype, D: Storage<E>> {
    /// The layer's parameter path.
    pub layer: String,
    /// `[B, H, Sq, Sk]`.
    pub weights: Tensor<(usize, usize, usize, usize), E, D>,
}

impl<E: Dtype, D: Device<E>> LayerAttention<E, D> {
    /// Records a layer's `[B, H, Sq, Sk]` weights under `layer`.
    pub fn capture<B: Dim, H: Dim, Sq: Dim, Sk: Dim>(
        layer: String,
        weights: Tensor<(B, H, Sq, Sk), E, D>,
    ) -> Result<Self, AttnError> {
        let (b, h, sq, sk) = *weights.shape();
        let weights = weights
            .try_reshape_like(&(b.size(), h.size(), sq.size(), sk.size()))
            .dev()?;
        Ok(LayerAttention { layer, weights })
    }
}
