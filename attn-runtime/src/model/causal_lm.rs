//! A decoder-only (GPT-style) language model: token embeddings, positions, causal
//! self-attention blocks and an output over the vocabulary, tied to the embeddings or not.

use std::marker::PhantomData;

use dfdx::nn::modules::Embedding;
use dfdx::prelude::*;

use super::token_encoding::{check_token_ids, try_encode_tokens};
use super::{
    impl_attn_model, token_input, Batch, BatchInput, DeclaredModel, ForwardOptions, ModelMeta,
    ModelOutput, PositionalEncoding, SequenceEncoder, TokenStepper,
};
use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::embedding::try_embed;
use crate::transformer::{CachedDecoder, OutputProjection};
use crate::TensorCollection;

/// A language model over windows of `C` tokens from a vocabulary of `V`, of width `M`: token
/// embedding, positional encoding `Pos`, a causal stack `Dec` (pre-norm transformer blocks and a
/// final norm), and the output `Out` ([`TiedOutput`](crate::transformer::TiedOutput) reuses the
/// embedding, [`UntiedOutput`](crate::transformer::UntiedOutput) has its own weight). `S` is the
/// declaration, whose metadata makes the attention causal (and sets a local window, rotary
/// positions and dropout).
///
/// Parameters: `embedding.weight [V, M]`, `positional.*`, `decoder.*`, `output.*`.
///
/// # Shapes
/// token ids `[B, C]` (`usize`) → logits `[B, C, V]`: row `t` scores the token after position
/// `t`.
///
/// **PyTorch equivalent**: nanoGPT's `GPT` (`wte`, `wpe`, `h`, `ln_f`, `lm_head` tied to `wte`),
/// or `nn.TransformerEncoder(norm_first=True)` run with `is_causal=True` between an
/// `nn.Embedding` and an `nn.Linear`.
#[derive(Clone, Debug, TensorCollection)]
pub struct CausalLm<
    const V: usize,
    const C: usize,
    const M: usize,
    Dec,
    Pos,
    Out,
    S,
    E: Dtype,
    D: Storage<E>,
> {
    /// Token embedding table (the output's weight when tied).
    pub embedding: Embedding<V, M, E, D>,
    /// Positional encoding.
    pub positional: Pos,
    /// The causal blocks and their final norm.
    pub decoder: Dec,
    /// The projection to the vocabulary.
    pub output: Out,
    spec: PhantomData<S>,
}

impl_attn_model! {
    impl[
        const V: usize,
        const C: usize,
        const M: usize,
        Dec,
        Pos,
        Out,
        S,
        E,
        D
    ]
    for CausalLm<V, C, M, Dec, Pos, Out, S, E, D>
    where [
        E: Dtype,
        D: Device<E>,
        Dec: SequenceEncoder<M, E, D> + CachedDecoder<M, E, D>,
        Pos: PositionalEncoding<M, E, D>,
        Out: OutputProjection<M, V, E, D>,
        S: DeclaredModel,
        Self: TensorCollection<E, D>,
    ]
    input Tensor<(B, Const<C>), usize, D, T>
    {
        type Logits<B: Dim> = (B, Const<C>, Const<V>);

        fn meta(&self) -> &'static ModelMeta {
            &S::META
        }

        /// Scores the next token at every position of a batch of windows.
        ///
        /// # Shapes
        /// ids `[B, C]` → logits `[B, C, V]`; attention `[B, H, C, C]` per block when
        /// `opts.need_weights` (zero above the diagonal).
        ///
        /// # Errors
        /// [`AttnError::InvalidInput`] for ids outside the vocabulary or lengths that do not fit.
        fn try_forward_with<B: Dim, T: Tape<E, D> + 'static>(
            &self,
            ids: Tensor<(B, Const<C>), usize, D, T>,
            opts: &ForwardOptions,
        ) -> Result<ModelOutput<(B, Const<C>, Const<V>), E, D, T>, AttnError> {
            let (x, _, attention) = try_encode_tokens(
                &self.embedding,
                &self.positional,
                &self.decoder,
                ids,
                opts,
                &S::META,
                "decoder",
            )?;
            let logits = self.output.try_logits(x, &self.embedding.weight)?;
            Ok(ModelOutput::new(logits, attention))
        }

        fn try_input<T: Tape<E, D> + 'static>(
            &self,
            batch: &Batch,
            tape: T,
        ) -> Result<BatchInput<Self::Input<usize, T>>, AttnError> {
            token_input::<C, E, D, T>(batch, self.embedding.weight.device(), &S::META, tape)
        }

        fn generator(&self) -> Option<Box<dyn TokenStepper<E> + '_>> {
            Some(Box::new(Session {
                model: self,
                cache: self.decoder.new_cache(),
                positions: None,
            }))
        }
    }
}

