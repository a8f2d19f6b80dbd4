//! The transformer encoder-decoder for sequence-to-sequence tasks.

use std::marker::PhantomData;

use dfdx::nn::modules::Embedding;
use dfdx::prelude::*;

use super::cached_rows::CachedRows;
use super::decoding_session::DecodingSession;
use super::rnn_seq2seq::argmax_rows;
use super::source_stepper::source_batch;
use super::token_encoding::check_token_ids;
use super::{
    impl_attn_model, DeclaredModel, ForwardOptions, LayerAttention, ModelOutput,
    PositionalEncoding, SourceStepper,
};
use crate::attention::{AttentionMask, AttentionOptions};
use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::embedding::try_embed;
use crate::loss::IGNORE;
use crate::tape_holder::TapeHolder;
use crate::tokens::{BOS, PAD};
use crate::transformer::{
    FeedForwardNet, OutputProjection, TransformerDecoder, TransformerEncoder,
};
use crate::TensorCollection;

/// Translates source sequences (`SL` tokens of `SV`) into targets (`TL` tokens of `TV`).
///
/// The encoder (width `KD`, `NE` blocks) embeds and encodes the source; the decoder (width `M`,
/// `ND` blocks) embeds `[BOS, target…]`, attends causally to itself and across to the encoder
/// output (key-padding masked from the source lengths), and `Out` maps its states to logits
/// (possibly tied to the target embedding). Training is teacher-forced in one parallel pass;
/// evaluation decodes greedily, one token at a time with a key/value cache. Both stacks share
/// the block structure (`H` heads, norm placement `PRE`) and the feed-forward kinds `FfnE`/`FfnD`.
///
/// # Shapes
/// source ids `[B, SL]` → logits `[B, TL, TV]`; attention per encoder block `[B, H, SL, SL]`, per
/// decoder block `[B, H, TL, TL]` (self) and `[B, H, TL, SL]` (cross).
///
/// **PyTorch equivalent**: `nn.Transformer` with embeddings, positions and an output layer.
#[derive(Clone, Debug, TensorCollection)]
pub struct TransformerSeq2Seq<
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
    E: Dtype,
    D: Storage<E>,
