//! The "RNN + attention" text classifier: a recurrent encoder whose outputs are pooled by
//! attention (Yang et al. 2016) instead of taking the last state.

use std::marker::PhantomData;

use dfdx::nn::modules::Embedding;
use dfdx::prelude::*;

use super::{
    impl_attn_model, token_input, Batch, BatchInput, DeclaredModel, ForwardOptions, LayerAttention,
    ModelMeta, ModelOutput,
};
use crate::attention::{try_attend, AttentionMask, AttentionOptions, Projection};
use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::embedding::try_embed;
use crate::rnn::{RecurrentCell, RnnStack};
use crate::tape_holder::TapeHolder;
use crate::TensorCollection;

/// Attention pooling: `score_j = uᵀ tanh(W h_j + b)`, masked softmax over positions, weighted sum.
///
/// # Shapes
/// states `[B, S, O]` → pooled `[B, O]`, weights `[B, 1, 1, S]`.
///
/// **PyTorch equivalent**: `softmax(u(torch.tanh(W(h))).squeeze(-1)) @ h` with `W = nn.Linear(O, O)`,
/// `u = nn.Linear(O, 1, bias=False)`.
#[derive(Clone, Debug, TensorCollection)]
pub struct AttentionPool<const O: usize, E: Dtype, D: Storage<E>> {
    /// `W`, `b`.
    pub proj: Projection<O, O, E, D, true>,
    /// `u`, the learned context vector.
    pub context: Projection<O, 1, E, D, false>,
}

impl<const O: usize, E: Dtype, D: Device<E>> AttentionPool<O, E, D> {
    /// Pools `states` (see the type's docs); the mask is `[B, 1, S]`.
    pub fn try_pool<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        states: Tensor<(B, S, Const<O>), E, D, T>,
        opts: &AttentionOptions,
    ) -> Result<
        (
            Tensor<(B, Const<O>), E, D, T>,
            Option<Tensor<(B, Const<1>, Const<1>, S), E, D>>,
        ),
        AttnError,
    > {
        let (b, s, _) = *states.shape();
        let (mut tape, states) = TapeHolder::split(states);
        let scores = tape.run(&states, |h| {
            let flat = h
                .try_reshape_like(&(b.size() * s.size(), Const::<O>))
                .dev()?;
            let energy = self.proj.try_forward_2d(flat)?.try_tanh().dev()?;
            self.context
                .try_forward_2d(energy)?
                .try_reshape_like(&(b, Const::<1>, Const::<1>, s))
                .dev()
        })?;
        let values = states
            .try_reshape_like(&(b, Const::<1>, s, Const::<O>))
            .dev()?;
        let out = try_attend(tape.finish(scores), values, opts)?;
        let pooled = out.context.try_reshape_like(&(b, Const::<O>)).dev()?;
        Ok((pooled, out.weights))
    }
}

/// Classifies token sequences (`LEN` tokens of `V`) with a recurrent encoder (`NL` layers of
/// `Cell`, hidden `H`, output `O = H·dirs`), attention pooling and a linear head to `C` classes.
///
/// # Shapes
/// ids `[B, LEN]` → logits `[B, C]`; attention `[B, 1, 1, LEN]` (`pool.attention`).
#[derive(Clone, Debug, TensorCollection)]
#[collection(marker(Cell))]
pub struct RnnClassifier<
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
    E: Dtype,
    D: Storage<E>,
> {
    /// Token embeddings.
    pub embedding: Embedding<V, M, E, D>,
    /// The recurrent encoder.
    pub encoder: RnnStack<Cell, G, M, H, O, NL, BIDIR, E, D>,
    /// Attention pooling over the encoder outputs.
    pub pool: AttentionPool<O, E, D>,
    /// Pooled encoding → class logits.
    pub head: Projection<O, C, E, D, true>,
    spec: PhantomData<S>,
}

impl_attn_model! {
    impl[
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
        D
    ]
    for RnnClassifier<Cell, G, V, LEN, M, H, O, NL, BIDIR, C, S, E, D>
    where [
        Cell: RecurrentCell,
        E: Dtype,
        D: Device<E>,
        S: DeclaredModel,
        Self: TensorCollection<E, D>,
    ]
    input Tensor<(B, Const<LEN>), usize, D, T>
    {
        type Logits<B: Dim> = (B, Const<C>);

        fn meta(&self) -> &'static ModelMeta {
            &S::META
        }

        /// Classifies a batch of right-padded token sequences.
        ///
        /// # Errors
        /// [`AttnError::InvalidInput`] for ids outside the vocabulary or lengths that do not fit.
        fn try_forward_with<B: Dim, T: Tape<E, D> + 'static>(
            &self,
            ids: Tensor<(B, Const<LEN>), usize, D, T>,
            opts: &ForwardOptions,
        ) -> Result<ModelOutput<(B, Const<C>), E, D, T>, AttnError> {
            let batch = ids.shape().0.size();
            // the lookup checks the ids, before the lengths as ever
            let x = try_embed(&self.embedding, ids)?;
            let lengths = opts.checked_lengths(batch, LEN)?;
            let enc = self.encoder.try_forward(x, lengths.as_deref())?;
            let mask = AttentionMask::none().key_lengths(lengths.unwrap_or_else(|| vec![LEN; batch]));
            let attn = AttentionOptions {
                need_weights: opts.need_weights,
                ..AttentionOptions::default().mask(mask)
            };
            let (pooled, weights) = self.pool.try_pool(enc.output, &attn)?;
            let logits = self.head.try_forward_2d(pooled)?;
            let attention = match weights {
                Some(w) => vec![LayerAttention::capture("pool.attention".into(), w)?],
                None => Vec::new(),
            };
            Ok(ModelOutput::new(logits, attention))
        }

        fn try_input<T: Tape<E, D> + 'static>(
            &self,
            batch: &Batch,
            tape: T,
        ) -> Result<BatchInput<Self::Input<usize, T>>, AttnError> {
            token_input::<LEN, E, D, T>(batch, self.embedding.weight.device(), &S::META, tape)
        }
    }
}
