//! The shared front of token models: check the ids, embed, add positions, encode.

use dfdx::nn::modules::Embedding;
use dfdx::prelude::*;

use super::{ForwardOptions, LayerAttention, ModelMeta, PositionalEncoding, SequenceEncoder};
use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{realized, Dyn2, Dyn3};
pub(crate) use crate::kernels::embedding::check_token_ids;
use crate::kernels::embedding::try_embed;

/// An encoded token batch: `[B, L, M]`, the checked lengths, and the captured weights.
pub(crate) type Encoded<B, const L: usize, const M: usize, E, D, T> = (
    Tensor<(B, Const<L>, Const<M>), E, D, T>,
    Option<Vec<usize>>,
    Vec<LayerAttention<E, D>>,
);

/// Token ids `[B, L]` → encoded `[B, L, M]`, with padding masked from `opts.lengths`; the
/// attention layers' weights are named under `path` (the encoder's field name).
pub(crate) fn try_encode_tokens<
    const V: usize,
    const L: usize,
    const M: usize,
    B,
    Enc,
    Pos,
    E,
    D,
    T,
>(
    embedding: &Embedding<V, M, E, D>,
    positional: &Pos,
    encoder: &Enc,
    ids: Tensor<(B, Const<L>), usize, D, T>,
    opts: &ForwardOptions,
    meta: &ModelMeta,
    path: &str,
) -> Result<Encoded<B, L, M, E, D, T>, AttnError>
where
    B: Dim,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
    Enc: SequenceEncoder<M, E, D>,
    Pos: PositionalEncoding<M, E, D>,
{
    let batch = ids.shape().0.size();
    let lengths = opts.checked_lengths(batch, L)?;
    let x = try_embed(embedding, ids)?;
    let x = positional.try_add_positions(x)?;
    let attn = meta.forward_attention_options(lengths.clone(), opts);
    let mut weights = Vec::new();
    let x = encoder.try_encode(x, &attn, path, &mut weights)?;
    Ok((x, lengths, weights))
}

/// The mean over the sequence, of the first `lengths[b]` positions when lengths are given.
///
/// # Shapes
/// `[B, S, M] -> [B, M]`
pub(crate) fn try_mean_pool<
    B: Dim,
    S: Dim,
    const M: usize,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
>(
    x: Tensor<(B, S, Const<M>), E, D, T>,
    lengths: Option<&[usize]>,
) -> Result<Tensor<(B, Const<M>), E, D, T>, AttnError> {
    realized((kernels::<E, D, T>()?.mean_pool)(
        realized::<Dyn3, _, _, _, _>(x)?,
        lengths,
    )?)
}

kernel_tables! {
    /// This module's kernel, compiled once in attn-runtime (see `kernel_tables!`).
    struct PoolKernels {
        mean_pool: fn(
            Tensor<Dyn3, E, D, T>,
            Option<&[usize]>,
        ) -> Result<Tensor<Dyn2, E, D, T>, AttnError>
            = mean_pool_dyn::<E, D, T>,
    }
}

/// [`try_mean_pool`] on run-time shapes.
fn mean_pool_dyn<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<Dyn3, E, D, T>,
    lengths: Option<&[usize]>,
) -> Result<Tensor<Dyn2, E, D, T>, AttnError> {
    let shape = *x.shape();
    let Some(lengths) = lengths else {
        return x.try_mean::<_, Axis<1>>().dev();
    };
    let s = shape.1;
    let mut w = Vec::with_capacity(shape.0 * s);
    for &len in lengths {
        let share = E::from_f64(1.0 / len as f64).unwrap_or_default();
        w.extend((0..s).map(|j| if j < len { share } else { E::default() }));
    }
    let w = x
        .device()
        .try_tensor_from_vec(w, (shape.0, shape.1))
        .dev()?;
    x.try_mul(w.try_broadcast_like::<_, Axis<2>>(&shape).dev()?)
        .dev()?
        .try_sum::<_, Axis<1>>()
        .dev()
}
