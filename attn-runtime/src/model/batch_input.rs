//! From a shape-free [`Batch`] to a model's typed input, once per kind of input (token ids,
//! images, source and target ids), checked against the declared sizes: what every model's
//! [`AttnModel::try_input`](super::AttnModel::try_input) is made of.

use dfdx::prelude::*;

use super::{Batch, BatchInput, Inputs, ModelMeta, Seq2SeqInput};
use crate::error::{AttnError, DeviceResultExt};

fn wrong_inputs(meta: &ModelMeta, got: &str) -> AttnError {
    AttnError::InvalidInput {
        reason: format!(
            "model `{}` ({}) was given {got}",
            meta.name,
            meta.task.name()
        ),
        fix: "give token models token batches and patch models image batches".into(),
    }
}

/// The ids of a token batch as `[B, L]`, carrying `tape`, with their lengths.
///
/// # Errors
/// [`AttnError::InvalidInput`] for an image batch or ids not padded to `L`.
pub fn token_input<const L: usize, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    batch: &Batch,
    dev: &D,
    meta: &ModelMeta,
    tape: T,
) -> Result<BatchInput<Tensor<(usize, Const<L>), usize, D, T>>, AttnError> {
    let Inputs::Tokens { ids, lengths } = &batch.inputs else {
        return Err(wrong_inputs(meta, "images"));
    };
    if ids.len() != batch.size * L {
        return Err(AttnError::InvalidInput {
            reason: format!(
                "{} token ids for {} sequences padded to {L}",
                ids.len(),
                batch.size
            ),
            fix: format!("pad or truncate every sequence to the declared length {L}"),
        });
    }
    let ids = dev
        .try_tensor_from_vec(ids.clone(), (batch.size, Const::<L>))
        .dev()?
        .put_tape(tape);
    Ok(BatchInput {
        input: ids,
        lengths: Some(lengths.clone()),
    })
}

/// The pixels of an image batch as `[B, CH, IH, IW]`, carrying `tape`.
///
/// # Errors
/// [`AttnError::InvalidInput`] for a token batch or images of another size.
pub fn image_input<
    const CH: usize,
    const IH: usize,
    const IW: usize,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
>(
    batch: &Batch,
    dev: &D,
    meta: &ModelMeta,
    tape: T,
) -> Result<BatchInput<Tensor<(usize, Const<CH>, Const<IH>, Const<IW>), E, D, T>>, AttnError> {
    let Inputs::Images { pixels } = &batch.inputs else {
        return Err(wrong_inputs(meta, "tokens"));
    };
    if pixels.len() != batch.size * CH * IH * IW {
        return Err(AttnError::InvalidInput {
            reason: format!(
                "{} pixel values for {} images of {CH}x{IH}x{IW}",
                pixels.len(),
                batch.size
            ),
            fix: "give every image the declared channels, height and width".into(),
        });
    }
    let values = pixels
        .iter()
        .map(|&p| E::from_f32(p).unwrap_or_default())
        .collect();
    let images = dev
        .try_tensor_from_vec(values, (batch.size, Const::<CH>, Const::<IH>, Const::<IW>))
        .dev()?
        .put_tape(tape);
    Ok(BatchInput {
        input: images,
        lengths: None,
    })
}

/// The source ids `[B, SL]` (carrying `tape`, with their lengths) and the targets `[B, TL]` of a
/// sequence-to-sequence batch.
///
/// # Errors
/// [`AttnError::InvalidInput`] for an image batch, sources not padded to `SL`, or a target
/// count other than `B · TL`.
pub fn seq2seq_input<
    const SL: usize,
    const TL: usize,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
>(
    batch: &Batch,
    dev: &D,
    meta: &ModelMeta,
    tape: T,
) -> Result<BatchInput<Seq2SeqInput<usize, SL, TL, D, T>>, AttnError> {
    let BatchInput {
        input: src,
        lengths,
    } = token_input::<SL, E, D, T>(batch, dev, meta, tape)?;
    if batch.targets.len() != batch.size * TL {
        return Err(AttnError::InvalidInput {
            reason: format!(
                "{} target tokens for {} sequences of {TL}",
                batch.targets.len(),
                batch.size
            ),
            fix: format!("pad or truncate every target to the declared tgt_len {TL}"),
        });
    }
    let targets = dev
        .try_tensor_from_vec(batch.targets.clone(), (batch.size, Const::<TL>))
        .dev()?;
    Ok(BatchInput {
        input: Seq2SeqInput::new(src, targets),
        lengths,
    })
}
