//! The decoder's output projection to the target vocabulary, with or without weight tying.

use dfdx::prelude::*;

use crate::attention::DynLinear;
use crate::attention::Projection;
use crate::error::AttnError;
use crate::kernels::cpu_op::{realized, Dyn2, Dyn3};
use crate::TensorCollection;

/// Maps decoder states `[B, T, M]` to logits `[B, T, V]`, possibly through the target embedding.
pub trait OutputProjection<const M: usize, const V: usize, E: Dtype, D: Device<E>> {
    /// The logits; `embedding` is the target embedding table `[V, M]` (for tying).
    fn try_logits<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        embedding: &Tensor<Rank2<V, M>, E, D>,
    ) -> Result<Tensor<(B, S, Const<V>), E, D, T>, AttnError>;
}

/// Its own projection `M → V`. **PyTorch equivalent**: `nn.Linear(M, V)`.
#[derive(Clone, Debug, TensorCollection)]
pub struct UntiedOutput<const M: usize, const V: usize, E: Dtype, D: Storage<E>> {
    /// `M → V`.
    pub proj: Projection<M, V, E, D, true>,
}

/// Weight tying (Press & Wolf 2017): logits `x · Eᵀ + b` with the target embedding `E`; only the
/// bias is its own. **PyTorch equivalent**: `out.weight = tgt_embedding.weight`.
#[derive(Clone, Debug, TensorCollection)]
pub struct TiedOutput<const V: usize, E: Dtype, D: Storage<E>> {
    /// `[V]`.
    #[collection(tensor = TensorOptions::reset_to_zeros())]
    pub bias: Tensor<Rank1<V>, E, D>,
}

impl<const M: usize, const V: usize, E: Dtype, D: Device<E>> OutputProjection<M, V, E, D>
    for UntiedOutput<M, V, E, D>
{
    fn try_logits<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        _embedding: &Tensor<Rank2<V, M>, E, D>,
    ) -> Result<Tensor<(B, S, Const<V>), E, D, T>, AttnError> {
        self.proj.try_forward_3d(x)
    }
}

impl<const M: usize, const V: usize, E: Dtype, D: Device<E>> OutputProjection<M, V, E, D>
    for TiedOutput<V, E, D>
{
    fn try_logits<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        embedding: &Tensor<Rank2<V, M>, E, D>,
    ) -> Result<Tensor<(B, S, Const<V>), E, D, T>, AttnError> {
        // the tied weight is the embedding table: `x · Eᵀ + b` as dfdx's matmul and add
        let linear = DynLinear {
            weight: realized::<Dyn2, _, _, _, _>(embedding.clone())?,
            bias: Some(realized::<(usize,), _, _, _, _>(self.bias.clone())?),
        };
        realized(linear.try_forward_3d_composite(realized::<Dyn3, _, _, _, _>(x)?)?)
    }
}
