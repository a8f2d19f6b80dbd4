//! A model `attention_model!` cannot declare, built by hand from attn's layers: an LSTM encoder
//! under a transformer decoder. Implementing [`AttnModel`] (its typed input and forward pass),
//! dfdx's `TensorCollection` (its parameters by name) and [`DeclaredModel`] (what it is, as data)
//! is all it takes for attn's commands to train, checkpoint, resume, evaluate, predict with and
//! draw it. Its decoding session ([`AttnModel::source_stepper`]: the sources encoded once, the
//! decoder stepped one token per row over its key/value caches) is optional; it makes beam
//! search fast and is what its own greedy decoding runs on: attn's `DecodingSession` and
//! `CachedRows` do the bookkeeping, the model writes its step.

use attn_runtime::attention::{AttentionMask, AttentionOptions, Projection};
use attn_runtime::dfdx::nn::modules::Embedding;
use attn_runtime::loss::IGNORE;
use attn_runtime::model::{
    seq2seq_input, source_batch, Batch, BatchInput, CachedRows, DecodingSession, LearnedPositions,
    PositionalEncoding, SourceStepper, TaskSpec,
};
use attn_runtime::prelude::*;
use attn_runtime::rnn::Lstm;
use attn_runtime::spec::{Activation, Arch, Cell, DataSet, Norm, Pooling, Positional, Scoring};
use attn_runtime::tape_holder::TapeHolder;
use attn_runtime::tokens::{BOS, PAD};
use attn_runtime::transformer::{FeedForward, Gelu, TransformerDecoder};

/// Source and target vocabularies, lengths, width, heads and feed-forward width.
const SV: usize = 16;
const TV: usize = 16;
const SL: usize = 12;
const TL: usize = 12;
const M: usize = 32;
const HEADS: usize = 2;
const FF: usize = 64;

/// The builder: `dev.build_module::<LstmTransformer, f32>()`, and the registry's
/// `Entry::<LstmTransformer>::NEW`.
pub struct LstmTransformer;

impl DeclaredModel for LstmTransformer {
    const META: ModelMeta = ModelMeta {
        name: "lstm-transformer",
        type_name: "LstmTransformer",
        summary: "Reverses digit sequences with an LSTM encoder under a transformer decoder.",
        data: Some(DataSet::Reverse),
        arch: Arch::Transformer,
        task: TaskSpec::Seq2Seq {
            src_vocab: SV,
            tgt_vocab: TV,
            src_len: SL,
            tgt_len: TL,
        },
        d_model: M,
        heads: HEADS,
        // no encoder self-attention: the attention maps are the decoder's self and cross ones
        layers: 0,
        decoder_layers: 1,
        ff: Some(FF),
        activation: Activation::Gelu,
        norm: Norm::Pre,
        positional: Positional::Learned,
        scoring: Scoring::Scaled,
        pooling: Pooling::Mean,
        dropout: 0.0,
        window: None,
        causal: false,
        patch: None,
        cell: Some(Cell::Lstm),
        hidden: Some(M),
        bidirectional: false,
        rnn_attention: None,
    };
}

impl<D: Device<f32>> BuildOnDevice<D, f32> for LstmTransformer {
    type Built = LstmTransformerModel<f32, D>;
}

/// The built model.
///
/// # Shapes
/// source ids `[B, 12]` (and targets `[B, 12]` to teacher-force) → logits `[B, 12, 16]`;
/// attention `[B, 2, 12, 12]` for the decoder's self-attention and its cross-attention.
///
/// Its parameters are its fields, named as they are (`encoder.weight_ih_l0`, ...):
/// `derive(TensorCollection)` writes the walk that builds, saves, loads and moves them.
#[derive(Clone, Debug, TensorCollection)]
pub struct LstmTransformerModel<E: Dtype, D: Storage<E>> {
    /// Source token embeddings.
    pub src_embedding: Embedding<SV, M, E, D>,
    /// One LSTM layer over the source.
    pub encoder: Lstm<M, M, M, 1, false, E, D>,
    /// Target token embeddings.
    pub tgt_embedding: Embedding<TV, M, E, D>,
    /// Target positions.
    pub tgt_positional: LearnedPositions<TL, M, E, D>,
    /// One pre-norm decoder block attending over the LSTM states.
    pub decoder: TransformerDecoder<M, HEADS, M, FeedForward<M, FF, Gelu, E, D>, 1, true, E, D>,
    /// Decoder states → target logits.
    pub out: Projection<M, TV, E, D, true>,
}

