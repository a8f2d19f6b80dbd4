//! A recurrent encoder-decoder with attention (Bahdanau et al. 2015; Luong et al. 2015).

use std::marker::PhantomData;

use dfdx::nn::modules::Embedding;
use dfdx::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::decoding_session::DecodingSession;
use super::recurrent_rows::RecurrentRows;
use super::source_stepper::source_batch;
use super::token_encoding::check_token_ids;
use super::{
    impl_attn_model, DeclaredModel, DecoderAttention, ForwardOptions, LayerAttention, ModelOutput,
    SourceStepper,
};
use crate::attention::{AttentionMask, AttentionOptions, Projection};
use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::embedding::try_embed;
use crate::loss::IGNORE;
use crate::rnn::{CellState, RecurrentCell, RnnStack};
use crate::tape_holder::TapeHolder;
use crate::tokens::{BOS, PAD};
use crate::TensorCollection;

/// Translates source sequences (`SL` tokens of `SV`) into target sequences (`TL` tokens of `TV`).
///
/// The encoder embeds the source (width `M`) and runs `L` layers of the recurrent `Cell`
/// (hidden `H`, output `O = H·dirs`). The decoder starts from `tanh(bridge(final encoder state))`
/// and at every step attends over the encoder states with `Attn`:
/// - Bahdanau (additive; `Attn::BEFORE_STEP`): attend with the previous decoder state, feed
///   `[embedding; context]` (`DI = M + O`) to the cell;
/// - Luong (general or dot): feed the embedding (`DI = M`), attend with the new state.
///
/// Both then predict from `tanh(combine([context; state]))` (`QO = O + H`) through `out`.
/// Training uses teacher forcing at `ForwardOptions::teacher_forcing`; otherwise the decoder
/// feeds back its own greedy predictions. Sizes a type cannot compute (`O`, `DI`, `QO`) are
/// parameters, checked by a const assertion.
///
/// # Shapes
/// source ids `[B, SL]` → logits `[B, TL, TV]`; attention `[B, 1, TL, SL]` (`decoder.attention`).
#[derive(Clone, Debug, TensorCollection)]
#[collection(marker(Cell))]
pub struct RnnSeq2Seq<
    Cell,
    const G: usize,
    const SV: usize,
    const TV: usize,
    const SL: usize,
    const TL: usize,
    const M: usize,
    const H: usize,
    const O: usize,
    const L: usize,
    const BIDIR: bool,
    const DI: usize,
    const QO: usize,
    Attn,
    S,
    E: Dtype,
    D: Storage<E>,
> {
    /// Source token embeddings.
    pub src_embedding: Embedding<SV, M, E, D>,
    /// The recurrent encoder.
    pub encoder: RnnStack<Cell, G, M, H, O, L, BIDIR, E, D>,
    /// Final encoder state → initial decoder state.
    pub bridge: Projection<O, H, E, D, true>,
    /// Target token embeddings.
    pub tgt_embedding: Embedding<TV, M, E, D>,
    /// The decoder cell (one layer).
    pub decoder: RnnStack<Cell, G, DI, H, H, 1, false, E, D>,
    /// Attention over the encoder states.
    pub attention: Attn,
    /// `[context; state]` → attentional hidden state.
    pub combine: Projection<QO, H, E, D, true>,
    /// Attentional hidden state → target vocabulary logits.
    pub out: Projection<H, TV, E, D, true>,
    spec: PhantomData<S>,
}

/// `[B, A] ⊕ [B, C] → [B, OUT]` along features, recorded.
fn concat_features<
    B: Dim,
    const A: usize,
    const C: usize,
    const OUT: usize,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
>(
    a: Tensor<(B, Const<A>), E, D, T>,
    c: &Tensor<(B, Const<C>), E, D>,
) -> Result<Tensor<(B, Const<OUT>), E, D, T>, AttnError> {
    let b = a.shape().0;
    let a = a.try_reshape_like(&(b, A)).dev()?;
    let c = c.retaped::<T>().try_reshape_like(&(b, C)).dev()?;
    (a, c)
        .try_concat_along(Axis::<1>)
        .dev()?
        .try_reshape_like(&(b, Const::<OUT>))
        .dev()
}

