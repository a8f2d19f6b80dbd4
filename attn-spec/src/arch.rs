//! `arch:` — the architectures.

use crate::TaskKind;

vocabulary! {
    /// The architecture a declaration chooses with `arch:`.
    pub enum Arch {
        /// One attention head (dot-product or scaled) over token embeddings, then a task head.
        SingleHead = "SingleHead",
        /// A stack of multi-head self-attention layers (residual + layer norm), then a task head.
        SelfAttention = "SelfAttention",
        /// Self-attention over the patches of an image (a small vision transformer).
        PatchAttention = "PatchAttention",
        /// LSTM/GRU encoder(-decoder) with additive or multiplicative attention.
        Recurrent = "Recurrent",
        /// Transformer encoder (over tokens, or over the patches of an image: a vision
        /// transformer), or encoder-decoder.
        Transformer = "Transformer",
        /// A decoder-only transformer (GPT-style): causal self-attention blocks over token
        /// embeddings and an output over the vocabulary, trained to predict the next token.
        Decoder = "Decoder",
    }
}

impl Arch {
    /// The tasks this architecture can be declared for.
    pub const fn tasks(self) -> &'static [TaskKind] {
        use TaskKind::*;
        match self {
            Arch::SingleHead | Arch::SelfAttention => &[Classify, Tag],
            Arch::PatchAttention => &[ImageClassify],
            Arch::Recurrent => &[Classify, Seq2Seq],
            Arch::Transformer => &[Classify, Tag, Seq2Seq, ImageClassify],
            Arch::Decoder => &[LanguageModel],
        }
    }
}