impl<D: Device<f32>> LstmTransformerModel<f32, D> {
    /// The decoder over target inputs `[batch, TL]` and the LSTM states: logits `[batch, TL, TV]`.
    #[allow(clippy::type_complexity)]
    fn try_decode<T: Tape<f32, D> + 'static>(
        &self,
        inputs: Tensor<(usize, Const<TL>), usize, D, T>,
        memory: &Tensor<(usize, Const<SL>, Const<M>), f32, D>,
        opts: [&AttentionOptions; 2],
        attention: &mut Vec<LayerAttention<f32, D>>,
    ) -> Result<Tensor<(usize, Const<TL>, Const<TV>), f32, D, T>, AttnError> {
        let x = self
            .tgt_embedding
            .try_forward(inputs)
            .map_err(AttnError::device)?;
        let x = self.tgt_positional.try_add_positions(x)?;
        let x = self
            .decoder
            .try_decode(x, memory, opts[0], opts[1], attention)?;
        self.out.try_forward_3d(x)
    }

    /// The LSTM's states over `src` (`lengths`: its unpadded lengths): the decoder's memory.
    #[allow(clippy::type_complexity)]
    fn try_memory<B: Dim, T: Tape<f32, D> + 'static>(
        &self,
        src: Tensor<(B, Const<SL>), usize, D, T>,
        lengths: &[usize],
    ) -> Result<Tensor<(usize, Const<SL>, Const<M>), f32, D, T>, AttnError> {
        let batch = src.shape().0.size();
        let x = self
            .src_embedding
            .try_forward(src)
            .map_err(AttnError::device)?;
        let states = self.encoder.try_forward(x, Some(lengths))?.output;
        states
            .try_reshape_like(&(batch, Const::<SL>, Const::<M>))
            .map_err(AttnError::device)
    }

    /// A decoding session over `memory` (the LSTM states of `lengths.len()` sources): each
    /// step embeds one token per row at its position and runs the decoder block on the rows'
    /// key/value caches, which the session keeps following the rows' parents.
    #[allow(clippy::type_complexity)]
    fn try_session(
        &self,
        memory: &Tensor<(usize, Const<SL>, Const<M>), f32, D>,
        lengths: Vec<usize>,
    ) -> Result<
        DecodingSession<
            CachedRows<HEADS, f32, D>,
            impl Fn(&[usize], usize, &mut CachedRows<HEADS, f32, D>) -> Result<Vec<f32>, AttnError> + '_,
        >,
        AttnError,
    > {
        let sources = lengths.len();
        let memory = memory
            .clone()
            .try_reshape_like(&(sources, SL, Const::<M>))
            .map_err(AttnError::device)?;
        let rows = CachedRows {
            caches: self.decoder.try_new_caches(&memory)?,
            self_opts: AttentionOptions::default().mask(AttentionMask::none().causal()),
            cross_opts: AttentionOptions::default()
                .mask(AttentionMask::none().key_lengths(lengths.clone())),
            lengths,
        };
        let dev = memory.device().clone();
        let step = move |tokens: &[usize], t: usize, rows: &mut CachedRows<HEADS, f32, D>| {
            let ids = dev
                .try_tensor_from_vec(tokens.to_vec(), (tokens.len(), 1usize))
                .map_err(AttnError::device)?;
            let x = self
                .tgt_embedding
                .try_forward(ids)
                .map_err(AttnError::device)?;
            let x = self.tgt_positional.try_add_positions_at(x, t)?;
            let x =
                self.decoder
                    .try_step(x, &mut rows.caches, &rows.self_opts, &rows.cross_opts)?;
            Ok(self.out.try_forward_3d(x)?.as_vec())
        };
        Ok(DecodingSession::new(step, rows, sources, TL, TV))
    }

    /// Greedy decoding on the model's own session: each step's choice fed as the next step's
    /// input, one token per sequence and step.
    fn try_greedy_inputs(
        &self,
        memory: &Tensor<(usize, Const<SL>, Const<M>), f32, D>,
        lengths: &[usize],
    ) -> Result<Vec<usize>, AttnError> {
        let batch = lengths.len();
        let mut session = self.try_session(memory, lengths.to_vec())?;
        let rows: Vec<usize> = (0..batch).collect();
        let mut inputs = vec![PAD; batch * TL];
        let mut fed = vec![BOS; batch];
        for t in 0..TL {
            for (b, &token) in fed.iter().enumerate() {
                inputs[b * TL + t] = token;
            }
            if t + 1 < TL {
                let logits = session.try_step(&rows, &fed)?;
                fed = logits.chunks(TV).map(argmax).collect();
            }
        }
        Ok(inputs)
    }
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0
}

