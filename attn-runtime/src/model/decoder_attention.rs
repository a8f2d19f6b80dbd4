//! How a recurrent decoder attends over encoder states: Bahdanau's additive attention (before the
//! cell step, context fed to the cell) or Luong's general/dot attention (after it, context
//! combined with the output).

use std::marker::PhantomData;

use dfdx::prelude::*;

use super::ScoreFn;
use crate::attention::{
    dot_attention, try_attend, AdditiveAttention, AttentionOptions, AttnOutput, GeneralAttention,
    StepOutput,
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
        step_output(out, b, states.shape().1)
    }
}

/// A score function of the user's as a recurrent decoder's attention (`attention: YourScore` in
/// a declaration, `YourScore` implementing [`ScoreFn`]): Luong's placement (attend with the new
/// state, combine the context with the output), no parameters of its own. The query is the
/// decoder state `[B, 1, H]` and the keys the encoder states `[B, S, O]`; the scores go through
/// the attention seam ([`try_attend`]), so masks, softmax and weight
/// capture work as for the built-ins.
///
/// # Shapes
/// query `[B, H]`, states `[B, S, O]` → context `[B, O]`, weights `[B, S]`.
///
/// **PyTorch equivalent**: Luong attention with `score(h, s)` your function:
/// `softmax(score(h, s)) @ s`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScoredStates<Sc>(PhantomData<Sc>);

impl<Sc: ScoreFn> ZeroSizedModule for ScoredStates<Sc> {}

impl<const H: usize, const O: usize, E: Dtype, D: Device<E>, Sc: ScoreFn>
    DecoderAttention<H, O, E, D> for ScoredStates<Sc>
{
    const BEFORE_STEP: bool = false;

    fn try_attend_states<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        query: Tensor<(B, Const<H>), E, D, T>,
        states: &Tensor<(B, S, Const<O>), E, D>,
        opts: &AttentionOptions,
    ) -> Result<StepOutput<B, S, O, E, D, T>, AttnError> {
        let b = query.shape().0;
        let s = states.shape().1;
        let q = query.try_reshape_like(&(b, Const::<1>, H)).dev()?;
        let k = states
            .clone()
            .try_reshape_like(&(b, s, O))
            .dev()?
            .put_tape(T::default());
        let scores = Sc::try_score(q, k)?;
        let scores = scores
            .try_reshape_like(&(b, Const::<1>, Const::<1>, s))
            .dev()?;
        let values = states
            .clone()
            .try_reshape_like(&(b, Const::<1>, s, Const::<O>))
            .dev()?;
        step_output(try_attend(scores, values, opts)?, b, s)
    }
}

/// One query's attention output (context and weights in any layout of `B·O` and `B·S` values)
/// as a decoder step's: context `[B, O]`, weights `[B, S]`.
fn step_output<C, W, B, S, const O: usize, E, D, T>(
    out: AttnOutput<C, W, E, D, T>,
    b: B,
    s: S,
) -> Result<StepOutput<B, S, O, E, D, T>, AttnError>
where
    C: Shape,
    W: Shape,
    B: Dim,
    S: Dim,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
{
    let context = out.context.try_reshape_like(&(b, Const::<O>)).dev()?;
    let weights = match out.weights {
        Some(w) => Some(w.try_reshape_like(&(b, s)).dev()?),
        None => None,
    };
    Ok(AttnOutput { context, weights })
}