impl<
        Cell,
        const G: usize,
        const SV: usize,
        const TV: usize,
        const SL: usize,
        const TL: usize,
        const M: usize,
        const H: usize,
        const O: usize,
        const L: usize,
        const BIDIR: bool,
        const DI: usize,
        const QO: usize,
        Attn,
        S,
        E,
        D,
    > RnnSeq2Seq<Cell, G, SV, TV, SL, TL, M, H, O, L, BIDIR, DI, QO, Attn, S, E, D>
where
    Cell: RecurrentCell,
    E: Dtype,
    D: Device<E>,
    Attn: DecoderAttention<H, O, E, D>,
    S: DeclaredModel,
{
    /// The widths the declaration's macro computed, checked again by the compiler.
    pub const WIDTHS_AGREE: () = assert!(
        DI == M + if Attn::BEFORE_STEP { O } else { 0 }
            && QO == O + H
            && O == H * if BIDIR { 2 } else { 1 },
        "RnnSeq2Seq: DI = M (+ O for Bahdanau attention), QO = O + H, O = H·dirs"
    );

    /// Encodes `src` and decodes `TL` steps: teacher-forced from `targets` (`[B, TL]`, PAD or
    /// [`IGNORE`] for padding) where `opts` says so, greedy otherwise.
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] for ids outside the vocabularies, lengths that do not fit, or
    /// targets of the wrong count.
    fn try_decode<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        src: Tensor<(B, Const<SL>), usize, D, T>,
        targets: Option<&[usize]>,
        opts: &ForwardOptions,
    ) -> Result<ModelOutput<(B, Const<TL>, Const<TV>), E, D, T>, AttnError> {
        #[allow(clippy::let_unit_value)]
        let _ = Self::WIDTHS_AGREE;
        let b = src.shape().0;
        let batch = b.size();
        check_token_ids(&src.as_vec(), SV)?;
        let lengths = opts.checked_lengths(batch, SL)?;
        if let Some(t) = targets {
            check_targets(t, batch * TL, TV)?;
        }
        let dev = src.device().clone();
        let (mut tape, states, mut state) = self.try_encode(src, lengths.as_deref())?;

        let mask = AttentionMask::none().key_lengths(lengths.unwrap_or_else(|| vec![SL; batch]));
        let attn_opts = AttentionOptions {
            need_weights: opts.need_weights,
            ..AttentionOptions::default().mask(mask)
        };
        let forcing = opts.effective_teacher_forcing();
        let mut rng = StdRng::seed_from_u64(opts.seed);
        let mut prev = vec![BOS; batch];
        let (mut step_logits, mut step_weights, mut tokens) =
            (Vec::new(), Vec::new(), vec![PAD; batch * TL]);
        for t in 0..TL {
            let ids = dev.try_tensor_from_vec(prev.clone(), (b,)).dev()?;
            let (logits, next, weights) =
                self.try_decoder_step(&mut tape, &ids, &state, &states, &attn_opts)?;
            state = next;
            let greedy = argmax_rows(&logits.as_vec(), TV);
            for (i, &g) in greedy.iter().enumerate() {
                tokens[i * TL + t] = g;
            }
            prev = match targets {
                Some(targets) if forcing > 0.0 && rng.gen::<f64>() < forcing => (0..batch)
                    .map(|i| match targets[i * TL + t] {
                        IGNORE => PAD,
                        tok => tok,
                    })
                    .collect(),
                _ => greedy,
            };
            step_logits.push(logits);
            step_weights.extend(weights);
        }
        let stacked = tape.stack(&step_logits)?; // [TL, B, TV]
        let logits = tape.run(&stacked, |x| {
            x.try_permute::<_, Axes3<1, 0, 2>>()
                .dev()?
                .try_reshape_like(&(b, Const::<TL>, Const::<TV>))
                .dev()
        })?;
        let mut attention = Vec::new();
        if opts.need_weights && step_weights.len() == TL {
            let w = step_weights.try_stack().dev()?; // [TL, B, SL]
            let w = w.try_permute::<_, Axes3<1, 0, 2>>().dev()?;
            let w = w.try_reshape_like(&(batch, 1, TL, SL)).dev()?;
            attention.push(LayerAttention::capture("decoder.attention".into(), w)?);
        }
        Ok(ModelOutput {
            logits: tape.finish(logits),
            tokens,
            attention,
        })
    }

    /// Encodes `src` (`lengths`: its unpadded lengths, or none for full rows): the tape held
    /// apart, the top layer's states `[B, SL, O]`, and the decoder's first state
    /// `tanh(bridge(final encoder state))` (and a zero cell state for an LSTM).
    fn try_encode<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        src: Tensor<(B, Const<SL>), usize, D, T>,
        lengths: Option<&[usize]>,
    ) -> Result<
        (
            TapeHolder<T>,
            Tensor<(B, Const<SL>, Const<O>), E, D>,
            CellState<B, H, E, D>,
        ),
        AttnError,
    > {
        let b = src.shape().0;
        let dev = src.device().clone();
        let x = try_embed(&self.src_embedding, src)?;
        let enc = self.encoder.try_forward(x, lengths)?;
        let (mut tape, states) = TapeHolder::split(enc.output);

        // the decoder starts from the top encoder layer's final state(s)
        let top = (L - 1) * if BIDIR { 2 } else { 1 };
        let last = tape.run(&enc.h_n[top], |h| {
            if BIDIR {
                concat_features::<B, H, H, O, E, D, T>(h, &enc.h_n[top + 1])
            } else {
                h.try_reshape_like(&(b, Const::<O>)).dev()
            }
        })?;
        let h0 = tape.run(&last, |f| self.bridge.try_forward_2d(f)?.try_tanh().dev())?;
        let zeros: Tensor<(B, Const<H>), E, D> = dev.try_zeros_like(&(b, Const::<H>)).dev()?;
        let state = CellState {
            h: h0,
            c: Cell::HAS_CELL_STATE.then_some(zeros),
        };
        Ok((tape, states, state))
    }

    /// One decoder step from `state`, fed the tokens `ids` (`[B]`): the step's logits
    /// `[B, TV]`, the next state, and the attention weights over `states` (`[B, SL]`, when
    /// `opts` asks for them).
    fn try_decoder_step<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        tape: &mut TapeHolder<T>,
        ids: &Tensor<(B,), usize, D>,
        state: &CellState<B, H, E, D>,
        states: &Tensor<(B, Const<SL>, Const<O>), E, D>,
        opts: &AttentionOptions,
    ) -> Result<
        (
            Tensor<(B, Const<TV>), E, D>,
            CellState<B, H, E, D>,
            Option<Tensor<(B, Const<SL>), E, D>>,
        ),
        AttnError,
    > {
        let b = ids.shape().0;
        let y = tape.run(ids, |ids| try_embed(&self.tgt_embedding, ids))?;
        let (context, weights, state) = if Attn::BEFORE_STEP {
            let (context, weights) = self.try_attend(tape, &state.h, states, opts)?;
            let input = tape.run(&y, |y| concat_features::<B, M, O, DI, E, D, T>(y, &context))?;
            let state = self.decoder.try_step(tape, &input, state)?;
            (context, weights, state)
        } else {
            let input = tape.run(&y, |y| y.try_reshape_like(&(b, Const::<DI>)).dev())?;
            let state = self.decoder.try_step(tape, &input, state)?;
            let (context, weights) = self.try_attend(tape, &state.h, states, opts)?;
            (context, weights, state)
        };
        let logits = tape.run(&context, |c| {
            let hidden = concat_features::<B, O, H, QO, E, D, T>(c, &state.h)?;
            let hidden = self.combine.try_forward_2d(hidden)?.try_tanh().dev()?;
            self.out.try_forward_2d(hidden)
        })?;
        Ok((logits, state, weights))
    }

    /// [`AttnModel::source_stepper`](super::AttnModel::source_stepper) for this model: the
    /// sources encoded once, the decoder stepped from each row's recurrent state, the states
    /// re-chosen by the rows' parents at every step.
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] for sources that do not fit; device errors.
    pub fn try_source_stepper(
        &self,
        sources: &[&[usize]],
    ) -> Result<Box<dyn SourceStepper<E> + '_>, AttnError> {
        let dev = self.src_embedding.weight.device().clone();
        let (src, lengths) = source_batch::<SL, D>(&dev, sources, SV)?;
        let (_, states, state) = self.try_encode(src, Some(&lengths))?;
        let step = move |tokens: &[usize], _t: usize, rows: &mut RecurrentRows<H, SL, O, E, D>| {
            let ids = dev
                .try_tensor_from_vec(tokens.to_vec(), (tokens.len(),))
                .dev()?;
            let mut tape = TapeHolder::<NoneTape>::default();
            let (logits, state, _) =
                self.try_decoder_step(&mut tape, &ids, &rows.state, &rows.states, &rows.opts)?;
            rows.state = state;
            Ok(logits.as_vec())
        };
        let state = RecurrentRows {
            states,
            state,
            opts: AttentionOptions::default()
                .mask(AttentionMask::none().key_lengths(lengths.clone())),
            lengths,
        };
        Ok(Box::new(DecodingSession::new(
            step,
            state,
            sources.len(),
            TL,
            TV,
        )))
    }

    fn try_attend<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        tape: &mut TapeHolder<T>,
        query: &Tensor<(B, Const<H>), E, D>,
        states: &Tensor<(B, Const<SL>, Const<O>), E, D>,
        opts: &AttentionOptions,
    ) -> Result<
        (
            Tensor<(B, Const<O>), E, D>,
            Option<Tensor<(B, Const<SL>), E, D>>,
        ),
        AttnError,
    > {
        tape.run_with(query, |q| {
            let out = self.attention.try_attend_states(q, states, opts)?;
            Ok((out.context, out.weights))
        })
    }
}