impl<D: Device<f32>> AttnModel<f32, D> for LstmTransformerModel<f32, D> {
    type Input<B: Dim, T: Tape<f32, D> + 'static> = Seq2SeqInput<B, SL, TL, D, T>;
    type Logits<B: Dim> = (B, Const<TL>, Const<TV>);

    fn meta(&self) -> &'static ModelMeta {
        &LstmTransformer::META
    }

    fn try_forward_with<B: Dim, T: Tape<f32, D> + 'static>(
        &self,
        input: Seq2SeqInput<B, SL, TL, D, T>,
        opts: &ForwardOptions,
    ) -> Result<ModelOutput<(B, Const<TL>, Const<TV>), f32, D, T>, AttnError> {
        let b = input.src.shape().0;
        let batch = b.size();
        let lengths = opts
            .checked_lengths(batch, SL)?
            .unwrap_or_else(|| vec![SL; batch]);
        let dev = input.src.device().clone();
        let states = self.try_memory(input.src, &lengths)?;
        let (mut tape, memory) = TapeHolder::split(states);

        let base = AttentionOptions {
            need_weights: opts.need_weights,
            training: opts.training(),
            dropout: opts.effective_dropout(LstmTransformer::META.dropout),
            ..AttentionOptions::default()
        };
        let self_opts = base.clone().mask(AttentionMask::none().causal());
        let cross_opts = base.mask(AttentionMask::none().key_lengths(lengths.clone()));
        let both = [&self_opts, &cross_opts];

        // teacher forcing feeds [BOS, target…]; otherwise the decoder feeds itself
        let targets = input.targets.map(|t| t.as_vec());
        let inputs = match targets {
            Some(t) if opts.effective_teacher_forcing() > 0.0 => (0..batch)
                .flat_map(|b| {
                    let row = &t[b * TL..(b + 1) * TL];
                    std::iter::once(BOS).chain(row[..TL - 1].iter().map(|&x| {
                        if x == IGNORE {
                            PAD
                        } else {
                            x
                        }
                    }))
                })
                .collect(),
            _ => self.try_greedy_inputs(&memory, &lengths)?,
        };
        let inputs = dev
            .try_tensor_from_vec(inputs, (batch, Const::<TL>))
            .map_err(AttnError::device)?;
        let mut attention = Vec::new();
        let logits = tape.run(&inputs, |ids| {
            self.try_decode(ids, &memory, both, &mut attention)
        })?;
        let values = logits.as_vec();
        let tokens = values.chunks(TV).map(argmax).collect();
        let logits = tape.run(&logits, |l| {
            l.try_reshape_like(&(b, Const::<TL>, Const::<TV>))
                .map_err(AttnError::device)
        })?;
        if !opts.need_weights {
            attention.clear();
        }
        Ok(ModelOutput {
            logits: tape.finish(logits),
            attention,
            tokens,
        })
    }

    fn try_input<T: Tape<f32, D> + 'static>(
        &self,
        batch: &Batch,
        tape: T,
    ) -> Result<BatchInput<Self::Input<usize, T>>, AttnError> {
        seq2seq_input::<SL, TL, f32, D, T>(
            batch,
            self.src_embedding.weight.device(),
            &LstmTransformer::META,
            tape,
        )
    }

    /// The sources encoded once; each step embeds one token per row at its position and runs
    /// the decoder block on the rows' caches, which the session selects by the beams.
    fn source_stepper(
        &self,
        sources: &[&[usize]],
    ) -> Result<Option<Box<dyn SourceStepper<f32> + '_>>, AttnError> {
        let dev = self.src_embedding.weight.device().clone();
        let (src, lengths) = source_batch::<SL, D>(&dev, sources, SV)?;
        let memory = self.try_memory(src, &lengths)?;
        Ok(Some(Box::new(self.try_session(&memory, lengths)?)))
    }
}
