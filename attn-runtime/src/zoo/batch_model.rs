//! Running a declared model on a [`Batch`]: the bridge from const-generic shapes to data.

use dfdx::prelude::*;

use super::{Batch, Inputs};
use crate::error::{AttnError, DeviceResultExt};
use crate::model::{
    DeclaredModel, DecoderAttention, ForwardOptions, LayerAttention, ModelMeta, PatchModel,
    PositionalEncoding, RnnClassifier, RnnSeq2Seq, SequenceEncoder, TaskHead, TokenModel,
    TransformerSeq2Seq,
};
use crate::rnn::RecurrentCell;
use crate::transformer::{FeedForwardNet, OutputProjection};

/// Logits as rows (`[N, labels]`: one row per sequence for classifiers, per position for
/// taggers) and the captured attention.
pub struct BatchOutput<E: Dtype, D: Storage<E>, T> {
    /// `[N, labels]`.
    pub logits: Tensor<(usize, usize), E, D, T>,
    /// Every attention layer's weights, when requested.
    pub attention: Vec<LayerAttention<E, D>>,
}

/// A model that can run on a [`Batch`].
pub trait BatchModel<E: Dtype, D: Device<E>> {
    /// The declaration's metadata.
    fn meta(&self) -> &'static ModelMeta;

    /// Runs the model on `batch`, recording onto `tape`.
    fn try_forward_batch<T: Tape<E, D>>(
        &self,
        batch: &Batch,
        opts: &ForwardOptions,
        tape: T,
    ) -> Result<BatchOutput<E, D, T>, AttnError>;
}

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

/// The ids of a token batch as a `[B, L]` tensor carrying `tape`, and `opts` with its lengths.
#[allow(clippy::type_complexity)]
fn token_batch<const L: usize, E: Dtype, D: Device<E>, T: Tape<E, D>>(
    batch: &Batch,
    opts: &ForwardOptions,
    dev: &D,
    meta: &ModelMeta,
    tape: T,
) -> Result<(Tensor<(usize, Const<L>), usize, D, T>, ForwardOptions), AttnError> {
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
    Ok((
        ids,
        ForwardOptions {
            lengths: Some(lengths.clone()),
            ..opts.clone()
        },
    ))
}

fn as_rows<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D>>(
    logits: Tensor<S, E, D, T>,
    labels: usize,
) -> Result<Tensor<(usize, usize), E, D, T>, AttnError> {
    let rows = logits.shape().num_elements() / labels;
    logits.try_reshape_like(&(rows, labels)).dev()
}

impl<const V: usize, const L: usize, const M: usize, Enc, Pos, Head, S, E, D> BatchModel<E, D>
    for TokenModel<V, L, M, Enc, Pos, Head, S, E, D>
where
    E: Dtype,
    D: Device<E>,
    Enc: SequenceEncoder<M, E, D>,
    Pos: PositionalEncoding<M, E, D>,
    Head: TaskHead<L, M, E, D>,
    S: DeclaredModel,
{
    fn meta(&self) -> &'static ModelMeta {
        &S::META
    }

    fn try_forward_batch<T: Tape<E, D>>(
        &self,
        batch: &Batch,
        opts: &ForwardOptions,
        tape: T,
    ) -> Result<BatchOutput<E, D, T>, AttnError> {
        let (ids, opts) =
            token_batch::<L, E, D, T>(batch, opts, self.embedding.weight.device(), &S::META, tape)?;
        let out = self.try_forward_with(ids, &opts)?;
        Ok(BatchOutput {
            logits: as_rows(out.logits, S::META.task.num_labels())?,
            attention: out.attention,
        })
    }
}

impl<
        const CH: usize,
        const IH: usize,
        const IW: usize,
        const P: usize,
        const NP: usize,
        const PD: usize,
        const M: usize,
        Enc,
        Pos,
        Head,
        S,
        E,
        D,
    > BatchModel<E, D> for PatchModel<CH, IH, IW, P, NP, PD, M, Enc, Pos, Head, S, E, D>
