//! Sequence encoders built from attention layers: a single head, or stacked multi-head
//! self-attention layers with residual connections and layer norm.

use std::marker::PhantomData;

use dfdx::nn::modules::{LayerNorm1D, Repeated};
use dfdx::prelude::*;

use crate::transformer::{FeedForwardNet, NormExt, TransformerEncoder};
use crate::TensorCollection;

use super::{BuiltInScores, HeadScoring, LayerAttention};
use crate::attention::{AttentionOptions, MultiHeadAttention};
use crate::error::AttnError;
use crate::kernels::cpu_op::{realized, Dyn3};

/// Maps `[B, S, M]` to `[B, S, M]` with attention, recording each layer's weights when asked.
pub trait SequenceEncoder<const M: usize, E: Dtype, D: Device<E>> {
    /// Encodes `x`; when `opts.need_weights`, pushes one [`LayerAttention`] per attention layer,
    /// named `{path}.{layer}`.
    fn try_encode<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        opts: &AttentionOptions,
        path: &str,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError>;

    /// How many attention layers [`try_encode`](Self::try_encode) runs.
    fn attention_layers(&self) -> usize;
}

/// The "basic attention" encoder: one head (queries, keys and values projected from the input,
/// an output projection), no residual, no norm.
///
/// # Shapes
/// `[B, S, M] -> [B, S, M]`, weights `[B, 1, S, S]`.
///
/// **PyTorch equivalent**: `nn.MultiheadAttention(M, 1, batch_first=True)` applied as self-attention.
///
/// `Sc` says how queries meet keys: the declared (scaled) dot product by default, or a score
/// function of the user's ([`ScoredSingleHeadEncoder`](super::ScoredSingleHeadEncoder)).
#[derive(Clone, Debug, TensorCollection)]
pub struct SingleHeadEncoder<const M: usize, E: Dtype, D: Storage<E>, Sc = BuiltInScores> {
    /// The attention layer.
    pub attention: MultiHeadAttention<M, 1, M, M, E, D>,
    scoring: PhantomData<Sc>,
}

impl<const M: usize, E: Dtype, D: Device<E>, Sc: HeadScoring> SequenceEncoder<M, E, D>
    for SingleHeadEncoder<M, E, D, Sc>
{
    fn try_encode<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        opts: &AttentionOptions,
        path: &str,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError> {
        Sc::try_attend_head(&self.attention, x, opts, path, weights)
    }

    fn attention_layers(&self) -> usize {
        1
    }
}

/// One self-attention layer: `norm(x + dropout(attention(x)))` (post-norm, as the original
/// transformer's attention sub-layer).
///
/// # Shapes
/// `[B, S, M] -> [B, S, M]`, weights `[B, H, S, S]`.
#[derive(Clone, Debug, TensorCollection)]
pub struct SelfAttentionLayer<const M: usize, const H: usize, E: Dtype, D: Storage<E>> {
    /// Multi-head self-attention.
    pub attention: MultiHeadAttention<M, H, M, M, E, D>,
    /// Layer norm after the residual sum.
    pub norm: LayerNorm1D<M, E, D>,
}

impl<const M: usize, const H: usize, E: Dtype, D: Device<E>> SelfAttentionLayer<M, H, E, D> {
    /// The layer on run-time shapes `[B, S, M]` (compiled once per tape type).
    fn try_layer_dyn<T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<Dyn3, E, D, T>,
        opts: &AttentionOptions,
        path: String,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
        let (x, tape) = x.split_tape();
        let out = self
            .attention
            .erased()?
            .try_self_attend(x.clone().put_tape(tape), opts)?;
        if let Some(w) = out.weights {
            weights.push(LayerAttention::capture(path, w)?);
        }
        let p = opts.effective_dropout();
        self.norm
            .try_norm_dyn(crate::transformer::residual(out.context, &x, p)?)
    }
}

/// `N` stacked [`SelfAttentionLayer`]s, named `layers.0`, `layers.1`, ...
#[derive(Clone, Debug, TensorCollection)]
pub struct SelfAttentionEncoder<
    const M: usize,
    const H: usize,
    const N: usize,
    E: Dtype,
    D: Storage<E>,
> {
    /// The layers, first to last.
    pub layers: Repeated<SelfAttentionLayer<M, H, E, D>, N>,
}

impl<const M: usize, const H: usize, const N: usize, E: Dtype, D: Device<E>>
    SequenceEncoder<M, E, D> for SelfAttentionEncoder<M, H, N, E, D>
{
    fn try_encode<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        opts: &AttentionOptions,
        path: &str,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError> {
        let mut x = realized::<Dyn3, _, _, _, _>(x)?;
        for (i, layer) in self.layers.modules.iter().enumerate() {
            x = layer.try_layer_dyn(x, opts, format!("{path}.layers.{i}.attention"), weights)?;
        }
        realized(x)
    }

    fn attention_layers(&self) -> usize {
        N
    }
}

impl<const M: usize, const H: usize, Ffn, const N: usize, const PRE: bool, E, D>
    SequenceEncoder<M, E, D> for TransformerEncoder<M, H, Ffn, N, PRE, E, D>
where
    E: Dtype,
    D: Device<E>,
    Ffn: FeedForwardNet<M, E, D>,
{
    fn try_encode<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        opts: &AttentionOptions,
        path: &str,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError> {
        TransformerEncoder::try_encode(self, x, opts, path, weights)
    }

    fn attention_layers(&self) -> usize {
        N
    }
}