impl_attn_model! {
    seq2seq impl[
        Cell,
        const G: usize,
        const SV: usize,
        const TV: usize,
        const SL: usize,
        const TL: usize,
        const M: usize,
        const H: usize,
        const O: usize,
        const L: usize,
        const BIDIR: bool,
        const DI: usize,
        const QO: usize,
        Attn,
        S,
        E,
        D
    ]
    for RnnSeq2Seq<Cell, G, SV, TV, SL, TL, M, H, O, L, BIDIR, DI, QO, Attn, S, E, D>
    where [
        Cell: RecurrentCell,
        E: Dtype,
        D: Device<E>,
        Attn: DecoderAttention<H, O, E, D>,
        S: DeclaredModel,
        Self: TensorCollection<E, D>,
    ]
}

/// Index of the largest value in each row of `width`.
pub(crate) fn argmax_rows(values: &[impl PartialOrd + Copy], width: usize) -> Vec<usize> {
    values
        .chunks(width)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold(
                    (0, row[0]),
                    |best, (i, &v)| if v > best.1 { (i, v) } else { best },
                )
                .0
        })
        .collect()
}

fn check_targets(targets: &[usize], count: usize, vocab: usize) -> Result<(), AttnError> {
    if targets.len() != count {
        return Err(AttnError::InvalidInput {
            reason: format!(
                "{} target tokens where {count} were expected",
                targets.len()
            ),
            fix: "pad or truncate targets to the declared tgt_len".into(),
        });
    }
    match targets.iter().find(|&&t| t != IGNORE && t >= vocab) {
        Some(t) => Err(AttnError::InvalidInput {
            reason: format!("target token {t} is outside the target vocabulary of {vocab}"),
            fix: format!("map target tokens below {vocab} or declare a larger tgt_vocab"),
        }),
        None => Ok(()),
    }
}