/// Incremental decoding of one sequence with the key/value cache: each fed token costs one row
/// of attention per block over the positions so far.
struct Session<'a, Model, Cache, E: Dtype, D: Storage<E>> {
    model: &'a Model,
    cache: Cache,
    /// The positional encoding of all `C` positions, `[1, C, M]`, computed on first use.
    positions: Option<Tensor<(usize, usize, usize), E, D>>,
}

impl<const V: usize, const C: usize, const M: usize, Dec, Pos, Out, S, E, D> TokenStepper<E>
    for Session<'_, CausalLm<V, C, M, Dec, Pos, Out, S, E, D>, Dec::Cache, E, D>
where
    E: Dtype,
    D: Device<E>,
    Dec: CachedDecoder<M, E, D>,
    Pos: PositionalEncoding<M, E, D>,
    Out: OutputProjection<M, V, E, D>,
    S: DeclaredModel,
{
    fn context(&self) -> usize {
        C
    }

    fn len(&self) -> usize {
        Dec::cached(&self.cache)
    }

    fn reset(&mut self) {
        self.cache = self.model.decoder.new_cache();
    }

    fn try_feed(&mut self, ids: &[usize]) -> Result<Vec<E>, AttnError> {
        let offset = self.len();
        let n = ids.len();
        if n == 0 || offset + n > C {
            return Err(AttnError::InvalidInput {
                reason: format!(
                    "{n} new token(s) after {offset} do not fit the context of {C} positions"
                ),
                fix: "feed at least one token, and reset (or re-feed the last tokens) when the \
                      context is full"
                    .into(),
            });
        }
        check_token_ids(ids, V)?;
        let model = self.model;
        let dev = model.embedding.weight.device().clone();
        let positions = match self.positions.take() {
            Some(p) => p,
            None => {
                let zeros: Tensor<(usize, usize, Const<M>), E, D> =
                    dev.try_zeros_like(&(1usize, C, Const::<M>)).dev()?;
                let table = model.positional.try_add_positions(zeros)?;
                table.try_reshape_like(&(1usize, C, M)).dev()?
            }
        };
        let rows = positions
            .clone()
            .try_slice((.., offset..offset + n, ..))
            .dev()?
            .try_reshape_like(&(1usize, n, Const::<M>))
            .dev()?;
        self.positions = Some(positions);
        let ids = dev.try_tensor_from_vec(ids.to_vec(), (1usize, n)).dev()?;
        let x = try_embed(&model.embedding, ids)?.try_add(rows).dev()?;
        let opts = S::META.forward_attention_options(None, &ForwardOptions::eval());
        let x = model.decoder.try_step(x, &mut self.cache, &opts)?;
        let last = x
            .try_slice((.., n - 1..n, ..))
            .dev()?
            .try_reshape_like(&(1usize, 1usize, Const::<M>))
            .dev()?;
        let logits = model.output.try_logits(last, &model.embedding.weight)?;
        Ok(logits.as_vec())
    }
}
