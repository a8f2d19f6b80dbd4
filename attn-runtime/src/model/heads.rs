//! Task heads: what turns an encoded sequence `[B, L, M]` into logits.

use dfdx::prelude::*;

use super::token_encoding::try_mean_pool;
use crate::attention::Projection;
use crate::error::AttnError;
use crate::TensorCollection;

/// Turns an encoded `[B, L, M]` sequence into the task's logits.
pub trait TaskHead<const L: usize, const M: usize, E: Dtype, D: Device<E>> {
    /// The logits' shape for a batch dim `B`.
    type Logits<B: Dim>: Shape;

    /// Applies the head; `lengths` are the unpadded lengths when the batch is padded.
    fn try_head<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, Const<L>, Const<M>), E, D, T>,
        lengths: Option<&[usize]>,
    ) -> Result<Tensor<Self::Logits<B>, E, D, T>, AttnError>;
}

/// Classification: the mean over unpadded positions, then a linear layer to `C` classes.
///
/// # Shapes
/// `[B, L, M] -> [B, C]`
///
/// **PyTorch equivalent**: `nn.Linear(M, C)(x.mean(dim=1))` (masked to the lengths).
#[derive(Clone, Debug, TensorCollection)]
pub struct MeanPoolClassifierHead<const M: usize, const C: usize, E: Dtype, D: Storage<E>> {
    /// `M -> C`.
    pub proj: Projection<M, C, E, D, true>,
}

/// Tagging: a linear layer to `G` tags at every position.
///
/// # Shapes
/// `[B, L, M] -> [B, L, G]`
///
/// **PyTorch equivalent**: `nn.Linear(M, G)(x)`.
#[derive(Clone, Debug, TensorCollection)]
pub struct PerTokenHead<const M: usize, const G: usize, E: Dtype, D: Storage<E>> {
    /// `M -> G`.
    pub proj: Projection<M, G, E, D, true>,
}

/// Classification from the first position (BERT's `[CLS]`): the data pipeline puts a marker token
/// (BOS) first, and the encoder learns to gather the sequence into it.
///
/// # Shapes
/// `[B, L, M] -> [B, C]`
///
/// **PyTorch equivalent**: `nn.Linear(M, C)(x[:, 0])`.
#[derive(Clone, Debug, TensorCollection)]
pub struct ClsPoolClassifierHead<const M: usize, const C: usize, E: Dtype, D: Storage<E>> {
    /// `M -> C`.
    pub proj: Projection<M, C, E, D, true>,
}

impl<const L: usize, const M: usize, const C: usize, E: Dtype, D: Device<E>> TaskHead<L, M, E, D>
    for MeanPoolClassifierHead<M, C, E, D>
{
    type Logits<B: Dim> = (B, Const<C>);

    fn try_head<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, Const<L>, Const<M>), E, D, T>,
        lengths: Option<&[usize]>,
    ) -> Result<Tensor<(B, Const<C>), E, D, T>, AttnError> {
        self.proj.try_forward_2d(try_mean_pool(x, lengths)?)
    }
}

impl<const L: usize, const M: usize, const G: usize, E: Dtype, D: Device<E>> TaskHead<L, M, E, D>
    for PerTokenHead<M, G, E, D>
{
    type Logits<B: Dim> = (B, Const<L>, Const<G>);

    fn try_head<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, Const<L>, Const<M>), E, D, T>,
        _lengths: Option<&[usize]>,
    ) -> Result<Tensor<(B, Const<L>, Const<G>), E, D, T>, AttnError> {
        self.proj.try_forward_3d(x)
    }
}

impl<const L: usize, const M: usize, const C: usize, E: Dtype, D: Device<E>> TaskHead<L, M, E, D>
    for ClsPoolClassifierHead<M, C, E, D>
{
    type Logits<B: Dim> = (B, Const<C>);

    fn try_head<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, Const<L>, Const<M>), E, D, T>,
        _lengths: Option<&[usize]>,
    ) -> Result<Tensor<(B, Const<C>), E, D, T>, AttnError> {
        let b = x.shape().0;
        let first = x
            .try_slice((.., 0..1, ..))
            .map_err(AttnError::device)?
            .try_reshape_like(&(b, Const::<M>))
            .map_err(AttnError::device)?;
        self.proj.try_forward_2d(first)
    }
}