where
    E: Dtype,
    D: Device<E>,
    Enc: SequenceEncoder<M, E, D>,
    Pos: PositionalEncoding<M, E, D>,
    Head: TaskHead<NP, M, E, D>,
    S: DeclaredModel,
{
    fn meta(&self) -> &'static ModelMeta {
        &S::META
    }

    fn try_forward_batch<T: Tape<E, D>>(
        &self,
        batch: &Batch,
        opts: &ForwardOptions,
        tape: T,
    ) -> Result<BatchOutput<E, D, T>, AttnError> {
        let Inputs::Images { pixels } = &batch.inputs else {
            return Err(wrong_inputs(&S::META, "tokens"));
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
        let dev = self.patch_embed.weight.device().clone();
        let values = pixels
            .iter()
            .map(|&p| E::from_f32(p).unwrap_or_default())
            .collect();
        let images = dev
            .try_tensor_from_vec(values, (batch.size, Const::<CH>, Const::<IH>, Const::<IW>))
            .dev()?
            .put_tape(tape);
        let out = self.try_forward_with(images, opts)?;
        Ok(BatchOutput {
            logits: as_rows(out.logits, S::META.task.num_labels())?,
            attention: out.attention,
        })
    }
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
    > BatchModel<E, D>
    for RnnSeq2Seq<Cell, G, SV, TV, SL, TL, M, H, O, L, BIDIR, DI, QO, Attn, S, E, D>
where
    Cell: RecurrentCell,
    E: Dtype,
    D: Device<E>,
    Attn: DecoderAttention<H, O, E, D>,
    S: DeclaredModel,
{
    fn meta(&self) -> &'static ModelMeta {
        &S::META
    }

    /// Targets are the `[B, TL]` target tokens: they feed teacher forcing and are the loss rows.
    fn try_forward_batch<T: Tape<E, D>>(
        &self,
        batch: &Batch,
        opts: &ForwardOptions,
        tape: T,
    ) -> Result<BatchOutput<E, D, T>, AttnError> {
        let (src, opts) = token_batch::<SL, E, D, T>(
            batch,
            opts,
            self.src_embedding.weight.device(),
            &S::META,
            tape,
        )?;
        let out = self.try_forward_with(src, Some(&batch.targets), &opts)?;
        Ok(BatchOutput {
            logits: as_rows(out.logits, TV)?,
            attention: out.attention,
        })
    }
}

impl<
        Cell,
        const G: usize,
        const V: usize,
        const LEN: usize,
        const M: usize,
        const H: usize,
        const O: usize,
        const NL: usize,
        const BIDIR: bool,
        const C: usize,
        S,
        E,
        D,
    > BatchModel<E, D> for RnnClassifier<Cell, G, V, LEN, M, H, O, NL, BIDIR, C, S, E, D>
where
    Cell: RecurrentCell,
    E: Dtype,
    D: Device<E>,
    S: DeclaredModel,
{
    fn meta(&self) -> &'static ModelMeta {
        &S::META
    }

    fn try_forward_batch<T: Tape<E, D>>(
        &self,
        batch: &Batch,
        opts: &ForwardOptions,
        tape: T,
    ) -> Result<BatchOutput<E, D, T>, AttnError> {
        let (ids, opts) = token_batch::<LEN, E, D, T>(
            batch,
            opts,
            self.embedding.weight.device(),
            &S::META,
            tape,
        )?;
        let out = self.try_forward_with(ids, &opts)?;
        Ok(BatchOutput {
            logits: as_rows(out.logits, C)?,
            attention: out.attention,
        })
    }
}

impl<
        const SV: usize,
        const TV: usize,
        const SL: usize,
        const TL: usize,
        const KD: usize,
        const M: usize,
        const H: usize,
        FfnE,
        FfnD,
        const NE: usize,
        const ND: usize,
        const PRE: bool,
        SrcPos,
        TgtPos,
        Out,
        S,
        E,
        D,
    > BatchModel<E, D>
    for TransformerSeq2Seq<
        SV,
        TV,
        SL,
        TL,
        KD,
        M,
        H,
        FfnE,
        FfnD,
        NE,
        ND,
        PRE,
        SrcPos,
        TgtPos,
        Out,
        S,
        E,
        D,
    >
where
    E: Dtype,
    D: Device<E>,
    FfnE: FeedForwardNet<KD, E, D>,
    FfnD: FeedForwardNet<M, E, D>,
    SrcPos: PositionalEncoding<KD, E, D>,
    TgtPos: PositionalEncoding<M, E, D>,
    Out: OutputProjection<M, TV, E, D>,
    S: DeclaredModel,
{
    fn meta(&self) -> &'static ModelMeta {
        &S::META
    }

    /// Targets are the `[B, TL]` target tokens: teacher forcing in training, loss rows always.
    fn try_forward_batch<T: Tape<E, D>>(
        &self,
        batch: &Batch,
        opts: &ForwardOptions,
        tape: T,
    ) -> Result<BatchOutput<E, D, T>, AttnError> {
        let (src, opts) = token_batch::<SL, E, D, T>(
            batch,
            opts,
            self.src_embedding.weight.device(),
            &S::META,
            tape,
        )?;
        let out = self.try_forward_with(src, Some(&batch.targets), &opts)?;
        Ok(BatchOutput {
            logits: as_rows(out.logits, TV)?,
            attention: out.attention,
        })
    }
}
