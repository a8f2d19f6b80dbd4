//! The one contract every model implements — declared by `attention_model!`, built by hand from
//! the layers, or a new architecture — and what is written once on top of it: dfdx's `Module`
//! (evaluation) and `ModuleMut` (training), running on a shape-free [`Batch`](crate::zoo::Batch),
//! training, checkpoints, evaluation, prediction, reports and sweeps.

use dfdx::prelude::*;

use super::{
    Batch, ForwardOptions, LayerAttention, ModelMeta, ModelOutput, SourceStepper, TokenStepper,
};
use crate::error::{AttnError, DeviceResultExt};

/// Whether a forward pass trains (dropout on, sequence-to-sequence decoders teacher-forced) or
/// evaluates (no dropout, greedy decoding).
///
/// **PyTorch equivalent**: `model.train()` / `model.eval()`, as a value of each call rather than
/// a state of the model (candle's `forward_t(x, train)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Evaluation: no dropout, greedy decoding.
    #[default]
    Eval,
    /// Training: dropout on, teacher forcing.
    Train,
}

/// A typed input together with the padding lengths of its sequences, as made from a [`Batch`].
#[derive(Debug)]
pub struct BatchInput<I> {
    /// The typed input.
    pub input: I,
    /// Unpadded sequence lengths, for token inputs.
    pub lengths: Option<Vec<usize>>,
}

/// A model: typed inputs, one forward pass with the mode and options as values, logits with
/// every attention layer's weights (and decoded tokens for sequence-to-sequence models),
/// metadata, and — through [`TensorCollection`] — named parameters, loading and saving.
///
/// Implement it (with dfdx's `TensorCollection` and `BuildOnDevice`) and a model gets every tool:
/// [`Entry`](crate::zoo::Entry) puts it in a [`Registry`](crate::registry::Registry), and the
/// `train`, `eval`, `predict`, `attend` and `sweep` commands run it. Declared models implement it
/// through the types `attention_model!` expands into.
///
/// # Shapes
/// `Input<B, T>` is the model's typed input for a batch of `B`: token ids `[B, L]`, images
/// `[B, C, H, W]`, or a [`Seq2SeqInput`] (`src [B, SL]`, targets `[B, TL]`); the logits are
/// `Logits<B>`: `[B, C]` (classifiers), `[B, L, G]` (taggers), `[B, TL, V]` (sequence to
/// sequence).
///
/// **PyTorch equivalent**: an `nn.Module` whose `forward(input, ...)` returns logits and
/// attention maps; burn's `Module` + `TrainStep`.
pub trait AttnModel<E: Dtype, D: Device<E>>: TensorCollection<E, D> {
    /// The typed input of a batch of `B` examples whose values carry the tape `T`.
    type Input<B: Dim, T: Tape<E, D> + 'static>;
    /// The shape of the logits for a batch of `B` examples; the classes are the last axis.
    type Logits<B: Dim>: Shape;

    /// What the model is, as data (name, task and sizes, options).
    fn meta(&self) -> &'static ModelMeta;

