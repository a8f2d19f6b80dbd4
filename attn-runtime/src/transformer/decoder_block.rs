//! The transformer decoder block: causal self-attention, cross-attention over the encoder output,
//! and the feed-forward network, each with a residual connection and layer norm.

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

/// One decoder block of width `M` with `H` heads, feed-forward `Ffn`, over a memory of width `K`.
///
/// - post-norm: `x = norm1(x + sa(x))`, `x = norm2(x + ca(x, mem))`, `x = norm3(x + ffn(x))`;
/// - pre-norm: `x = x + sa(norm1(x))`, `x = x + ca(norm2(x), mem)`, `x = x + ffn(norm3(x))`;
///
/// with dropout after each sub-layer, on the attention weights and inside the feed-forward net.
///
/// # Shapes
/// target `[B, T, M]`, memory `[B, S, K]` → `[B, T, M]`; self-attention weights `[B, H, T, T]`,
/// cross-attention weights `[B, H, T, S]`.
///
/// **PyTorch equivalent**: `nn.TransformerDecoderLayer(M, H, F, batch_first=True, norm_first=PRE)`
/// (with `K = M`); [`LoadPytorch::load_pytorch_state_dict`](crate::pytorch_names::LoadPytorch)
/// reads its state dict.
#[derive(Clone, Debug, TensorCollection)]
pub struct DecoderBlock<
    const M: usize,
    const H: usize,
    const K: usize,
    Ffn,
    const PRE: bool,
    E: Dtype,
    D: Storage<E>,
> {
    /// Masked self-attention.
    pub self_attn: MultiHeadAttention<M, H, M, M, E, D>,
    /// Cross-attention over the encoder output (PyTorch's `multihead_attn`).
    pub cross_attn: MultiHeadAttention<M, H, K, K, E, D>,
    /// Feed-forward network.
    pub ffn: Ffn,
    /// Norm of the self-attention sub-layer.
    pub norm1: LayerNorm1D<M, E, D>,
    /// Norm of the cross-attention sub-layer.
    pub norm2: LayerNorm1D<M, E, D>,
    /// Norm of the feed-forward sub-layer.
    pub norm3: LayerNorm1D<M, E, D>,
}

impl<const M: usize, const H: usize, const K: usize, Ffn, const PRE: bool, E, D>
    DecoderBlock<M, H, K, Ffn, PRE, E, D>
where
    E: Dtype,
    D: Device<E>,
    Ffn: FeedForwardNet<M, E, D>,
{
    /// Runs the block over `x` and the (recorded, tape-less) `memory`; `self_opts` carries the
    /// causal and target padding mask, `cross_opts` the memory padding mask.
    #[allow(clippy::too_many_arguments)]
    pub fn try_block<B: Dim, Tq: Dim, Sk: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, Tq, Const<M>), E, D, T>,
        memory: &Tensor<(B, Sk, Const<K>), E, D>,
        self_opts: &AttentionOptions,
        cross_opts: &AttentionOptions,
        path: &str,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<(B, Tq, Const<M>), E, D, T>, AttnError> {
        let x = realized::<Dyn3, _, _, _, _>(x)?;
        let memory = realized::<Dyn3, _, _, _, _>(memory.clone())?;
        realized(self.try_block_dyn(x, &memory, self_opts, cross_opts, path, weights)?)
    }

    /// [`try_block`](Self::try_block) on run-time shapes: every tensor op inside is compiled
    /// once per tape type, whatever the model's sizes.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn try_block_dyn<T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<Dyn3, E, D, T>,
        memory: &Tensor<Dyn3, E, D>,
        self_opts: &AttentionOptions,
        cross_opts: &AttentionOptions,
        path: &str,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
        let p = self_opts.effective_dropout();
        let (self_mha, cross_mha) = (self.self_attn.erased()?, self.cross_attn.erased()?);
        let (mut tape, x) = TapeHolder::split(x);
        let self_attend = |q: Tensor<Dyn3, E, D, T>| {
            let out = self_mha.try_self_attend(q, self_opts)?;
            Ok((out.context, out.weights))
        };
        let cross_attend = |q: Tensor<Dyn3, E, D, T>| {
            let out = cross_mha.try_attend(
                q,
                memory.clone().put_tape(T::default()),
                memory.clone().put_tape(T::default()),
                cross_opts,
            )?;
            Ok((out.context, out.weights))
        };
        // self-attention
        let (x1, w_self) = if PRE {
            let n = tape.run(&x, |x| self.norm1.try_norm_dyn(x))?;
            let (a, w) = tape.run_with(&n, self_attend)?;
            (tape.run(&a, |a| residual(a, &x, p))?, w)
        } else {
            let (a, w) = tape.run_with(&x, self_attend)?;
            (
                tape.run(&a, |a| self.norm1.try_norm_dyn(residual(a, &x, p)?))?,
                w,
            )
        };
        // cross-attention
        let (x2, w_cross) = if PRE {
            let n = tape.run(&x1, |x| self.norm2.try_norm_dyn(x))?;
            let (a, w) = tape.run_with(&n, cross_attend)?;
            (tape.run(&a, |a| residual(a, &x1, p))?, w)
        } else {
            let (a, w) = tape.run_with(&x1, cross_attend)?;
            (
                tape.run(&a, |a| self.norm2.try_norm_dyn(residual(a, &x1, p)?))?,
                w,
            )
        };
        // feed-forward
        let x3 = if PRE {
            let n = tape.run(&x2, |x| self.norm3.try_norm_dyn(x))?;
            let f = tape.run(&n, |x| self.ffn.try_feed_forward_dyn(x, p))?;
            tape.run(&f, |f| residual(f, &x2, p))?
        } else {
            let f = tape.run(&x2, |x| self.ffn.try_feed_forward_dyn(x, p))?;
            tape.run(&f, |f| self.norm3.try_norm_dyn(residual(f, &x2, p)?))?
        };
        if let Some(w) = w_self {
            weights.push(LayerAttention::capture(format!("{path}.self_attn"), w)?);
        }
        if let Some(w) = w_cross {
            weights.push(LayerAttention::capture(format!("{path}.cross_attn"), w)?);
        }
        Ok(tape.finish(x3))
    }
}
