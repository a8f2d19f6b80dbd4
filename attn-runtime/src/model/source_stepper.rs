//! Incremental decoding of a batch of sources: what beam search asks of a sequence-to-sequence
//! model.

use dfdx::prelude::*;

use super::token_encoding::check_token_ids;
use crate::error::{AttnError, DeviceResultExt};
use crate::tokens::PAD;

/// A decoding session over a batch of source sequences, encoded once, that keeps what each
/// decoded row has computed (a key/value cache or a recurrent state), so a step costs work for
/// one new token per row. Rows are re-chosen at every step: each row of a step continues a row
/// of the step before (on the first step, a source), as a beam continues its parent. Made by
/// [`AttnModel::source_stepper`](super::AttnModel::source_stepper).
///
/// # Shapes
/// [`try_step`](Self::try_step) takes `R` parents and `R` tokens and returns the logits
/// `[R, V]` (row-major) of each row's next token, `V` = [`vocab`](Self::vocab).
///
/// **PyTorch equivalent**: a Hugging Face encoder-decoder's `generate` loop: the
/// `encoder_outputs` computed once, `past_key_values` passed to each decoder call and
/// re-indexed by the beams' parents (`_reorder_cache`).
pub trait SourceStepper<E> {
    /// The number of source sequences.
    fn sources(&self) -> usize;

    /// Positions decoded so far (steps taken).
    fn len(&self) -> usize;

    /// Whether no step has been taken.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The target vocabulary: the width of a row of logits.
    fn vocab(&self) -> usize;

    /// One step: row `r` continues row `parents[r]` of the previous step (of the sources on the
    /// first step) and is fed `tokens[r]` as the decoder's input at this position (BOS on the
    /// first step, then the token the row chose); returns every row's next-token logits.
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] for parents and tokens of different counts, a parent
    /// outside the previous step's rows, a token outside the target vocabulary, or a step past
    /// the declared target length; device errors. A refused step leaves the session as it was.
    fn try_step(&mut self, parents: &[usize], tokens: &[usize]) -> Result<Vec<E>, AttnError>;
}

/// `sources` as one batch `[R, SL]` padded with PAD, and their lengths (an empty source counts
/// as one PAD, as the padding mask needs a key to attend to): the input of a session.
///
/// # Shapes
/// `R` sources of at most `SL` ids → `[R, SL]` and `R` lengths.
///
/// **PyTorch equivalent**: `pad_sequence(sources, batch_first=True)` padded to `SL`, with the
/// lengths kept for the attention mask.
///
/// # Errors
/// [`AttnError::InvalidInput`] for no sources, a source longer than `SL`, or an id outside
/// `vocab`.
pub fn source_batch<const SL: usize, D: TensorFromVec<usize>>(
    dev: &D,
    sources: &[&[usize]],
    vocab: usize,
) -> Result<(Tensor<(usize, Const<SL>), usize, D>, Vec<usize>), AttnError> {
    if sources.is_empty() {
        return Err(AttnError::InvalidInput {
            reason: "a decoding session over no sources".into(),
            fix: "pass at least one source sequence".into(),
        });
    }
    if let Some(long) = sources.iter().find(|s| s.len() > SL) {
        return Err(AttnError::InvalidInput {
            reason: format!("a source of {} tokens; the model reads {SL}", long.len()),
            fix: format!("truncate sources to {SL} tokens"),
        });
    }
    let mut ids = vec![PAD; sources.len() * SL];
    for (row, source) in ids.chunks_exact_mut(SL).zip(sources) {
        row[..source.len()].copy_from_slice(source);
    }
    check_token_ids(&ids, vocab)?;
    let lengths = sources.iter().map(|s| s.len().max(1)).collect();
    let src = dev
        .try_tensor_from_vec(ids, (sources.len(), Const::<SL>))
        .dev()?;
    Ok((src, lengths))
}

/// Checks one step's rows before the session changes: as many tokens as parents, at least
/// one, parents among the `previous` rows, tokens in `vocab`, and position `t` before `tgt_len`.
///
/// # Errors
/// [`AttnError::InvalidInput`] naming the first that fails.
pub(crate) fn check_step(
    parents: &[usize],
    tokens: &[usize],
    previous: usize,
    vocab: usize,
    t: usize,
    tgt_len: usize,
) -> Result<(), AttnError> {
    let refuse = |reason: String, fix: &str| {
        Err(AttnError::InvalidInput {
            reason,
            fix: fix.into(),
        })
    };
    if parents.len() != tokens.len() || parents.is_empty() {
        return refuse(
            format!("{} parents and {} tokens", parents.len(), tokens.len()),
            "pass one parent and one token per row, at least one row",
        );
    }
    if let Some(&p) = parents.iter().find(|&&p| p >= previous) {
        return refuse(
            format!("parent row {p} of a step of {previous} rows"),
            "name rows of the previous step (of the sources on the first step)",
        );
    }
    if let Some(&tok) = tokens.iter().find(|&&tok| tok >= vocab) {
        return refuse(
            format!("token {tok} outside the target vocabulary of {vocab}"),
            "feed BOS first, then tokens the model produced",
        );
    }
    if t >= tgt_len {
        return refuse(
            format!("step {} of a decoder that reads {tgt_len} positions", t + 1),
            "stop at the declared target length",
        );
    }
    Ok(())
}
