//! What a declared model is, as data: its name, task and hyper-parameters.

use serde::Serialize;

use super::ForwardOptions;
use crate::attention::{AttentionMask, AttentionOptions, Rotary, Scale};
use crate::spec::{
    Activation, Cell, DataSet, Norm, Pooling, Positional, RnnAttention, Scoring, TaskKind,
};

/// The architecture a model was declared with (`attn_spec`'s [`Arch`](crate::spec::Arch)).
pub use crate::spec::Arch as ArchKind;

/// The task a model was declared for, with its sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum TaskSpec {
    /// One label per token sequence.
    Classify {
        /// Vocabulary size (token ids are `0..vocab`).
        vocab: usize,
        /// Longest sequence.
        max_len: usize,
        /// Number of classes.
        classes: usize,
    },
    /// One label per token.
    Tag {
        /// Vocabulary size.
        vocab: usize,
        /// Longest sequence.
        max_len: usize,
        /// Number of tags.
        tags: usize,
    },
    /// A token sequence to a token sequence.
    Seq2Seq {
        /// Source vocabulary size.
        src_vocab: usize,
        /// Target vocabulary size.
        tgt_vocab: usize,
        /// Longest source.
        src_len: usize,
        /// Longest target.
        tgt_len: usize,
    },
    /// One label per image (`[channels, height, width]`, values in `[0, 1]`).
    ImageClassify {
        /// Colour channels.
        channels: usize,
        /// Height in pixels.
        height: usize,
        /// Width in pixels.
        width: usize,
        /// Number of classes.
        classes: usize,
    },
    /// The next token at every position of a window of `context` tokens (a decoder-only
    /// language model).
    LanguageModel {
        /// Vocabulary size (token ids are `0..vocab`; the logits are over it).
        vocab: usize,
        /// Tokens a window holds: the longest prompt the model reads at once.
        context: usize,
    },
}

impl TaskSpec {
    /// The kind of task, without its sizes.
    pub fn kind(&self) -> TaskKind {
        match self {
            TaskSpec::Classify { .. } => TaskKind::Classify,
            TaskSpec::Tag { .. } => TaskKind::Tag,
            TaskSpec::Seq2Seq { .. } => TaskKind::Seq2Seq,
            TaskSpec::ImageClassify { .. } => TaskKind::ImageClassify,
            TaskSpec::LanguageModel { .. } => TaskKind::LanguageModel,
        }
    }

    /// The task's name as written in declarations.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// How many output labels each prediction chooses from.
    pub fn num_labels(&self) -> usize {
        match *self {
            TaskSpec::Classify { classes, .. } | TaskSpec::ImageClassify { classes, .. } => classes,
            TaskSpec::Tag { tags, .. } => tags,
            TaskSpec::Seq2Seq { tgt_vocab, .. } => tgt_vocab,
            TaskSpec::LanguageModel { vocab, .. } => vocab,
        }
    }
}

/// Everything a declaration said, as data, for the CLI, reports and experiments.
///
/// Made by `attention_model!` as `<Model as DeclaredModel>::META`. The options are
/// [`spec`](crate::spec) enums; they serialize as the names declarations use (`"Gelu"`,
/// `"bible-en-es"`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ModelMeta {
    /// Registry name, e.g. `sentiment-encoder`.
    pub name: &'static str,
    /// The Rust type name of the declaration.
    pub type_name: &'static str,
    /// The first line of the declaration's doc comment.
    pub summary: &'static str,
    /// The default dataset.
    pub data: Option<DataSet>,
    /// The architecture.
    pub arch: ArchKind,
    /// The task and its sizes.
    pub task: TaskSpec,
    /// Model width.
    pub d_model: usize,
    /// Attention heads per layer.
    pub heads: usize,
    /// Encoder layers.
    pub layers: usize,
    /// Decoder layers (sequence-to-sequence transformers).
    pub decoder_layers: usize,
    /// Feed-forward width (transformers).
    pub ff: Option<usize>,
    /// Feed-forward activation (transformers).
    pub activation: Activation,
    /// Layer norm placement, `Pre` or `Post` (transformers).
    pub norm: Norm,
    /// Positional encoding.
    pub positional: Positional,
    /// `Dot` or `Scaled` scores (single-head models).
    pub scoring: Scoring,
    /// `Mean` or `Cls` pooling (classifiers).
    pub pooling: Pooling,
    /// Declared dropout (a training run may override it).
    pub dropout: f64,
    /// Local attention window.
    pub window: Option<usize>,
    /// Causal self-attention.
    pub causal: bool,
    /// Patch size (patch models).
    pub patch: Option<usize>,
    /// `Lstm` or `Gru` (recurrent models).
    pub cell: Option<Cell>,
    /// Recurrent hidden size.
    pub hidden: Option<usize>,
    /// Bidirectional recurrent encoder.
    pub bidirectional: bool,
    /// `Additive`, `General` or `Dot` (recurrent models).
    pub rnn_attention: Option<RnnAttention>,
}