    /// The forward pass: logits, and every attention layer's weights when
    /// `opts.need_weights`, in the mode `opts.mode`.
    ///
    /// # Errors
    /// Inputs the types could not rule out (token ids outside the vocabulary, lengths that do
    /// not fit), and device errors.
    fn try_forward_with<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        input: Self::Input<B, T>,
        opts: &ForwardOptions,
    ) -> Result<ModelOutput<Self::Logits<B>, E, D, T>, AttnError>;

    /// The typed input of a shape-free batch (checked against the declared sizes), carrying
    /// `tape`; the zoo, the trainer and the predictor go through this.
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] when the batch does not fit the model (images for a token
    /// model, sequences of another length, a target count that does not fit).
    fn try_input<T: Tape<E, D> + 'static>(
        &self,
        batch: &Batch,
        tape: T,
    ) -> Result<BatchInput<Self::Input<usize, T>>, AttnError>;

    /// Runs the model on a shape-free batch, recording onto `tape`: the typed input from
    /// [`try_input`](Self::try_input), the forward pass with the batch's lengths, the logits as
    /// rows.
    ///
    /// # Errors
    /// As [`try_input`](Self::try_input) and [`try_forward_with`](Self::try_forward_with).
    fn try_forward_batch<T: Tape<E, D> + 'static>(
        &self,
        batch: &Batch,
        opts: &ForwardOptions,
        tape: T,
    ) -> Result<BatchOutput<E, D, T>, AttnError> {
        let BatchInput { input, lengths } = self.try_input(batch, tape)?;
        let opts = ForwardOptions {
            lengths,
            ..opts.clone()
        };
        let out = self.try_forward_with(input, &opts)?;
        Ok(BatchOutput {
            logits: try_rows(out.logits)?,
            attention: out.attention,
        })
    }

    /// A session that feeds tokens one step at a time with a key/value cache, for models that
    /// generate text (decoder-only language models); `None` for the others.
    fn generator(&self) -> Option<Box<dyn TokenStepper<E> + '_>> {
        None
    }

    /// A session that decodes `sources` (each unpadded, at most the declared source length)
    /// one step at a time with a cache, its rows re-chosen at every step, for
    /// sequence-to-sequence models that decode incrementally; `None` for the others (beam search
    /// then re-runs the teacher-forced pass over each prefix).
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] for sources that do not fit (ids outside the vocabulary,
    /// longer than the declared length, none at all); device errors.
    fn source_stepper(
        &self,
        sources: &[&[usize]],
    ) -> Result<Option<Box<dyn SourceStepper<E> + '_>>, AttnError> {
        let _ = sources;
        Ok(None)
    }

    /// The logits alone, in `mode`, without padding or weights.
    ///
    /// # Errors
    /// As [`try_forward_with`](Self::try_forward_with).
    fn try_forward_t<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        input: Self::Input<B, T>,
        mode: Mode,
    ) -> Result<Tensor<Self::Logits<B>, E, D, T>, AttnError> {
        Ok(self
            .try_forward_with(input, &ForwardOptions::new(mode))?
            .logits)
    }
}

/// What a forward pass on a [`Batch`] returns: the logits as rows (`[N, labels]`: one row per
/// sequence or image for classifiers, per position for taggers and sequence-to-sequence models,
/// in the order of the batch's targets) and the captured attention.
pub struct BatchOutput<E: Dtype, D: Storage<E>, T> {
    /// `[N, labels]`.
    pub logits: Tensor<(usize, usize), E, D, T>,
    /// Every attention layer's weights, when requested.
    pub attention: Vec<LayerAttention<E, D>>,
}

/// Logits of any shape as `[rows, classes]`, the classes being the last axis.
fn try_rows<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    logits: Tensor<S, E, D, T>,
) -> Result<Tensor<(usize, usize), E, D, T>, AttnError> {
    let dims = logits.shape().concrete();
    let classes = dims.as_ref().last().copied().unwrap_or(1);
    let rows = logits.shape().num_elements() / classes.max(1);
    logits.try_reshape_like(&(rows, classes)).dev()
}

/// The input of a sequence-to-sequence model: source ids `[B, SL]` and, for teacher forcing and
/// the loss, target ids `[B, TL]` (PAD or [`IGNORE`](crate::loss::IGNORE) after the end).
/// Without targets the decoder runs greedily, whatever the mode.
#[derive(Debug)]
pub struct Seq2SeqInput<B: Dim, const SL: usize, const TL: usize, D: Storage<usize>, T> {
    /// `[B, SL]` source token ids.
    pub src: Tensor<(B, Const<SL>), usize, D, T>,
    /// `[B, TL]` target token ids.
    pub targets: Option<Tensor<(B, Const<TL>), usize, D>>,
}

impl<B: Dim, const SL: usize, const TL: usize, D: Storage<usize>, T> Seq2SeqInput<B, SL, TL, D, T> {
    /// Source ids and target ids: what training and the teacher-forced loss take.
    pub fn new(
        src: Tensor<(B, Const<SL>), usize, D, T>,
        targets: Tensor<(B, Const<TL>), usize, D>,
    ) -> Self {
        Seq2SeqInput {
            src,
            targets: Some(targets),
        }
    }

    /// Source ids alone: the decoder runs greedily.
    pub fn source(src: Tensor<(B, Const<SL>), usize, D, T>) -> Self {
        Seq2SeqInput { src, targets: None }
    }
}

