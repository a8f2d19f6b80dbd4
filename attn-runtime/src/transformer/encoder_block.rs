//! The transformer encoder block: self-attention and feed-forward sub-layers, each with a residual
//! connection and layer norm, before (pre-norm) or after (post-norm) the sub-layer.

use dfdx::nn::modules::LayerNorm1D;
use dfdx::prelude::*;

use crate::transformer::NormExt;
use crate::TensorCollection;

use super::residual::residual;
use super::FeedForwardNet;
use crate::attention::LayerAttention;
use crate::attention::{AttentionOptions, MultiHeadAttention};
use crate::error::AttnError;
use crate::kernels::cpu_op::{realized, Dyn3};
use crate::tape_holder::TapeHolder;

/// One encoder block of width `M`, `H` heads and feed-forward `Ffn`.
///
/// - post-norm (`PRE = false`): `x = norm1(x + drop(sa(x)))`, `x = norm2(x + drop(ffn(x)))`;
/// - pre-norm (`PRE = true`): `x = x + drop(sa(norm1(x)))`, `x = x + drop(ffn(norm2(x)))`.
///
/// Dropout applies to the attention weights, after attention, inside and after the feed-forward
/// network, as PyTorch places it.
///
/// # Shapes
/// `[B, S, M] → [B, S, M]`, self-attention weights `[B, H, S, S]`.
///
/// **PyTorch equivalent**: `nn.TransformerEncoderLayer(M, H, F, batch_first=True, norm_first=PRE)`;
/// [`LoadPytorch::load_pytorch_state_dict`](crate::pytorch_names::LoadPytorch) reads its
/// state dict.
#[derive(Clone, Debug, TensorCollection)]
pub struct EncoderBlock<
    const M: usize,
    const H: usize,
    Ffn,
    const PRE: bool,
    E: Dtype,
    D: Storage<E>,
> {
    /// Self-attention.
    pub self_attn: MultiHeadAttention<M, H, M, M, E, D>,
    /// Feed-forward network.
    pub ffn: Ffn,
    /// Norm of the attention sub-layer.
    pub norm1: LayerNorm1D<M, E, D>,
    /// Norm of the feed-forward sub-layer.
    pub norm2: LayerNorm1D<M, E, D>,
}

impl<const M: usize, const H: usize, Ffn, const PRE: bool, E, D> EncoderBlock<M, H, Ffn, PRE, E, D>
where
    E: Dtype,
    D: Device<E>,
    Ffn: FeedForwardNet<M, E, D>,
{
    /// Runs the block; self-attention uses `opts` (mask, dropout, weights), and the weights are
    /// pushed to `weights` under `path` when requested.
    pub fn try_block<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        opts: &AttentionOptions,
        path: String,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError> {
        let x = realized::<Dyn3, _, _, _, _>(x)?;
        realized(self.try_block_dyn(x, opts, path, weights)?)
    }

    /// [`try_block`](Self::try_block) on run-time shapes: every tensor op inside is compiled
    /// once per tape type, whatever the model's sizes.
    pub(crate) fn try_block_dyn<T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<Dyn3, E, D, T>,
        opts: &AttentionOptions,
        path: String,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
        let p = opts.effective_dropout();
        let mha = self.self_attn.erased()?;
        let (mut tape, x) = TapeHolder::split(x);
        let attend = |q: Tensor<Dyn3, E, D, T>| {
            let out = mha.try_self_attend(q, opts)?;
            Ok((out.context, out.weights))
        };
        let (x1, w) = if PRE {
            let normed = tape.run(&x, |x| self.norm1.try_norm_dyn(x))?;
            let (a, w) = tape.run_with(&normed, attend)?;
            (tape.run(&a, |a| residual(a, &x, p))?, w)
        } else {
            let (a, w) = tape.run_with(&x, attend)?;
            (
                tape.run(&a, |a| self.norm1.try_norm_dyn(residual(a, &x, p)?))?,
                w,
            )
        };
        if let Some(w) = w {
            weights.push(LayerAttention::capture(path, w)?);
        }
        let x2 = if PRE {
            let normed = tape.run(&x1, |x| self.norm2.try_norm_dyn(x))?;
            let f = tape.run(&normed, |x| self.ffn.try_feed_forward_dyn(x, p))?;
            tape.run(&f, |f| residual(f, &x1, p))?
        } else {
            let f = tape.run(&x1, |x| self.ffn.try_feed_forward_dyn(x, p))?;
            tape.run(&f, |f| self.norm2.try_norm_dyn(residual(f, &x1, p)?))?
        };
        Ok(tape.finish(x2))
    }
}
