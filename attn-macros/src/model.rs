//! The validated model: what a declaration means once every rule has passed.

use syn::{Attribute, Ident, Visibility};

/// The architectures a declaration can choose with `arch:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// One attention head (dot-product or scaled) over token embeddings, then a task head.
    SingleHead,
    /// A stack of multi-head self-attention layers (residual + layer norm), then a task head.
    SelfAttention,
    /// Self-attention over the patches of an image (a small vision transformer).
    PatchAttention,
    /// LSTM/GRU encoder(-decoder) with additive or multiplicative attention.
    Recurrent,
    /// Transformer encoder, or encoder-decoder.
    Transformer,
}

impl Arch {
    pub const ALL: [(&'static str, Arch); 5] = [
        ("SingleHead", Arch::SingleHead),
        ("SelfAttention", Arch::SelfAttention),
        ("PatchAttention", Arch::PatchAttention),
        ("Recurrent", Arch::Recurrent),
        ("Transformer", Arch::Transformer),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// The tasks this architecture can be declared for.
    pub fn tasks(self) -> &'static [TaskKind] {
        use TaskKind::*;
        match self {
            Arch::SingleHead | Arch::SelfAttention => &[Classify, Tag],
            Arch::PatchAttention => &[ImageClassify],
            Arch::Recurrent => &[Classify, Seq2Seq],
            Arch::Transformer => &[Classify, Tag, Seq2Seq],
        }
    }
}

/// The task kinds, by the name of their `task:` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    Classify,
    Tag,
    Seq2Seq,
    ImageClassify,
}

impl TaskKind {
    pub const ALL: [(&'static str, TaskKind); 4] = [
        ("Classify", TaskKind::Classify),
        ("Tag", TaskKind::Tag),
        ("Seq2Seq", TaskKind::Seq2Seq),
        ("ImageClassify", TaskKind::ImageClassify),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// The fields of the task block, in the order they are documented.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            TaskKind::Classify => &["vocab", "max_len", "classes"],
            TaskKind::Tag => &["vocab", "max_len", "tags"],
            TaskKind::Seq2Seq => &["src_vocab", "tgt_vocab", "src_len", "tgt_len"],
            TaskKind::ImageClassify => &["channels", "height", "width", "classes"],
        }
    }
}

/// A task with its sizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Task {
    Classify {
        vocab: usize,
        max_len: usize,
        classes: usize,
    },
    Tag {
        vocab: usize,
        max_len: usize,
        tags: usize,
    },
    Seq2Seq {
        src_vocab: usize,
        tgt_vocab: usize,
        src_len: usize,
        tgt_len: usize,
    },
    ImageClassify {
        channels: usize,
        height: usize,
        width: usize,
        classes: usize,
    },
}

/// A closed set of names a key can take, e.g. `activation: Gelu`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub key: &'static str,
    pub options: &'static [&'static str],
}

pub const ACTIVATION: Choice = Choice {
    key: "activation",
    options: &[
        "Relu",
        "Gelu",
        "GeluTanh",
        "Silu",
        "Tanh",
        "Sigmoid",
        "LeakyRelu",
        "Geglu",
        "Swiglu",
    ],
};
pub const NORM: Choice = Choice {
    key: "norm",
    options: &["Pre", "Post"],
};
pub const POSITIONAL: Choice = Choice {
    key: "positional",
    options: &["Sinusoidal", "Learned", "Rotary", "None"],
};
pub const SCORING: Choice = Choice {
    key: "scoring",
    options: &["Dot", "Scaled"],
};
pub const POOLING: Choice = Choice {
    key: "pooling",
    options: &["Mean", "Cls"],
};
pub const CELL: Choice = Choice {
    key: "cell",
    options: &["Lstm", "Gru"],
};
pub const RNN_ATTENTION: Choice = Choice {
    key: "attention",
    options: &["Additive", "General", "Dot"],
};

/// The built-in datasets a declaration can name as its default (`#[data = ".."]`).
pub const DATASETS: &[&str] = &[
    "dates",
    "copy",
    "reverse",
    "sort",
    "digits",
    "sentiment",
    "bible-en-es",
    "fashion-mnist",
];

/// A validated declaration, ready for code generation.
pub struct Model {
    pub docs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    /// Registry name, e.g. `sentiment-encoder`.
    pub name: String,
    /// Default dataset, if any.
    pub data: Option<String>,
    pub arch: Arch,
    pub task: Task,
    pub d_model: usize,
    /// 1 for `SingleHead`.
    pub heads: usize,
    /// Encoder layers (1 for `SingleHead`).
    pub layers: usize,
    pub decoder_layers: usize,
    pub ff: Option<usize>,
    pub activation: &'static str,
    pub norm: &'static str,
    pub positional: &'static str,
    pub scoring: &'static str,
    pub pooling: &'static str,
    pub dropout: f64,
    pub window: Option<usize>,
    pub causal: bool,
    pub patch: Option<usize>,
    pub cell: Option<&'static str>,
    pub hidden: Option<usize>,
    pub bidirectional: bool,
    pub rnn_attention: Option<&'static str>,
    /// Encoder width of a sequence-to-sequence transformer (the decoder's cross-attention key
    /// and value width); `d_model` when not given.
    pub kdim: Option<usize>,
    pub tie_embeddings: bool,
}
