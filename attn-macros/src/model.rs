//! The validated model: what a declaration means once every rule has passed.

use std::fmt;

use syn::{Attribute, Ident, Path, Visibility};

pub use attn_spec::{
    Activation, Arch, Cell, DataSet, Norm, Pooling, Positional, RnnAttention, Scoring, TaskKind,
};

/// A declared size: a literal the macro checks, or the path of a `const` item of the user's
/// crate, whose value only the compiler knows (its rules become `const` assertions in the
/// expansion).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Size {
    Lit(usize),
    Const(Path),
}

impl Size {
    /// The value, if the declaration wrote it as a literal.
    pub fn lit(&self) -> Option<usize> {
        match self {
            Size::Lit(n) => Some(*n),
            Size::Const(_) => None,
        }
    }
}

impl fmt::Display for Size {
    /// The size as written: `64`, or the const's path, `WIDTH`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Size::Lit(n) => write!(f, "{n}"),
            Size::Const(p) => {
                let text = quote::ToTokens::to_token_stream(p).to_string();
                f.write_str(&text.replace(' ', ""))
            }
        }
    }
}

impl quote::ToTokens for Size {
    /// As an expression: `64usize` or `{ WIDTH }` (a block, so it is also a const generic
    /// argument).
    fn to_tokens(&self, tokens: &mut proc_macro2::TokenStream) {
        match self {
            Size::Lit(n) => n.to_tokens(tokens),
            Size::Const(p) => tokens.extend(quote::quote!({ #p })),
        }
    }
}

impl Task<Size> {
    /// The task's sizes with their keys, in the order of `TaskKind::fields`.
    pub fn sizes(&self) -> Vec<(&'static str, &Size)> {
        let names = self.kind().fields();
        let values: Vec<&Size> = match self {
            Task::Classify {
                vocab,
                max_len,
                classes,
            } => vec![vocab, max_len, classes],
            Task::Tag {
                vocab,
                max_len,
                tags,
            } => vec![vocab, max_len, tags],
            Task::Seq2Seq {
                src_vocab,
                tgt_vocab,
                src_len,
                tgt_len,
            } => vec![src_vocab, tgt_vocab, src_len, tgt_len],
            Task::ImageClassify {
                channels,
                height,
                width,
                classes,
            } => vec![channels, height, width, classes],
            Task::LanguageModel { vocab, context } => vec![vocab, context],
        };
        names.iter().copied().zip(values).collect()
    }

    /// The task with literal sizes, if every size is one.
    pub fn literal(&self) -> Option<Task<usize>> {
        self.map(|s| s.lit())
    }
}

impl<N> Task<N> {
    /// The same task with every size mapped by `f` (`None` if `f` gives `None` for one).
    pub fn map<M>(&self, f: impl Fn(&N) -> Option<M>) -> Option<Task<M>> {
        Some(match self {
            Task::Classify {
                vocab,
                max_len,
                classes,
            } => Task::Classify {
                vocab: f(vocab)?,
                max_len: f(max_len)?,
                classes: f(classes)?,
            },
            Task::Tag {
                vocab,
                max_len,
                tags,
            } => Task::Tag {
                vocab: f(vocab)?,
                max_len: f(max_len)?,
                tags: f(tags)?,
            },
            Task::Seq2Seq {
                src_vocab,
                tgt_vocab,
                src_len,
                tgt_len,
            } => Task::Seq2Seq {
                src_vocab: f(src_vocab)?,
                tgt_vocab: f(tgt_vocab)?,
                src_len: f(src_len)?,
                tgt_len: f(tgt_len)?,
            },
            Task::ImageClassify {
                channels,
                height,
                width,
                classes,
            } => Task::ImageClassify {
                channels: f(channels)?,
                height: f(height)?,
                width: f(width)?,
                classes: f(classes)?,
            },
            Task::LanguageModel { vocab, context } => Task::LanguageModel {
                vocab: f(vocab)?,
                context: f(context)?,
            },
        })
    }
}

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
    LanguageModel {
        vocab: N,
        context: N,
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
            Task::LanguageModel { .. } => TaskKind::LanguageModel,
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

/// The built-in activations (a name outside them is a type of the user's, see
/// `validate::rules::activation`).
pub const ACTIVATION: Choice = Choice {
    key: "activation",
    options: Activation::BUILT_IN_NAMES,
};
pub const NORM: Choice = Choice {
    key: "norm",
    options: Norm::NAMES,
};
pub const POSITIONAL: Choice = Choice {
    key: "positional",
    options: Positional::NAMES,
};
/// The built-in scorings (a name outside them is a type of the user's).
pub const SCORING: Choice = Choice {
    key: "scoring",
    options: Scoring::BUILT_IN_NAMES,
};
pub const POOLING: Choice = Choice {
    key: "pooling",
    options: Pooling::NAMES,
};
pub const CELL: Choice = Choice {
    key: "cell",
    options: Cell::NAMES,
};
/// The built-in recurrent attentions (a name outside them is a score function of the user's).
pub const RNN_ATTENTION: Choice = Choice {
    key: "attention",
    options: RnnAttention::BUILT_IN_NAMES,
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
    pub task: Task<Size>,
    pub d_model: Size,
    /// 1 for `SingleHead`.
    pub heads: Size,
    /// Encoder layers (1 for `SingleHead`).
    pub layers: Size,
    pub decoder_layers: Size,
    pub ff: Option<Size>,
    /// `Custom` for a type of the user's, which `activation_type` names.
    pub activation: Activation,
    /// The user's activation type (`activation: SquaredRelu`), implementing the runtime's
    /// `Activation` trait.
    pub activation_type: Option<Path>,
    pub norm: Norm,
    pub positional: Positional,
    /// `Custom` for a type of the user's, which `scoring_type` names.
    pub scoring: Scoring,
    /// The user's score function (`scoring: DotOverWidth`) of a single-head model, implementing
    /// the runtime's `ScoreFn` trait.
    pub scoring_type: Option<Path>,
    pub pooling: Pooling,
    pub dropout: f64,
    pub window: Option<Size>,
    pub causal: bool,
    pub patch: Option<Size>,
    pub cell: Option<Cell>,
    pub hidden: Option<Size>,
    pub bidirectional: bool,
    /// `Custom` for a score function of the user's, which `rnn_attention_type` names.
    pub rnn_attention: Option<RnnAttention>,
    /// The user's score function (`attention: DotOverWidth`) of a recurrent decoder,
    /// implementing the runtime's `ScoreFn` trait.
    pub rnn_attention_type: Option<Path>,
    /// Encoder width of a sequence-to-sequence transformer (the decoder's cross-attention key
    /// and value width); `d_model` when not given.
    pub kdim: Option<Size>,
    /// `vdim` as declared (it must equal `kdim`; kept for the `const` check when either is a
    /// path).
    pub vdim: Option<Size>,
    pub tie_embeddings: bool,
}

impl Model {
    /// Every size the declaration gave, with its key (task sizes by their field name).
    pub fn sizes(&self) -> Vec<(&'static str, &Size)> {
        let mut out = vec![
            ("d_model", &self.d_model),
            ("heads", &self.heads),
            ("layers", &self.layers),
        ];
        if self.decoder_layers != Size::Lit(0) {
            out.push(("decoder_layers", &self.decoder_layers));
        }
        for (key, size) in [
            ("ff", &self.ff),
            ("window", &self.window),
            ("patch", &self.patch),
            ("hidden", &self.hidden),
            ("kdim", &self.kdim),
            ("vdim", &self.vdim),
        ] {
            if let Some(s) = size {
                out.push((key, s));
            }
        }
        out.extend(self.task.sizes());
        out
    }
}
