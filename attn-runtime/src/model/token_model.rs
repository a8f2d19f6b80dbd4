//! A token model: embedding, positions, an attention encoder and a task head.

use std::marker::PhantomData;

use dfdx::nn::modules::Embedding;
use dfdx::prelude::*;

use super::token_encoding::try_encode_tokens;
use super::{
    impl_attn_model, token_input, Batch, BatchInput, DeclaredModel, ForwardOptions, ModelMeta,
    ModelOutput, PositionalEncoding, SequenceEncoder, TaskHead,
};
use crate::error::AttnError;
use crate::TensorCollection;

/// A model over token sequences of length `L` from a vocabulary of `V`, of width `M`: embedding,
/// positional encoding `Pos`, encoder `Enc`, and task head `Head` (a classifier or a tagger).
/// Declared models name this type; `S` is the declaration, whose metadata sets masks, scoring and
/// dropout.
///
/// Parameters: `embedding.weight [V, M]`, `positional.*`, `encoder.*`, `head.*`.
///
/// # Shapes
/// token ids `[B, L]` (`usize`) → logits `[B, C]` (classifier) or `[B, L, G]` (tagger).
#[derive(Clone, Debug, TensorCollection)]
pub struct TokenModel<
    const V: usize,
    const L: usize,
    const M: usize,
    Enc,
    Pos,
    Head,
    S,
    E: Dtype,
    D: Storage<E>,
> {
    /// Token embedding table.
    pub embedding: Embedding<V, M, E, D>,
    /// Positional encoding.
    pub positional: Pos,
    /// The attention encoder.
    pub encoder: Enc,
    /// The task head.
    pub head: Head,
    spec: PhantomData<S>,
}

impl_attn_model! {
    impl[
        const V: usize,
        const L: usize,
        const M: usize,
        Enc,
        Pos,
        Head,
        S,
        E,
        D
    ]
    for TokenModel<V, L, M, Enc, Pos, Head, S, E, D>
    where [
        E: Dtype,
        D: Device<E>,
        Enc: SequenceEncoder<M, E, D>,
        Pos: PositionalEncoding<M, E, D>,
        Head: TaskHead<L, M, E, D>,
        S: DeclaredModel,
        Self: TensorCollection<E, D>,
    ]
    input Tensor<(B, Const<L>), usize, D, T>
    {
        type Logits<B: Dim> = Head::Logits<B>;

        fn meta(&self) -> &'static ModelMeta {
            &S::META
        }

        /// Runs the model on a batch of token id sequences.
        ///
        /// # Shapes
        /// ids `[B, L]` → logits (see the type's docs); attention `[B, H, L, L]` per layer when
        /// `opts.need_weights`.
        ///
        /// # Errors
        /// [`AttnError::InvalidInput`] for ids outside the vocabulary or lengths that do not fit.
        fn try_forward_with<B: Dim, T: Tape<E, D> + 'static>(
            &self,
            ids: Tensor<(B, Const<L>), usize, D, T>,
            opts: &ForwardOptions,
        ) -> Result<ModelOutput<Head::Logits<B>, E, D, T>, AttnError> {
            let (x, lengths, attention) = try_encode_tokens(
                &self.embedding,
                &self.positional,
                &self.encoder,
                ids,
                opts,
                &S::META,
                "encoder",
            )?;
            let logits = self.head.try_head(x, lengths.as_deref())?;
            Ok(ModelOutput::new(logits, attention))
        }

        fn try_input<T: Tape<E, D> + 'static>(
            &self,
            batch: &Batch,
            tape: T,
        ) -> Result<BatchInput<Self::Input<usize, T>>, AttnError> {
            token_input::<L, E, D, T>(batch, self.embedding.weight.device(), &S::META, tape)
        }
    }
}