> {
    /// Source embeddings (width `KD`).
    pub src_embedding: Embedding<SV, KD, E, D>,
    /// Source positions.
    pub src_positional: SrcPos,
    /// The encoder stack.
    pub encoder: TransformerEncoder<KD, H, FfnE, NE, PRE, E, D>,
    /// Target embeddings (width `M`).
    pub tgt_embedding: Embedding<TV, M, E, D>,
    /// Target positions.
    pub tgt_positional: TgtPos,
    /// The decoder stack.
    pub decoder: TransformerDecoder<M, H, KD, FfnD, ND, PRE, E, D>,
    /// Decoder states → target logits.
    pub out: Out,
    spec: PhantomData<S>,
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
    >
    TransformerSeq2Seq<
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
    /// Encodes `src` and decodes `TL` positions: teacher-forced from `targets` (`[B, TL]`, PAD or
    /// [`IGNORE`] for padding) in one parallel pass when `opts` says so (training), greedily with
    /// the key/value cache otherwise. Greedy decoding is not differentiable.
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
        let batch = src.shape().0.size();
        check_token_ids(&src.as_vec(), SV)?;
        let lengths = opts
            .checked_lengths(batch, SL)?
            .unwrap_or_else(|| vec![SL; batch]);
        if let Some(t) = targets {
            if t.len() != batch * TL || t.iter().any(|&x| x != IGNORE && x >= TV) {
                return Err(AttnError::InvalidInput {
                    reason: format!("targets must be {} tokens below {TV} (or IGNORE)", batch * TL),
                    fix: "pad or truncate targets to the declared tgt_len and map them to the target vocabulary".into(),
                });
            }
        }
        let (enc_opts, self_opts, cross_opts) = self.options(opts, &lengths);
        let mut attention = Vec::new();
        let memory = self.try_encode(src, &enc_opts, &mut attention)?;
        let teacher_forced = targets.is_some() && opts.effective_teacher_forcing() > 0.0;
        let (mut tape, memory) = TapeHolder::split(memory);
        let dev = memory.device().clone();

        let inputs = match (teacher_forced, targets) {
            (true, Some(targets)) => shifted_inputs(targets, batch),
            _ => self.try_greedy_inputs(&memory, &self_opts, &cross_opts, batch)?,
        };
        let tgt = dev
            .try_tensor_from_vec(inputs, (batch, Const::<TL>))
            .dev()?;
        let logits = tape.run(&tgt, |tgt| {
            let x = try_embed(&self.tgt_embedding, tgt)?;
            let x = self.tgt_positional.try_add_positions(x)?;
            let x = self
                .decoder
                .try_decode(x, &memory, &self_opts, &cross_opts, &mut attention)?;
            self.out.try_logits(x, &self.tgt_embedding.weight)
        })?;
        let tokens = argmax_rows(&logits.as_vec(), TV);
        let b = tape.run(&logits, |l| {
            l.try_reshape_like(&(batch, Const::<TL>, Const::<TV>)).dev()
        })?;
        let logits = tape.run(&b, |l| {
            let shape = (src_dim::<B>(batch)?, Const::<TL>, Const::<TV>);
            l.try_reshape_like(&shape).dev()
        })?;
        if !opts.need_weights {
            attention.clear();
        }
        Ok(ModelOutput {
            logits: tape.finish(logits),
            tokens,
            attention,
        })
    }

    fn try_encode<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        src: Tensor<(B, Const<SL>), usize, D, T>,
        opts: &AttentionOptions,
        attention: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<(usize, usize, Const<KD>), E, D, T>, AttnError> {
        let batch = src.shape().0.size();
        let x = try_embed(&self.src_embedding, src)?;
        let x = self.src_positional.try_add_positions(x)?;
        let memory = self.encoder.try_encode(x, opts, "encoder", attention)?;
        memory.try_reshape_like(&(batch, SL, Const::<KD>)).dev()
    }

    /// Encoder self-attention, decoder self-attention (causal) and cross-attention settings.
    fn options(
        &self,
        opts: &ForwardOptions,
        lengths: &[usize],
    ) -> (AttentionOptions, AttentionOptions, AttentionOptions) {
        let base = AttentionOptions {
            mask: AttentionMask::none(),
            ..S::META.forward_attention_options(None, opts)
        };
        let enc = AttentionOptions {
            mask: AttentionMask::none().key_lengths(lengths.to_vec()),
            ..base.clone()
        };
        let dec = AttentionOptions {
            mask: AttentionMask::none().causal(),
            ..base.clone()
        };
        let cross = AttentionOptions {
            mask: AttentionMask::none().key_lengths(lengths.to_vec()),
            rotary: None,
            ..base
        };
        (enc, dec, cross)
    }

    /// Greedy decoding with the key/value cache; returns the decoder inputs `[BOS, y₀, …]` it fed.
    fn try_greedy_inputs(
        &self,
        memory: &Tensor<(usize, usize, Const<KD>), E, D>,
        self_opts: &AttentionOptions,
        cross_opts: &AttentionOptions,
        batch: usize,
    ) -> Result<Vec<usize>, AttnError> {
        let dev = memory.device().clone();
        let self_opts = AttentionOptions {
            need_weights: false,
            training: false,
            ..self_opts.clone()
        };
        let cross_opts = AttentionOptions {
            need_weights: false,
            training: false,
            ..cross_opts.clone()
        };
        let mut caches = self.decoder.try_new_caches(memory)?;
        let mut inputs = vec![PAD; batch * TL];
        let mut prev = vec![BOS; batch];
        for t in 0..TL {
            for (b, &tok) in prev.iter().enumerate() {
                inputs[b * TL + t] = tok;
            }
            let logits =
                self.try_step_logits(&dev, &prev, t, &mut caches, &self_opts, &cross_opts)?;
            prev = argmax_rows(&logits.as_vec(), TV);
        }
        Ok(inputs)
    }

    /// One incremental decoder step: logits `[B, 1, TV]` for position `t` given its input tokens.
    pub fn try_step_logits(
        &self,
        dev: &D,
        tokens: &[usize],
        t: usize,
        caches: &mut [crate::transformer::BlockCache<H, E, D>],
        self_opts: &AttentionOptions,
        cross_opts: &AttentionOptions,
    ) -> Result<Tensor<(usize, usize, Const<TV>), E, D>, AttnError> {
        let batch = tokens.len();
        let ids = dev
            .try_tensor_from_vec(tokens.to_vec(), (batch, 1usize))
            .dev()?;
        let x = try_embed(&self.tgt_embedding, ids)?;
        // every positional encoding (learned or fixed) sees the position it would in the full
        // pass
        let x = self.tgt_positional.try_add_positions_at(x, t)?;
        let x = self.decoder.try_step(x, caches, self_opts, cross_opts)?;
        self.out.try_logits(x, &self.tgt_embedding.weight)
    }

    /// Encodes `src` once and returns what incremental decoding needs: the memory and one cache
    /// per decoder block (evaluation mode).
    pub fn try_start_decoding(
        &self,
        src: Tensor<(usize, Const<SL>), usize, D>,
        lengths: &[usize],
    ) -> Result<
        (
            Vec<crate::transformer::BlockCache<H, E, D>>,
            AttentionOptions,
            AttentionOptions,
        ),
        AttnError,
    > {
        let opts = ForwardOptions::eval().lengths(lengths.to_vec());
        let lengths = opts.checked_lengths(src.shape().0, SL)?.unwrap_or_default();
        let (enc, dec, cross) = self.options(&opts, &lengths);
        let memory = self.try_encode(src, &enc, &mut Vec::new())?;
        Ok((self.decoder.try_new_caches(&memory)?, dec, cross))
    }

    /// [`AttnModel::source_stepper`](super::AttnModel::source_stepper) for this model: the
    /// sources encoded once, the decoder stepped with one key/value cache per block, the caches
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
        let (caches, self_opts, cross_opts) = self.try_start_decoding(src, &lengths)?;
        let step = move |tokens: &[usize], t: usize, rows: &mut CachedRows<H, E, D>| {
            let CachedRows {
                caches,
                self_opts,
                cross_opts,
                ..
            } = rows;
            let logits = self.try_step_logits(&dev, tokens, t, caches, self_opts, cross_opts)?;
            Ok(logits.as_vec())
        };
        let state = CachedRows {
            caches,
            lengths,
            self_opts,
            cross_opts,
        };
        Ok(Box::new(DecodingSession::new(
            step,
            state,
            sources.len(),
            TL,
            TV,
        )))
    }
}

