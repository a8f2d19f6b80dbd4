//! The per-row state of a recurrent encoder-decoder's decoding session: the encoder states the
//! decoder attends over, the decoder's state, the rows' source lengths and the attention
//! options.

use dfdx::prelude::*;

use super::decoding_session::RowState;
use crate::attention::{AttentionMask, AttentionOptions};
use crate::error::{AttnError, DeviceResultExt};
use crate::rnn::CellState;

/// The state of a [`DecodingSession`](super::DecodingSession) over a recurrent decoder with
/// attention (see the module docs); [`RowState::try_select`] selects every part by the parents.
///
/// **PyTorch equivalent**: the `(encoder_outputs, (h, c), mask)` a seq2seq RNN decoder loop
/// carries, `index_select`-ed by the beams.
pub struct RecurrentRows<const H: usize, const SL: usize, const O: usize, E, D>
where
    E: Dtype,
    D: Storage<E>,
{
    /// Each current row's encoder states, `[R, SL, O]`.
    pub states: Tensor<(usize, Const<SL>, Const<O>), E, D>,
    /// Each current row's decoder state.
    pub state: CellState<usize, H, E, D>,
    /// Each current row's source length.
    pub lengths: Vec<usize>,
    /// The attention options, their key lengths the rows'.
    pub opts: AttentionOptions,
}

impl<const H: usize, const SL: usize, const O: usize, E: Dtype, D: Device<E>> RowState
    for RecurrentRows<H, SL, O, E, D>
{
    fn try_select(&self, parents: &[usize]) -> Result<Self, AttnError> {
        let dev = self.states.device().clone();
        let idx = dev
            .try_tensor_from_vec(parents.to_vec(), (parents.len(),))
            .dev()?;
        let lengths: Vec<usize> = parents.iter().map(|&p| self.lengths[p]).collect();
        Ok(RecurrentRows {
            states: self.states.clone().try_gather(idx.clone()).dev()?,
            state: CellState {
                h: self.state.h.clone().try_gather(idx.clone()).dev()?,
                c: match &self.state.c {
                    Some(c) => Some(c.clone().try_gather(idx).dev()?),
                    None => None,
                },
            },
            opts: AttentionOptions {
                mask: AttentionMask::none().key_lengths(lengths.clone()),
                ..self.opts.clone()
            },
            lengths,
        })
    }
}