impl ModelMeta {
    /// The shape `[B, H, Sq, Sk]` of every attention map a forward pass over a batch of `batch`
    /// returns, in order: `layers` self-attention maps for attention encoders, the decoder's
    /// cross-attention (`[B, 1, tgt_len, src_len]`) or the pooling attention (`[B, 1, 1, len]`)
    /// for recurrent models.
    pub fn attention_shapes(&self, batch: usize) -> Vec<[usize; 4]> {
        match (self.arch, self.task) {
            (
                ArchKind::Recurrent,
                TaskSpec::Seq2Seq {
                    src_len, tgt_len, ..
                },
            ) => vec![[batch, 1, tgt_len, src_len]],
            (ArchKind::Recurrent, TaskSpec::Classify { max_len, .. }) => {
                vec![[batch, 1, 1, max_len]]
            }
            (_, TaskSpec::ImageClassify { height, width, .. }) => {
                let p = self.patch.unwrap_or(1);
                // the class token, when there is one, comes first
                let n = (height / p) * (width / p) + usize::from(self.pooling == Pooling::Cls);
                vec![[batch, self.heads, n, n]; self.layers]
            }
            (
                _,
                TaskSpec::Classify { max_len, .. }
                | TaskSpec::Tag { max_len, .. }
                | TaskSpec::LanguageModel {
                    context: max_len, ..
                },
            ) => {
                vec![[batch, self.heads, max_len, max_len]; self.layers]
            }
            (
                _,
                TaskSpec::Seq2Seq {
                    src_len, tgt_len, ..
                },
            ) => {
                let mut shapes = vec![[batch, self.heads, src_len, src_len]; self.layers];
                for _ in 0..self.decoder_layers {
                    shapes.push([batch, self.heads, tgt_len, tgt_len]);
                    shapes.push([batch, self.heads, tgt_len, src_len]);
                }
                shapes
            }
        }
    }

    /// The attention settings the declaration implies, for sequences of the given key lengths.
    pub fn attention_options(&self, lengths: Option<Vec<usize>>) -> AttentionOptions {
        let mut mask = AttentionMask::none();
        if self.causal {
            mask = mask.causal();
        }
        if let Some(w) = self.window {
            mask = mask.window(w);
        }
        if let Some(lengths) = lengths {
            mask = mask.key_lengths(lengths);
        }
        let scale = match self.scoring {
            // a user's score function scales (or not) by itself
            Scoring::Dot | Scoring::Custom => Scale::Unscaled,
            Scoring::Scaled => Scale::InverseSqrtHeadDim,
        };
        let rotary = (self.positional == Positional::Rotary).then(Rotary::default);
        AttentionOptions {
            rotary,
            ..AttentionOptions::default().mask(mask).scale(scale)
        }
    }

    /// [`Self::attention_options`] for one forward pass under `opts`: weights captured when it
    /// asks for them, and in training the dropout it sets (the declared rate by default).
    pub fn forward_attention_options(
        &self,
        lengths: Option<Vec<usize>>,
        opts: &ForwardOptions,
    ) -> AttentionOptions {
        AttentionOptions {
            need_weights: opts.need_weights,
            training: opts.training(),
            dropout: opts.effective_dropout(self.dropout),
            ..self.attention_options(lengths)
        }
    }

    /// The hyper-parameters as `(name, value)` pairs, in declaration-card order.
    pub fn hyper_parameters(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("arch", format!("{:?}", self.arch)),
            ("task", format!("{:?}", self.task)),
            ("d_model", self.d_model.to_string()),
            ("heads", self.heads.to_string()),
            ("layers", self.layers.to_string()),
            ("positional", self.positional.to_string()),
            ("dropout", self.dropout.to_string()),
        ];
        let optional = [
            (
                "decoder_layers",
                (self.decoder_layers > 0).then(|| self.decoder_layers.to_string()),
            ),
            ("ff", self.ff.map(|f| f.to_string())),
            ("window", self.window.map(|w| w.to_string())),
            ("patch", self.patch.map(|p| p.to_string())),
            ("cell", self.cell.map(|c| c.to_string())),
            ("hidden", self.hidden.map(|h| h.to_string())),
            ("attention", self.rnn_attention.map(|a| a.to_string())),
        ];
        out.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        out
    }
}

/// A model declared with `attention_model!`: its builder type implements this.
pub trait DeclaredModel: 'static {
    /// The declaration as data.
    const META: ModelMeta;

    /// The name of the feed-forward activation: the built-in's (`"Gelu"`), or, where
    /// `META.activation` is [`Custom`](crate::spec::Activation::Custom), the
    /// [`NAME`](crate::transformer::Activation::NAME) of the user's type
    /// (`activation: SquaredRelu`). A separate constant, not a `ModelMeta` field, so that
    /// `ModelMeta` literals written by hand (hand-built models) stay valid.
    const ACTIVATION_NAME: &'static str = Self::META.activation.name();

    /// The name of a single-head model's score function: the built-in's (`"Scaled"`), or, where
    /// `META.scoring` is [`Custom`](crate::spec::Scoring::Custom), the
    /// [`NAME`](crate::model::ScoreFn::NAME) of the user's type (`scoring: DotOverWidth`).
    const SCORING_NAME: &'static str = Self::META.scoring.name();
}
