//! How a recurrent decoder attends over encoder states: Bahdanau's additive attention (before the
//! cell step, context fed to the cell) or Luong's general/dot attention (after it, context
//! combined with the output).

use dfdx::prelude::*;

use crate::attention::{
    dot_attention, AdditiveAttention, AttentionOptions, GeneralAttention, StepOutput,
};
use crate::error::{AttnError, DeviceResultExt};

/// A decoder's attention over encoder states of width `O`, queried by a decoder state of width `H`.
pub trait DecoderAttention<const H: usize, const O: usize, E: Dtype, D: Device<E>> {
    /// `true` for Bahdanau (attend with the previous state, feed the context into the cell),
    /// `false` for Luong (attend with the new state, combine the context with the output).
    const BEFORE_STEP: bool;

    /// One query per sequence over the encoder states.
    ///
    /// # Shapes
    /// query `[B, H]`, states `[B, S, O]` → context `[B, O]`, weights `[B, S]`.
    #[allow(clippy::type_complexity)]
    fn try_attend_states<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        query: Tensor<(B, Const<H>), E, D, T>,
        states: &Tensor<(B, S, Const<O>), E, D>,
        opts: &AttentionOptions,
    ) -> Result<StepOutput<B, S, O, E, D, T>, AttnError>;
}

impl<const H: usize, const O: usize, const A: usize, E: Dtype, D: Device<E>>
    DecoderAttention<H, O, E, D> for AdditiveAttention<H, O, A, E, D>
{
    const BEFORE_STEP: bool = true;

    fn try_attend_states<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        query: Tensor<(B, Const<H>), E, D, T>,
        states: &Tensor<(B, S, Const<O>), E, D>,
        opts: &AttentionOptions,
    ) -> Result<StepOutput<B, S, O, E, D, T>, AttnError> {
        self.try_attend_step(query, states.clone(), states.clone(), opts)
    }
}

impl<const H: usize, const O: usize, E: Dtype, D: Device<E>> DecoderAttention<H, O, E, D>
    for GeneralAttention<H, O, E, D>
{
    const BEFORE_STEP: bool = false;

    fn try_attend_states<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        query: Tensor<(B, Const<H>), E, D, T>,
        states: &Tensor<(B, S, Const<O>), E, D>,
        opts: &AttentionOptions,
    ) -> Result<StepOutput<B, S, O, E, D, T>, AttnError> {
        self.try_attend_step(query, states.clone(), states.clone(), opts)
    }
}

/// Luong's parameter-free "dot" scoring, `score(h, s) = h · s` (decoder and encoder widths equal).
#[derive(Clone, Copy, Debug, Default)]
pub struct DotScoring;

impl ZeroSizedModule for DotScoring {}

impl<const H: usize, E: Dtype, D: Device<E>> DecoderAttention<H, H, E, D> for DotScoring {
    const BEFORE_STEP: bool = false;

    fn try_attend_states<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        query: Tensor<(B, Const<H>), E, D, T>,
        states: &Tensor<(B, S, Const<H>), E, D>,
        opts: &AttentionOptions,
    ) -> Result<StepOutput<B, S, H, E, D, T>, AttnError> {
        let b = query.shape().0;
        let query = query.try_reshape_like(&(b, Const::<1>, Const::<H>)).dev()?;
        let out = dot_attention(query, states.clone(), states.clone(), opts)?;
        let context = out.context.try_reshape_like(&(b, Const::<H>)).dev()?;
        let weights = match out.weights {
            Some(w) => {
                let s = w.shape().2;
                Some(w.try_reshape_like(&(b, s)).dev()?)
            }
            None => None,
        };
        Ok(crate::attention::AttnOutput { context, weights })
    }
}