/// Implements [`AttnModel`] for a model type with the given input, and dfdx's `Module`
/// (evaluation mode) and `ModuleMut` (training mode) on top of it, so `model.forward(x)` and
/// `model.forward_mut(x)` work on every kind and compose with dfdx's modules. The generics and
/// bounds are written once for all three impls. (A blanket impl of dfdx's traits over every
/// `AttnModel` is ruled out by the orphan rules: both traits are dfdx's.)
///
/// ```ignore
/// impl_attn_model! {
///     impl[const L: usize, E, D] for MyModel<L, E, D>
///     where [E: Dtype, D: Device<E>, Self: TensorCollection<E, D>]
///     input Tensor<(B, Const<L>), usize, D, T>
///     {
///         type Logits<B: Dim> = (B, Const<2>);
///         // meta, try_forward_with, try_input
///     }
/// }
/// ```
macro_rules! impl_attn_model {
    // A sequence-to-sequence model with an inherent `try_decode(src, Option<&[usize]>, opts)` and
    // `try_source_stepper(sources)`, a `src_embedding`, and const sizes named SL, TL and TV.
    (
        seq2seq impl[$($g:tt)*] for $model:ty
        where [$($w:tt)*]
    ) => {
        $crate::model::impl_attn_model! {
            impl[$($g)*] for $model
            where [$($w)*]
            input $crate::model::Seq2SeqInput<B, SL, TL, D, T>
            {
                type Logits<B: Dim> = (B, Const<TL>, Const<TV>);

                fn meta(&self) -> &'static $crate::model::ModelMeta {
                    &S::META
                }

                /// Encodes `input.src` and decodes `TL` steps: teacher-forced from
                /// `input.targets` where `opts` says so (training), greedy otherwise; `tokens`
                /// are the decoder's choices.
                ///
                /// # Errors
                /// [`AttnError::InvalidInput`] for ids outside the vocabularies or lengths that
                /// do not fit.
                fn try_forward_with<B: Dim, T: Tape<E, D> + 'static>(
                    &self,
                    input: $crate::model::Seq2SeqInput<B, SL, TL, D, T>,
                    opts: &$crate::model::ForwardOptions,
                ) -> Result<$crate::model::ModelOutput<(B, Const<TL>, Const<TV>), E, D, T>, AttnError>
                {
                    let targets = input.targets.map(|t| t.as_vec());
                    self.try_decode(input.src, targets.as_deref(), opts)
                }

                fn try_input<T: Tape<E, D> + 'static>(
                    &self,
                    batch: &$crate::model::Batch,
                    tape: T,
                ) -> Result<$crate::model::BatchInput<Self::Input<usize, T>>, AttnError> {
                    $crate::model::seq2seq_input::<SL, TL, E, D, T>(
                        batch,
                        self.src_embedding.weight.device(),
                        &S::META,
                        tape,
                    )
                }

                fn source_stepper(
                    &self,
                    sources: &[&[usize]],
                ) -> Result<Option<Box<dyn $crate::model::SourceStepper<E> + '_>>, AttnError> {
                    Ok(Some(self.try_source_stepper(sources)?))
                }
            }
        }
    };
    (
        impl[$($g:tt)*] for $model:ty
        where [$($w:tt)*]
        input $input:ty
        { $($body:tt)* }
    ) => {
        impl<$($g)*> $crate::model::AttnModel<E, D> for $model
        where
            $($w)*
        {
            type Input<B: Dim, T: Tape<E, D> + 'static> = $input;
            $($body)*
        }

        impl<$($g)*, B: Dim, T: Tape<E, D> + 'static> Module<$input> for $model
        where
            E: Dtype,
            D: Device<E>,
            Self: $crate::model::AttnModel<E, D, Input<B, T> = $input>,
        {
            type Output =
                Tensor<<Self as $crate::model::AttnModel<E, D>>::Logits<B>, E, D, T>;
            type Error = AttnError;

            /// Evaluation mode: no dropout, no padding, greedy decoding.
            fn try_forward(&self, input: $input) -> Result<Self::Output, AttnError> {
                $crate::model::AttnModel::try_forward_t(
                    self,
                    input,
                    $crate::model::Mode::Eval,
                )
            }
        }

        impl<$($g)*, B: Dim, T: Tape<E, D> + 'static> ModuleMut<$input> for $model
        where
            E: Dtype,
            D: Device<E>,
            Self: $crate::model::AttnModel<E, D, Input<B, T> = $input>,
        {
            type Output =
                Tensor<<Self as $crate::model::AttnModel<E, D>>::Logits<B>, E, D, T>;
            type Error = AttnError;

            /// Training mode: the declared dropout, no padding, teacher forcing.
            fn try_forward_mut(&mut self, input: $input) -> Result<Self::Output, AttnError> {
                $crate::model::AttnModel::try_forward_t(
                    &*self,
                    input,
                    $crate::model::Mode::Train,
                )
            }
        }
    };
}
pub(crate) use impl_attn_model;
