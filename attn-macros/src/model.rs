//! The validated model: what a declaration means once every rule has passed.

use syn::{Attribute, Ident, Visibility};

pub use attn_spec::{
    Activation, Arch, Cell, DataSet, Norm, Pooling, Positional, RnnAttention, Scoring, TaskKind,
};

/// A task with its sizes (`N`: how a size is held; the size estimate reads them as `u128`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Task<N = usize> {
    Classify {
        vocab: N,
        max_len: N,
        classes: N,
    },
    Tag {
        vocab: N,
        max_len: N,
        tags: N,
    },
    Seq2Seq {
        src_vocab: N,
        tgt_vocab: N,
        src_len: N,
        tgt_len: N,
    },
    ImageClassify {
        channels: N,
        height: N,
        width: N,
        classes: N,
    },
}

impl<N> Task<N> {
    /// The kind of task, without its sizes.
    pub fn kind(&self) -> TaskKind {
        match self {
            Task::Classify { .. } => TaskKind::Classify,
            Task::Tag { .. } => TaskKind::Tag,
            Task::Seq2Seq { .. } => TaskKind::Seq2Seq,
            Task::ImageClassify { .. } => TaskKind::ImageClassify,
        }
    }
}

/// A closed set of names a key can take, e.g. `activation: Gelu`: the key and the spellings of
/// an `attn_spec` enum (its `NAMES`), so the macro accepts exactly the values the runtime has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub key: &'static str,
    pub options: &'static [&'static str],
}

pub const ACTIVATION: Choice = Choice {
    key: "activation",
    options: Activation::NAMES,
};
pub const NORM: Choice = Choice {
    key: "norm",
    options: Norm::NAMES,
};
pub const POSITIONAL: Choice = Choice {
    key: "positional",
    options: Positional::NAMES,
};
pub const SCORING: Choice = Choice {
    key: "scoring",
    options: Scoring::NAMES,
};
pub const POOLING: Choice = Choice {
    key: "pooling",
    options: Pooling::NAMES,
};
pub const CELL: Choice = Choice {
    key: "cell",
    options: Cell::NAMES,
};
pub const RNN_ATTENTION: Choice = Choice {
    key: "attention",
    options: RnnAttention::NAMES,
};

/// A validated declaration, ready for code generation.
pub struct Model {
    pub docs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    /// Registry name, e.g. `sentiment-encoder`.
    pub name: String,
    /// Default dataset, if any.
    pub data: Option<DataSet>,
    pub arch: Arch,
    pub task: Task,
    pub d_model: usize,
    /// 1 for `SingleHead`.
    pub heads: usize,
    /// Encoder layers (1 for `SingleHead`).
    pub layers: usize,
    pub decoder_layers: usize,
    pub ff: Option<usize>,
    pub activation: Activation,
    pub norm: Norm,
    pub positional: Positional,
    pub scoring: Scoring,
    pub pooling: Pooling,
    pub dropout: f64,
    pub window: Option<usize>,
    pub causal: bool,
    pub patch: Option<usize>,
    pub cell: Option<Cell>,
    pub hidden: Option<usize>,
    pub bidirectional: bool,
    pub rnn_attention: Option<RnnAttention>,
    /// Encoder width of a sequence-to-sequence transformer (the decoder's cross-attention key
    /// and value width); `d_model` when not given.
    pub kdim: Option<usize>,
    pub tie_embeddings: bool,
}
