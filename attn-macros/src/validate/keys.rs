//! The keys a declaration may use: what value each takes and which architectures it applies to.

use crate::model::{
    Arch, Choice, ACTIVATION, CELL, NORM, POOLING, POSITIONAL, RNN_ATTENTION, SCORING,
};

/// What a key's value must be.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// The architecture name.
    Arch,
    /// A `Task { .. }` block.
    Task,
    /// A positive integer.
    Count,
    /// A decimal number (dropout).
    Probability,
    Bool,
    Name(Choice),
}

/// One key of the grammar.
pub struct KeySpec {
    pub name: &'static str,
    pub kind: Kind,
    /// The architectures it applies to; empty = all.
    pub archs: &'static [Arch],
    /// The architectures that cannot do without it.
    pub required_by: &'static [Arch],
}

use Arch::*;

const TOKEN_ENCODERS: &[Arch] = &[SingleHead, SelfAttention, Transformer];
const ATTENTION_STACKS: &[Arch] = &[SelfAttention, PatchAttention, Transformer, Decoder];
/// The architectures built of transformer blocks (attention and a feed-forward network).
const BLOCKS: &[Arch] = &[Transformer, Decoder];

pub const KEYS: &[KeySpec] = &[
    KeySpec {
        name: "arch",
        kind: Kind::Arch,
        archs: &[],
        required_by: &[],
    },
    KeySpec {
        name: "task",
        kind: Kind::Task,
        archs: &[],
        required_by: &[],
    },
    KeySpec {
        name: "d_model",
        kind: Kind::Count,
        archs: &[],
        required_by: &[],
    },
    KeySpec {
        name: "dropout",
        kind: Kind::Probability,
        archs: &[],
        required_by: &[],
    },
    KeySpec {
        name: "heads",
        kind: Kind::Count,
        archs: ATTENTION_STACKS,
        required_by: ATTENTION_STACKS,
    },
    KeySpec {
        name: "layers",
        kind: Kind::Count,
        archs: &[
            SelfAttention,
            PatchAttention,
            Transformer,
            Recurrent,
            Decoder,
        ],
        required_by: &[SelfAttention, PatchAttention, Decoder],
    },
    KeySpec {
        name: "encoder_layers",
        kind: Kind::Count,
        archs: &[Transformer],
        required_by: &[],
    },
    KeySpec {
        name: "decoder_layers",
        kind: Kind::Count,
        archs: &[Transformer],
        required_by: &[],
    },
    KeySpec {
        name: "ff",
        kind: Kind::Count,
        archs: BLOCKS,
        required_by: BLOCKS,
    },
    KeySpec {
        name: "activation",
        kind: Kind::Name(ACTIVATION),
        archs: BLOCKS,
        required_by: &[],
    },
    KeySpec {
        name: "norm",
        kind: Kind::Name(NORM),
        archs: BLOCKS,
        required_by: &[],
    },
    KeySpec {
        name: "positional",
        kind: Kind::Name(POSITIONAL),
        archs: &[
            SingleHead,
            SelfAttention,
            PatchAttention,
            Transformer,
            Decoder,
        ],
        required_by: &[],
    },
    KeySpec {
        name: "scoring",
        kind: Kind::Name(SCORING),
        archs: &[SingleHead],
        required_by: &[],
    },
    KeySpec {
        name: "pooling",
        kind: Kind::Name(POOLING),
        archs: &[SingleHead, SelfAttention, PatchAttention, Transformer],
        required_by: &[],
    },
    KeySpec {
        name: "window",
        kind: Kind::Count,
        archs: &[SingleHead, SelfAttention, Transformer, Decoder],
        required_by: &[],
    },
    KeySpec {
        name: "causal",
        kind: Kind::Bool,
        archs: TOKEN_ENCODERS,
        required_by: &[],
    },
    KeySpec {
        name: "patch",
        kind: Kind::Count,
        archs: &[PatchAttention, Transformer],
        required_by: &[PatchAttention],
    },
    KeySpec {
        name: "cell",
        kind: Kind::Name(CELL),
        archs: &[Recurrent],
        required_by: &[Recurrent],
    },
    KeySpec {
        name: "hidden",
        kind: Kind::Count,
        archs: &[Recurrent],
        required_by: &[Recurrent],
    },
    KeySpec {
        name: "bidirectional",
        kind: Kind::Bool,
        archs: &[Recurrent],
        required_by: &[],
    },
    KeySpec {
        name: "attention",
        kind: Kind::Name(RNN_ATTENTION),
        archs: &[Recurrent],
        required_by: &[Recurrent],
    },
    KeySpec {
        name: "kdim",
        kind: Kind::Count,
        archs: &[Transformer],
        required_by: &[],
    },
    KeySpec {
        name: "vdim",
        kind: Kind::Count,
        archs: &[Transformer],
        required_by: &[],
    },
    KeySpec {
        name: "tie_embeddings",
        kind: Kind::Bool,
        archs: BLOCKS,
        required_by: &[],
    },
];

/// The spec of `name`, if it is a key of the grammar.
pub fn spec(name: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.name == name)
}

/// Whether `key` applies to `arch`.
pub fn applies(key: &KeySpec, arch: Arch) -> bool {
    key.archs.is_empty() || key.archs.contains(&arch)
}

/// A readable list of architectures: "`A`, `B` and `C`".
pub fn arch_list(archs: &[Arch]) -> String {
    let names: Vec<String> = archs.iter().map(|a| format!("`{}`", a.name())).collect();
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}
