//! The one [`SourceStepper`] of the sequence-to-sequence models, ours and a user's: a model's
//! per-row state (its caches or recurrent states) carried from step to step, re-chosen by the
//! rows' parents, and the checks every step takes first.

use super::source_stepper::check_step;
use super::SourceStepper;
use crate::error::AttnError;

/// What a decoding session carries from step to step, one row per current row: a
/// transformer decoder's caches ([`CachedRows`](super::CachedRows)), a recurrent decoder's
/// states ([`RecurrentRows`](super::RecurrentRows)), or a model's own.
///
/// **PyTorch equivalent**: the `past_key_values` of a Hugging Face model, whose
/// `_reorder_cache(past, beam_idx)` is [`try_select`](Self::try_select).
pub trait RowState: Sized {
    /// The state of the rows `parents` names, in that order (a row may be named more than once,
    /// or not at all; every name is a current row, checked before).
    ///
    /// # Errors
    /// Device errors.
    fn try_select(&self, parents: &[usize]) -> Result<Self, AttnError>;
}

/// A [`SourceStepper`] over a model's [`RowState`] and its incremental `step`: what a model's
/// [`AttnModel::source_stepper`](super::AttnModel::source_stepper) returns, its own step and
/// state inside. The session checks each step's parents, tokens and position before anything
/// changes, selects the state by the parents (committed only once the step has run), and steps
/// rows that continue themselves in place.
///
/// # Shapes
/// `step(tokens: [R], t, state) → logits [R, V]` (row-major), the state grown by one position.
///
/// **PyTorch equivalent**: the loop of a Hugging Face `generate(num_beams=…)` around the model's
/// forward with `past_key_values`, reordered by the beams after each step.
pub struct DecodingSession<S, F> {
    /// The model's incremental step.
    pub step: F,
    /// The current rows' state.
    pub state: S,
    /// The current rows (the sources before the first step).
    pub rows: usize,
    /// The number of sources.
    pub sources: usize,
    /// Steps taken.
    pub t: usize,
    /// The declared target length.
    pub tgt_len: usize,
    /// The target vocabulary.
    pub vocab: usize,
}

impl<S, F> DecodingSession<S, F> {
    /// A session before its first step: `state` holds one row per source; the model decodes
    /// at most `tgt_len` positions over a target vocabulary of `vocab`.
    pub fn new(step: F, state: S, sources: usize, tgt_len: usize, vocab: usize) -> Self {
        DecodingSession {
            step,
            state,
            rows: sources,
            sources,
            t: 0,
            tgt_len,
            vocab,
        }
    }
}

impl<E, S, F> SourceStepper<E> for DecodingSession<S, F>
where
    S: RowState,
    F: Fn(&[usize], usize, &mut S) -> Result<Vec<E>, AttnError>,
{
    fn sources(&self) -> usize {
        self.sources
    }

    fn len(&self) -> usize {
        self.t
    }

    fn vocab(&self) -> usize {
        self.vocab
    }

    fn try_step(&mut self, parents: &[usize], tokens: &[usize]) -> Result<Vec<E>, AttnError> {
        check_step(parents, tokens, self.rows, self.vocab, self.t, self.tgt_len)?;
        let kept = parents.len() == self.rows && parents.iter().enumerate().all(|(r, &p)| r == p);
        let logits = if kept {
            // every row continues itself: stepped in place, no copy
            (self.step)(tokens, self.t, &mut self.state)?
        } else {
            // the rows re-chosen: the state follows the parents, committed once the step ran
            let mut state = self.state.try_select(parents)?;
            let logits = (self.step)(tokens, self.t, &mut state)?;
            self.state = state;
            logits
        };
        self.rows = parents.len();
        self.t += 1;
        Ok(logits)
    }
}