impl_attn_model! {
    seq2seq impl[
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
        D
    ]
    for TransformerSeq2Seq<SV, TV, SL, TL, KD, M, H, FfnE, FfnD, NE, ND, PRE, SrcPos, TgtPos, Out, S, E, D>
    where [
        E: Dtype,
        D: Device<E>,
        FfnE: FeedForwardNet<KD, E, D>,
        FfnD: FeedForwardNet<M, E, D>,
        SrcPos: PositionalEncoding<KD, E, D>,
        TgtPos: PositionalEncoding<M, E, D>,
        Out: OutputProjection<M, TV, E, D>,
        S: DeclaredModel,
        Self: TensorCollection<E, D>,
    ]
}

/// `[BOS, t₀, …, t_{TL−2}]` per sequence, padding (IGNORE) fed as PAD.
fn shifted_inputs(targets: &[usize], batch: usize) -> Vec<usize> {
    let tl = targets.len() / batch.max(1);
    let mut inputs = vec![PAD; targets.len()];
    for b in 0..batch {
        inputs[b * tl] = BOS;
        for t in 1..tl {
            inputs[b * tl + t] = match targets[b * tl + t - 1] {
                IGNORE => PAD,
                tok => tok,
            };
        }
    }
    inputs
}

/// The batch dim `B` of size `batch` (a `Const` must match, a `usize` takes it).
fn src_dim<B: Dim>(batch: usize) -> Result<B, AttnError> {
    B::from_size(batch).ok_or_else(|| AttnError::device("batch dim mismatch"))
}
