//! The position-wise feed-forward network of a transformer block, plain or gated.

use std::marker::PhantomData;

use dfdx::prelude::*;

use super::Activation;
use crate::attention::Projection;
use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{realized, Dyn3};
use crate::tape_holder::TapeHolder;
use crate::TensorCollection;

/// A feed-forward network over the last axis, `[B, S, M] → [B, S, M]`.
pub trait FeedForwardNet<const M: usize, E: Dtype, D: Device<E>> {
    /// Applies the network; `dropout` (training only) follows the activation, as in PyTorch.
    fn try_feed_forward<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        dropout: f64,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError>;

    /// [`try_feed_forward`](Self::try_feed_forward) on run-time shapes `[B, S, M]`, what the
    /// blocks call. The provided form goes through the typed one; ours compute on run-time
    /// shapes throughout (compiled once per tape type and activation).
    ///
    /// # Errors
    /// As [`try_feed_forward`](Self::try_feed_forward).
    fn try_feed_forward_dyn<T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<Dyn3, E, D, T>,
        dropout: f64,
    ) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
        let x = realized::<(usize, usize, Const<M>), _, _, _, _>(x)?;
        realized(self.try_feed_forward(x, dropout)?)
    }
}

/// `linear2(dropout(act(linear1(x))))`, width `M → F → M`.
///
/// # Shapes
/// `[B, S, M] → [B, S, M]`
///
/// **PyTorch equivalent**: the `linear1`/`activation`/`dropout`/`linear2` of
/// `nn.TransformerEncoderLayer(M, H, dim_feedforward=F)`; parameters load under the same names.
#[derive(Clone, Debug, TensorCollection)]
pub struct FeedForward<const M: usize, const F: usize, A, E: Dtype, D: Storage<E>> {
    /// `M → F`.
    pub linear1: Projection<M, F, E, D, true>,
    /// `F → M`.
    pub linear2: Projection<F, M, E, D, true>,
    act: PhantomData<A>,
}

/// The gated variants of Shazeer (2020): `down_proj(act(gate_proj(x)) ⊙ up_proj(x))`, no biases;
/// GEGLU with [`Gelu`](super::Gelu), SwiGLU with [`Silu`](super::Silu).
///
/// # Shapes
/// `[B, S, M] → [B, S, M]` through width `F`.
///
/// **PyTorch equivalent** (no built-in module): `down(act(gate(x)) * up(x))` with
/// `nn.Linear(.., bias=False)` layers named `gate_proj`, `up_proj`, `down_proj` (LLaMA's names).
#[derive(Clone, Debug, TensorCollection)]
pub struct GatedFeedForward<const M: usize, const F: usize, A, E: Dtype, D: Storage<E>> {
    /// `M → F`, activated.
    pub gate_proj: Projection<M, F, E, D, false>,
    /// `M → F`, linear.
    pub up_proj: Projection<M, F, E, D, false>,
    /// `F → M`.
    pub down_proj: Projection<F, M, E, D, false>,
    act: PhantomData<A>,
}

impl<const M: usize, const F: usize, A: Activation, E: Dtype, D: Device<E>> FeedForwardNet<M, E, D>
    for FeedForward<M, F, A, E, D>
{
    fn try_feed_forward<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        dropout: f64,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError> {
        realized(self.try_feed_forward_dyn(realized::<Dyn3, _, _, _, _>(x)?, dropout)?)
    }

    fn try_feed_forward_dyn<T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<Dyn3, E, D, T>,
        dropout: f64,
    ) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
        let hidden = A::try_apply_dyn(self.linear1.erased()?.try_forward_3d(x)?)?;
        self.linear2
            .erased()?
            .try_forward_3d(super::residual::dropout(hidden, dropout)?)
    }
}

impl<const M: usize, const F: usize, A: Activation, E: Dtype, D: Device<E>> FeedForwardNet<M, E, D>
    for GatedFeedForward<M, F, A, E, D>
{
    fn try_feed_forward<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        dropout: f64,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError> {
        realized(self.try_feed_forward_dyn(realized::<Dyn3, _, _, _, _>(x)?, dropout)?)
    }

    fn try_feed_forward_dyn<T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<Dyn3, E, D, T>,
        dropout: f64,
    ) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
        let (gate_proj, up_proj) = (self.gate_proj.erased()?, self.up_proj.erased()?);
        let down_proj = self.down_proj.erased()?;
        let (mut tape, x) = TapeHolder::split(x);
        let up = tape.run(&x, |x| up_proj.try_forward_3d(x))?;
        let gated = tape.run(&x, |x| {
            A::try_apply_dyn(gate_proj.try_forward_3d(x)?)?
                .try_mul(up)
                .dev()
        })?;
        let out = tape.run(&gated, |g| {
            down_proj.try_forward_3d(super::residual::dropout(g, dropout)?)
        })?;
        Ok(tape.finish(out))
    }
}
